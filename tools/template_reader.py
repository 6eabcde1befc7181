"""Read synthesized CloudFormation templates the way the review tools need them.

The access-wiring check, the cost model, the diagrams, the scaling simulator and the capacity
planner all start from what `cdk synth` wrote, not from the CDK objects: that is what
CloudFormation deploys, after every aspect, default and feature flag. They share this reader
so that a logical id, a `Ref` or an `Fn::Sub` means the same thing in each of them.

A template names most things through intrinsics (`{"Fn::GetAtt": ["OrdersQueue", "Arn"]}`).
`StackTemplate.resolve` turns them into the concrete strings a deployment in a fixed test
account and region would produce (`arn:aws:sqs:eu-west-1:111122223333:...`): deterministic
physical names built from the stack name and logical id where the template sets none. Two
references to one resource always resolve to the same string, which is all the tools need.

    assembly = Assembly.from_directory("cdk.out/sandbox")       # after `cdk synth`
    assembly = synthesize("sandbox")                             # or build the app in-process
    template = assembly.stacks["WriteBuffer"]
    for queue in template.of_type("AWS::SQS::Queue"):
        print(queue.path, template.resolve({"Fn::GetAtt": [queue.logical_id, "Arn"]}))
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "111122223333"
REGION = "eu-west-1"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

# A value that CloudFormation removes (`Ref: AWS::NoValue`); dropped from lists and dicts.
_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass(frozen=True)
class Resource:
    """One resource of a template: its logical id, type, properties and construct path."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    path: str  # the construct path (`aws:cdk:path`), or the logical id if the template has none
    raw: dict[str, Any] = field(repr=False)


class StackTemplate:
    """A synthesized template with its intrinsics resolvable to concrete names and ARNs."""

    def __init__(
        self,
        stack_id: str,
        template: dict[str, Any],
        *,
        stack_name: str | None = None,
        account: str = ACCOUNT,
        region: str = REGION,
        partition: str = PARTITION,
    ) -> None:
        self.stack_id = stack_id
        self.stack_name = stack_name or stack_id
        self.template = template
        self.account, self.region, self.partition = account, region, partition
        self.resources: dict[str, Resource] = {
            logical_id: Resource(
                logical_id=logical_id,
                type=raw["Type"],
                properties=raw.get("Properties", {}),
                path=raw.get("Metadata", {}).get("aws:cdk:path", logical_id),
                raw=raw,
            )
            for logical_id, raw in template.get("Resources", {}).items()
        }
        self._conditions: dict[str, bool] = {}

    # -- finding resources -------------------------------------------------------------------

    def of_type(self, *types: str) -> list[Resource]:
        """Every resource of the given CloudFormation types, in template order."""
        return [r for r in self.resources.values() if r.type in types]

    def at_path(self, path_suffix: str) -> Resource:
        """The one resource whose construct path ends with `/path_suffix` (or equals it)."""
        found = [
            r
            for r in self.resources.values()
            if r.path == path_suffix or r.path.endswith(f"/{path_suffix}")
        ]
        if len(found) != 1:
            raise KeyError(
                f"{self.stack_id}: {len(found)} resources at a path ending {path_suffix!r}"
            )
        return found[0]

    def referenced_ids(self, value: Any) -> list[str]:
        """Logical ids of the resources `value` refers to (Ref, GetAtt, Sub), at any depth,
        sorted: what a tool draws or prints from them must not depend on set order, which
        changes from one Python process to the next."""
        found: set[str] = set()
        for node in _walk(value):
            if isinstance(node, dict) and len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and arg in self.resources:
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) else arg.split(".", 1)[0]
                    if target in self.resources:
                        found.add(target)
                elif key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) else arg
                    for name in _SUB_VARIABLE.findall(text):
                        if name.split(".", 1)[0] in self.resources:
                            found.add(name.split(".", 1)[0])
        return sorted(found)

    def resource_named(self, value: Any) -> Resource | None:
        """The resource a resolved name, ARN or URL (or an unresolved reference) points at."""
        ids = self.referenced_ids(value) if not isinstance(value, str) else []
        if len(ids) == 1:
            return self.resources[ids.pop()]
        if isinstance(value, str):
            for resource in self.resources.values():
                if value in self._names_of(resource):
                    return resource
        return None

    def _names_of(self, resource: Resource) -> set[str]:
        names = {self.ref(resource.logical_id)}
        for attr in ("Arn", "QueueUrl", "QueueName", "TopicArn", "TopicName"):
            names.add(self.get_att(resource.logical_id, attr))
        return names

    # -- resolving intrinsics ----------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by the concrete value it would have."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = _INTRINSICS.get(key)
            if function is not None:
                return function(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def ref(self, name: str) -> str:
        """What `{"Ref": name}` returns: a pseudo parameter, a parameter, or a resource's id."""
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:"
            f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000",
        }
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE  # type: ignore[return-value]
        if name in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][name].get("Default", name))
        resource = self.resources[name]
        return _REF_BY_TYPE.get(resource.type, _default_ref)(self, resource)

    def get_att(self, logical_id: str, attribute: str) -> str:
        """What `{"Fn::GetAtt": [logical_id, attribute]}` returns."""
        resource = self.resources[logical_id]
        arn = self.arn_of(resource)
        by_attribute = {
            "Arn": arn,
            "QueueUrl": self._queue_url(resource),
            "QueueName": self.physical_name(resource),
            "TopicArn": arn,
            "TopicName": self.physical_name(resource),
            "RoleId": f"AROA{logical_id.upper()[:17]}",
            "GroupId": f"sg-{_short_hash(logical_id)}",
            "KeyId": self._key_id(resource),
            "Endpoint.Address": f"{self.physical_name(resource)}.abcdefghijkl.{self.region}.rds.{URL_SUFFIX}",
            "Endpoint.Port": "5432",
            "RootResourceId": f"root{_short_hash(logical_id)}",
            # The IDs an rds-db:connect ARN names (arn:...:dbuser:<id>/<user>).
            "DBClusterResourceId": f"cluster-{_short_hash(logical_id, 26).upper()}",
            "DbiResourceId": f"db-{_short_hash(logical_id, 26).upper()}",
            "MasterUserSecret.SecretArn": f"arn:{self.partition}:secretsmanager:{self.region}:"
            f"{self.account}:secret:rds!{_short_hash(logical_id, 8)}-AbCdEf",
        }
        return by_attribute.get(attribute) or f"{self.physical_name(resource)}.{attribute}"

    def physical_name(self, resource: Resource) -> str:
        """The resource's name: the one its properties set, or one derived from its logical id."""
        name_property = _NAME_PROPERTIES.get(resource.type)
        if name_property and name_property in resource.properties:
            name = self.resolve(resource.properties[name_property])
            if isinstance(name, str):
                return name
        base = f"{self.stack_name}-{resource.logical_id}"
        if resource.type == "AWS::S3::Bucket":
            return base.lower()[:63]
        if resource.type in ("AWS::SQS::Queue", "AWS::SNS::Topic") and self._is_fifo(resource):
            return f"{base}.fifo"
        return base

    def arn_of(self, resource: Resource) -> str:
        """The resource's ARN, in this template's account, region and partition."""
        name = self.physical_name(resource)
        p, r, a = self.partition, self.region, self.account
        arns = {
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/{self._key_id(resource)}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::IAM::ManagedPolicy": f"arn:{p}:iam::{a}:policy/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::Lambda::LayerVersion": f"arn:{p}:lambda:{r}:{a}:layer:{name}:1",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::SecretsManager::Secret": f"arn:{p}:secretsmanager:{r}:{a}:secret:{name}-AbCdEf",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{a}:rule/{name}",
            "AWS::Events::EventBus": f"arn:{p}:events:{r}:{a}:event-bus/{name}",
            "AWS::CloudWatch::Alarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            "AWS::AutoScaling::AutoScalingGroup": f"arn:{p}:autoscaling:{r}:{a}:autoScalingGroup:"
            f"00000000-0000-0000-0000-000000000000:autoScalingGroupName/{name}",
            "AWS::RDS::DBInstance": f"arn:{p}:rds:{r}:{a}:db:{name}",
            "AWS::RDS::DBCluster": f"arn:{p}:rds:{r}:{a}:cluster:{name}",
            "AWS::ApiGateway::RestApi": f"arn:{p}:apigateway:{r}::/restapis/{name}",
            "AWS::WAFv2::WebACL": f"arn:{p}:wafv2:{r}:{a}:regional/webacl/{name}/0000",
        }
        if resource.type == "AWS::SecretsManager::SecretTargetAttachment":
            return self.resolve(resource.properties["SecretId"])
        return arns.get(
            resource.type, f"arn:{p}:{resource.type.split('::')[1].lower()}:{r}:{a}:{name}"
        )

    def _queue_url(self, resource: Resource) -> str:
        return (
            f"https://sqs.{self.region}.{URL_SUFFIX}/{self.account}/{self.physical_name(resource)}"
        )

    def _key_id(self, resource: Resource) -> str:
        digest = _short_hash(f"{self.stack_name}/{resource.logical_id}", 32)
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def _is_fifo(self, resource: Resource) -> bool:
        flag = resource.properties.get("FifoQueue", resource.properties.get("FifoTopic"))
        return flag in (True, "true")

    def condition(self, name: str) -> bool:
        """The value of a template condition (Fn::Equals / Not / And / Or over parameters)."""
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]


def _default_ref(template: StackTemplate, resource: Resource) -> str:
    return template.physical_name(resource)


def _arn_ref(template: StackTemplate, resource: Resource) -> str:
    return template.arn_of(resource)


def _queue_ref(template: StackTemplate, resource: Resource) -> str:
    return template._queue_url(resource)


def _key_ref(template: StackTemplate, resource: Resource) -> str:
    return template._key_id(resource)


# What `Ref` returns, by type, where it is not the physical name (CloudFormation's reference
# page of each resource type says which).
_REF_BY_TYPE = {
    "AWS::SQS::Queue": _queue_ref,
    "AWS::SNS::Topic": _arn_ref,
    "AWS::KMS::Key": _key_ref,
    "AWS::IAM::ManagedPolicy": _arn_ref,
    "AWS::SecretsManager::Secret": _arn_ref,
    "AWS::SecretsManager::SecretTargetAttachment": _arn_ref,
    "AWS::Lambda::LayerVersion": _arn_ref,
    "AWS::StepFunctions::StateMachine": _arn_ref,
}

# The property that names a resource, where the template may set it.
_NAME_PROPERTIES = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::AutoScaling::AutoScalingGroup": "AutoScalingGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::ApiGateway::RestApi": "Name",
}


def _fn_get_att(template: StackTemplate, arg: Any) -> str:
    logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
    return template.get_att(logical_id, template.resolve(attribute))


def _fn_sub(template: StackTemplate, arg: Any) -> str:
    text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
    values = {k: template.resolve(v) for k, v in variables.items()}

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        if "." in name and name.split(".", 1)[0] in template.resources:
            return template.get_att(*name.split(".", 1))
        return str(template.ref(name))

    return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")


def _fn_join(template: StackTemplate, arg: Any) -> str:
    separator, parts = arg
    return separator.join(str(p) for p in template.resolve(parts))


def _fn_select(template: StackTemplate, arg: Any) -> Any:
    index, items = arg
    return template.resolve(items)[int(template.resolve(index))]


def _fn_split(template: StackTemplate, arg: Any) -> list[str]:
    separator, text = arg
    return str(template.resolve(text)).split(separator)


def _fn_get_azs(template: StackTemplate, arg: Any) -> list[str]:
    return [f"{template.region}{zone}" for zone in "abc"]


def _fn_if(template: StackTemplate, arg: Any) -> Any:
    name, when_true, when_false = arg
    return template.resolve(when_true if template.condition(name) else when_false)


def _fn_equals(template: StackTemplate, arg: Any) -> bool:
    left, right = template.resolve(arg)
    return left == right


def _fn_import_value(template: StackTemplate, arg: Any) -> str:
    return f"imported:{template.resolve(arg)}"


def _fn_find_in_map(template: StackTemplate, arg: Any) -> Any:
    name, top, second = (template.resolve(a) for a in arg)
    return template.template["Mappings"][name][top][second]


def _fn_cidr(template: StackTemplate, arg: Any) -> list[str]:
    _, count, _ = arg
    return [f"10.0.{i}.0/24" for i in range(int(template.resolve(count)))]


_INTRINSICS = {
    "Ref": lambda t, arg: t.ref(arg),
    "Fn::GetAtt": _fn_get_att,
    "Fn::Sub": _fn_sub,
    "Fn::Join": _fn_join,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::GetAZs": _fn_get_azs,
    "Fn::If": _fn_if,
    "Fn::Equals": _fn_equals,
    "Fn::Not": lambda t, arg: not t.resolve(arg[0]),
    "Fn::And": lambda t, arg: all(t.resolve(arg)),
    "Fn::Or": lambda t, arg: any(t.resolve(arg)),
    "Condition": lambda t, arg: t.condition(arg),
    "Fn::ImportValue": _fn_import_value,
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Base64": lambda t, arg: t.resolve(arg),
    "Fn::Cidr": _fn_cidr,
}


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _short_hash(text: str, length: int = 12) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass
class Assembly:
    """The stacks of one synthesized app (a cloud assembly folder), by construct id."""

    directory: Path
    stacks: dict[str, StackTemplate]

    @classmethod
    def from_directory(cls, directory: str | Path, **names: str) -> Assembly:
        """Read `manifest.json` and every stack template in a `cdk synth` output folder."""
        directory = Path(directory)
        manifest = json.loads((directory / "manifest.json").read_text())
        stacks = {}
        for stack_id, artifact in manifest["artifacts"].items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            properties = artifact.get("properties", {})
            template = json.loads((directory / properties["templateFile"]).read_text())
            stacks[stack_id] = StackTemplate(
                stack_id, template, stack_name=properties.get("stackName"), **names
            )
        return cls(directory=directory, stacks=stacks)


def synthesize_app(profile: str, outdir: str | Path | None = None, **context: Any):
    """Build this project's app in-process for `profile`, with cdk.json's feature flags (which
    `cdk.App()` does not read; the CLI does), construct paths in the templates' metadata (as the
    CLI writes them), and no cdk-nag. Returns the app and what it wrote."""
    import sys

    for entry in (str(ROOT / "constructs"), str(ROOT)):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    import aws_cdk as cdk

    from app import build_app

    outdir = Path(outdir or tempfile.mkdtemp(prefix=f"cdk-{profile}-"))
    flags = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(
        context={**flags, "aws:cdk:enable-path-metadata": True, "profile": profile, **context},
        outdir=str(outdir),
        builtin_cloud_formation_validation=False,  # as app.py: cfn-lint checks the templates
    )
    build_app(app, nag=False)
    app.synth()
    return app, Assembly.from_directory(outdir)


def synthesize(profile: str, outdir: str | Path | None = None, **context: Any) -> Assembly:
    """The app's stacks for `profile`: what the tools read when no `cdk.out` folder is given."""
    return synthesize_app(profile, outdir, **context)[1]
