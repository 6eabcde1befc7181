"""Access wiring: every request a pattern depends on, evaluated by a real IAM engine, offline.

moto and the embedded PostgreSQL run the code but enforce no policy, so the mistakes that only
show after `cdk deploy` (a topic policy that shuts CloudWatch out, a key SNS may not use, a
role that can read another consumer's queue) need another proof. This reads each synthesized
template (tools/template_reader.py resolves every Ref/GetAtt/Sub to ARNs of a fixed test
account and region), collects its identity policies (inline, customer-managed and the AWS
managed ones it attaches, copied in aws_managed_policies.json) and resource policies (queue,
topic, bucket, key and secret policies, Lambda permissions), and runs requests through
`@cloud-copilot/iam-simulate` (tools/iam_simulate.mjs), which evaluates identity and resource
policies together with condition operators, service principals, cross-account rules and KMS's
key-policy trust.

The requests come from two places:
- the wiring itself, read from the template (`wiring_requests`): every alarm action, SNS
  subscription and its dead-letter queue, S3 notification, event source mapping, API
  integration, schedule and Auto Scaling notification is a request that must be Allowed, with
  twins that must be Denied (no TLS, a foreign SourceArn or SourceAccount, another account,
  a role reaching a queue, table or bucket it is not wired to);
- each pattern's own least-privilege expectations (tools/access_expectations.py).

    python -m tools.access_wiring                     # both profiles, every stack: who can do what
    python -m tools.access_wiring --profile sandbox --stack WriteBuffer --failures-only

Limits of the model, each stated where it matters: requests are evaluated one authorization at
a time (a publish to an encrypted topic is a `sns:Publish` and a `kms:GenerateDataKey`); which
context keys a service sends (aws:SourceArn, aws:SourceAccount, kms:ViaService) follows AWS's
documentation of that integration; SCPs, permission boundaries and VPC endpoint policies are
not part of these stacks and are not modelled.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.template_reader import ACCOUNT, ROOT, Resource, StackTemplate, synthesize

FOREIGN_ACCOUNT = "999988887777"
INTRUDER = f"arn:aws:iam::{FOREIGN_ACCOUNT}:role/intruder"
AUTOSCALING_SERVICE_LINKED_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)
MANAGED_POLICIES = json.loads((Path(__file__).with_name("aws_managed_policies.json")).read_text())
SIMULATOR = Path(__file__).with_name("iam_simulate.mjs")
ALLOWED, DENIED = "Allowed", "Denied"
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# Actions whose resource type carries a TLS-only Deny in every stack here.
TLS_SERVICES = ("sqs", "sns", "s3")


@dataclass(frozen=True)
class Request:
    """One authorization: `principal` does `action` on `resource`, which must be `expect`ed."""

    why: str
    principal: str
    action: str
    resource: str
    expect: str = ALLOWED
    context: tuple[tuple[str, Any], ...] = ()

    def with_context(self, **changes: Any) -> Request:
        merged = dict(self.context) | {k.replace("__", ":"): v for k, v in changes.items()}
        return replace(self, context=tuple(merged.items()))

    def context_value(self, key: str) -> Any:
        return dict(self.context).get(key)


@dataclass
class Verdict:
    """What the engine answered for one request, and whether that is what the pattern needs."""

    request: Request
    result: str  # Allowed, ExplicitlyDenied, ImplicitlyDenied, or Error
    deciding: list[dict[str, Any]] = field(default_factory=list)
    errors: Any = None

    @property
    def ok(self) -> bool:
        if self.errors:
            return False
        return (self.result == ALLOWED) == (self.request.expect == ALLOWED)

    def explain(self) -> str:
        r = self.request
        context = ", ".join(f"{k}={v}" for k, v in r.context if k != "aws:SecureTransport")
        tls = dict(r.context).get("aws:SecureTransport", "true")
        decided = "; ".join(
            f"{d['effect']} in {d['policy']}"
            + (f" (Sid {d['sid']})" if d.get("sid") else f" (statement {d.get('index')})")
            for d in self.deciding
        )
        if self.errors:
            decided = f"simulation error: {self.errors.get('message', self.errors)}"
        elif not decided:
            decided = "no statement allows it"
        return (
            f"{'ok  ' if self.ok else 'FAIL'} expected {r.expect}, got {self.result}: {r.why}\n"
            f"     principal {r.principal}\n     action    {r.action}\n"
            f"     resource  {r.resource}\n     context   TLS={tls}"
            + (f", {context}" if context else "")
            + f"\n     decided by: {decided}"
        )


class AccessModel:
    """The policies of one stack: identity policies by principal, resource policies by ARN."""

    def __init__(self, template: StackTemplate) -> None:
        self.template = template
        self.identity: dict[str, list[tuple[str, dict]]] = {}
        self.resource_policies: dict[str, dict] = {}
        self.roles: dict[str, str] = {}  # logical id -> role ARN
        self._collect_identity()
        self._collect_resource_policies()
        self.add_identity(INTRUDER, "AdministratorAccess (another account)", ADMIN)
        self.add_identity(
            AUTOSCALING_SERVICE_LINKED_ROLE,
            "AutoScalingServiceRolePolicy",
            self._aws_managed(
                "arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy"
            ),
        )

    # -- reading the template ----------------------------------------------------------------

    def arn(self, resource: Resource | str) -> str:
        if isinstance(resource, str):
            resource = self.template.at_path(resource)
        return self.template.arn_of(resource)

    def add_identity(self, principal: str, name: str, document: dict) -> None:
        self.identity.setdefault(principal, []).append((name, document))

    def _aws_managed(self, arn: str) -> dict:
        generic = arn.replace(f":{self.template.partition}:", ":aws:")
        if generic not in MANAGED_POLICIES:
            raise KeyError(
                f"{arn} is attached in {self.template.stack_id} but not copied into "
                "tools/aws_managed_policies.json; add its document from the AWS Managed Policy "
                "Reference so that the access check can evaluate it"
            )
        return MANAGED_POLICIES[generic]["document"]

    def _collect_identity(self) -> None:
        t = self.template
        for role in t.of_type("AWS::IAM::Role"):
            arn = t.arn_of(role)
            self.roles[role.logical_id] = arn
            self.identity.setdefault(arn, [])
            for inline in role.properties.get("Policies", []):
                self.add_identity(arn, inline["PolicyName"], t.resolve(inline["PolicyDocument"]))
            for managed in t.resolve(role.properties.get("ManagedPolicyArns", [])):
                self._attach_managed(arn, managed)
        for policy in t.of_type("AWS::IAM::Policy"):
            document = t.resolve(policy.properties["PolicyDocument"])
            for role_name in t.resolve(policy.properties.get("Roles", [])):
                self.add_identity(self._role_arn_named(role_name), policy.path, document)
        for policy in t.of_type("AWS::IAM::ManagedPolicy"):
            document = t.resolve(policy.properties["PolicyDocument"])
            for role_name in t.resolve(policy.properties.get("Roles", [])):
                self.add_identity(self._role_arn_named(role_name), policy.path, document)

    def _attach_managed(self, role_arn: str, policy_arn: str) -> None:
        for policy in self.template.of_type("AWS::IAM::ManagedPolicy"):
            if self.template.arn_of(policy) == policy_arn:
                document = self.template.resolve(policy.properties["PolicyDocument"])
                self.add_identity(role_arn, policy.path, document)
                return
        self.add_identity(role_arn, policy_arn.rsplit("/", 1)[-1], self._aws_managed(policy_arn))

    def _role_arn_named(self, name: str) -> str:
        for arn in self.roles.values():
            if arn.endswith(f"/{name}"):
                return arn
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def _collect_resource_policies(self) -> None:
        t = self.template
        for policy in t.of_type("AWS::SQS::QueuePolicy"):
            for queue in policy.properties["Queues"]:
                self._add_resource_policy(
                    self._arn_of_ref(queue), policy.properties["PolicyDocument"]
                )
        for policy in t.of_type("AWS::SNS::TopicPolicy"):
            for topic in policy.properties["Topics"]:
                self._add_resource_policy(
                    self._arn_of_ref(topic), policy.properties["PolicyDocument"]
                )
        for policy in t.of_type("AWS::S3::BucketPolicy"):
            bucket = t.resolve(policy.properties["Bucket"])
            self._add_resource_policy(f"arn:aws:s3:::{bucket}", policy.properties["PolicyDocument"])
        for key in t.of_type("AWS::KMS::Key"):
            self._add_resource_policy(t.arn_of(key), key.properties["KeyPolicy"])
        for policy in t.of_type("AWS::SecretsManager::ResourcePolicy"):
            self._add_resource_policy(
                t.resolve(policy.properties["SecretId"]), policy.properties["ResourcePolicy"]
            )
        for permission in t.of_type("AWS::Lambda::Permission"):
            function = self._arn_of_ref(permission.properties["FunctionName"])
            self._add_lambda_permission(function, permission)

    def _arn_of_ref(self, reference: Any) -> str:
        resource = self.template.resource_named(reference)
        if resource is None:
            return self.template.resolve(reference)
        return self.template.arn_of(resource)

    def _add_resource_policy(self, arn: str, document: Any) -> None:
        resolved = self.template.resolve(document)
        existing = self.resource_policies.get(arn)
        if existing:  # two policy resources on one queue: CloudFormation keeps the last one
            raise ValueError(f"{self.template.stack_id}: two resource policies for {arn}")
        self.resource_policies[arn] = resolved

    def _add_lambda_permission(self, function_arn: str, permission: Resource) -> None:
        p = self.template.resolve(permission.properties)
        principal = p["Principal"]
        statement: dict[str, Any] = {
            "Sid": permission.logical_id,
            "Effect": "Allow",
            "Principal": {"Service": principal}
            if principal.endswith(".amazonaws.com")
            else {"AWS": principal},
            "Action": p["Action"],
            "Resource": function_arn,
        }
        condition: dict[str, dict[str, str]] = {}
        if "SourceArn" in p:
            condition["ArnLike"] = {"aws:SourceArn": p["SourceArn"]}
        if "SourceAccount" in p:
            condition["StringEquals"] = {"aws:SourceAccount": p["SourceAccount"]}
        if condition:
            statement["Condition"] = condition
        policy = self.resource_policies.setdefault(
            function_arn, {"Version": "2012-10-17", "Statement": []}
        )
        policy["Statement"].append(statement)

    def resource_policy_for(self, resource_arn: str) -> dict | None:
        if resource_arn in self.resource_policies:
            return self.resource_policies[resource_arn]
        if resource_arn.startswith("arn:aws:s3:::") and "/" in resource_arn:
            return self.resource_policies.get(resource_arn.split("/", 1)[0])
        return None

    # -- running -----------------------------------------------------------------------------

    def simulation(self, request: Request) -> dict[str, Any]:
        resource_account = _account_of(request.resource) or ACCOUNT
        simulation: dict[str, Any] = {
            "request": {
                "principal": request.principal,
                "action": request.action,
                "resource": {"resource": request.resource, "accountId": resource_account},
                "contextVariables": _context(request),
            },
            "identityPolicies": [
                {"name": name, "policy": document}
                for name, document in self.identity.get(request.principal, [])
            ],
            "serviceControlPolicies": [],
            "resourceControlPolicies": [],
        }
        policy = self.resource_policy_for(request.resource)
        if policy is not None:
            simulation["resourcePolicy"] = policy
        return simulation


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _context(request: Request) -> dict[str, Any]:
    context: dict[str, Any] = {"aws:SecureTransport": "true"}
    if request.principal.startswith("arn:"):
        context["aws:PrincipalArn"] = request.principal
        context["aws:PrincipalAccount"] = _account_of(request.principal) or ACCOUNT
    context.update(dict(request.context))
    return {k: v for k, v in context.items() if v is not None}


def simulate(pairs: Sequence[tuple[AccessModel, Request]]) -> list[Verdict]:
    """Evaluate every (model, request) pair in one run of the engine."""
    if not pairs:
        return []
    simulations = [model.simulation(request) for model, request in pairs]
    process = subprocess.run(
        ["node", str(SIMULATOR)],
        input=json.dumps(simulations),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(
            f"the IAM simulator failed (is `npm ci` done?): {process.stderr.strip()[-2000:]}"
        )
    answers = json.loads(process.stdout)
    return [
        Verdict(
            request=request,
            result=a["result"],
            deciding=a["deciding"],
            errors=a["errors"],
        )
        for (_, request), a in zip(pairs, answers, strict=True)
    ]


# -- requests read from the wiring ---------------------------------------------------------


def service_request(
    why: str, service: str, action: str, resource: str, source_arn: str | None, **context: Any
) -> Request:
    """A request an AWS service makes on behalf of one of this stack's resources."""
    return Request(why, service, action, resource).with_context(
        aws__SourceAccount=ACCOUNT, aws__SourceArn=source_arn, **context
    )


def key_of(template: StackTemplate, resource: Resource) -> Resource | None:
    """The customer-managed key in this template that encrypts a queue, topic or bucket."""
    p = resource.properties
    reference = p.get("KmsMasterKeyId")
    if reference is None:
        rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        for rule in rules:
            reference = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
    if reference is None:
        return None
    found = template.resource_named(reference)
    return found if found is not None and found.type == "AWS::KMS::Key" else None


def _with_twins(
    request: Request, *, tls: bool = True, source: bool = False, exact_source: bool = False
) -> list[Request]:
    """The request, and the variants of it that must be refused: without TLS; (`source`) on
    behalf of a resource in another account; (`exact_source`) on behalf of another resource of
    this account, where the grant names one source (a topic, a bucket, a rule) rather than all
    of the account's (alarms)."""
    twins = [request]
    service = request.action.split(":")[0]
    if tls and service in TLS_SERVICES:
        twins.append(
            replace(request, why=f"{request.why}, without TLS", expect=DENIED).with_context(
                aws__SecureTransport="false"
            )
        )
    source_arn = request.context_value("aws:SourceArn")
    if source:
        foreign = replace(request, why=f"{request.why}, for another account", expect=DENIED)
        changes = {"aws__SourceAccount": FOREIGN_ACCOUNT}
        if source_arn and _account_of(source_arn):  # a bucket ARN names no account
            changes["aws__SourceArn"] = source_arn.replace(f":{ACCOUNT}:", f":{FOREIGN_ACCOUNT}:")
        twins.append(foreign.with_context(**changes))
    if exact_source and source_arn:
        twins.append(
            replace(
                request, why=f"{request.why}, for another source in this account", expect=DENIED
            ).with_context(aws__SourceArn=_renamed(source_arn))
        )
    return twins


def _renamed(arn: str) -> str:
    """The same kind of ARN in the same account, naming a resource that is not this stack's."""
    separator = "/" if "/" in arn.split(":", 5)[-1] else ":"
    head, _, name = arn.rpartition(separator)
    if arn.startswith("arn:aws:s3:::"):
        head, name = "arn:aws:s3::", arn.split(":::", 1)[1]
        return f"{head}:someone-elses-{name}"
    return f"{head}{separator}someone-elses-{name}"


def _encrypted_delivery(
    model: AccessModel,
    why: str,
    service: str,
    target: Resource,
    source_arn: str | None,
    exact_source: bool = True,
) -> list[Request]:
    """A service writing into an encrypted queue or topic also needs the key (SQS and SNS call
    GenerateDataKey and Decrypt for it)."""
    key = key_of(model.template, target)
    if key is None:
        return []
    requests = []
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        requests += _with_twins(
            service_request(
                f"{why}: {action} on its key", service, action, model.arn(key), source_arn
            ),
            source=source_arn is not None,
            exact_source=exact_source,
        )
    return requests


def _delivery(
    model: AccessModel,
    why: str,
    service: str,
    action: str,
    destination: Resource | None,
    destination_arn: str,
    source_arn: str,
    *,
    exact_source: bool = True,
    key_sees_source: bool = True,
) -> list[Request]:
    """A service delivering into one of this stack's queues or topics on behalf of a source
    (an alarm, a topic, a bucket, a rule): the delivery and, on an encrypted destination, its
    key, each with the twins that must be refused."""
    requests = _with_twins(
        service_request(why, service, action, destination_arn, source_arn),
        source=True,
        exact_source=exact_source,
    )
    if destination is not None:
        requests += _encrypted_delivery(
            model,
            why,
            service,
            destination,
            source_arn if key_sees_source else None,
            exact_source=exact_source,
        )
    return requests


def _role_delivery(
    model: AccessModel, why: str, role: str, action: str, destination: Resource
) -> list[Request]:
    """A role sending to a queue or publishing to a topic: the request, its TLS twin, and on an
    encrypted destination the two key actions, through that service only."""
    via = action.split(":")[0]
    return _with_twins(Request(why, role, action, model.arn(destination))) + _role_key_use(
        model, why, role, destination, ["kms:GenerateDataKey", "kms:Decrypt"], via
    )


def _role_key_use(
    model: AccessModel, why: str, role: str, target: Resource, actions: Iterable[str], via: str
) -> list[Request]:
    key = key_of(model.template, target)
    if key is None:
        return []
    return [
        Request(f"{why}: {action} on its key", role, action, model.arn(key)).with_context(
            kms__ViaService=f"{via}.{model.template.region}.amazonaws.com",
            kms__CallerAccount=ACCOUNT,
        )
        for action in actions
    ]


def wiring_requests(model: AccessModel) -> list[Request]:
    """Every request the template's own wiring implies, with the twins that must be refused."""
    t = model.template
    requests: list[Request] = []
    requests += _alarm_requests(model)
    requests += _subscription_requests(model)
    requests += _notification_requests(model)
    requests += _event_source_requests(model)
    requests += _api_integration_requests(model)
    requests += _schedule_requests(model)
    requests += _auto_scaling_notification_requests(model)
    requests += _log_requests(model)
    requests += _log_key_requests(model)
    requests += _foreign_account_requests(model)
    requests += _unwired_requests(model)
    assert all(r.principal for r in requests), t.stack_id
    return requests


def _alarm_requests(model: AccessModel) -> list[Request]:
    t = model.template
    requests = []
    for alarm in t.of_type("AWS::CloudWatch::Alarm"):
        actions = {
            a
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
            for a in t.resolve(alarm.properties.get(key, []))
        }
        for action in sorted(actions):
            topic = t.resource_named(action)
            if topic is None or topic.type != "AWS::SNS::Topic":
                continue
            why = f"alarm {alarm.path} notifies {topic.path}"
            requests += _delivery(
                model,
                why,
                "cloudwatch.amazonaws.com",
                "sns:Publish",
                topic,
                action,
                model.arn(alarm),
                exact_source=False,  # any of this account's alarms may notify it
            )
    return requests


def _subscription_requests(model: AccessModel) -> list[Request]:
    t = model.template
    requests = []
    for subscription in t.of_type("AWS::SNS::Subscription"):
        p = subscription.properties
        if p.get("Protocol") != "sqs":
            continue
        topic_arn = t.resolve(p["TopicArn"])
        targets = [("delivers", t.resolve(p["Endpoint"]))]
        redrive = p.get("RedrivePolicy")
        if redrive:
            targets.append(
                ("parks undeliverable messages in", t.resolve(redrive["deadLetterTargetArn"]))
            )
        for verb, queue_arn in targets:
            queue = t.resource_named(queue_arn)
            why = f"SNS {verb} {queue.path if queue else queue_arn} ({subscription.path})"
            requests += _delivery(
                model, why, "sns.amazonaws.com", "sqs:SendMessage", queue, queue_arn, topic_arn
            )
    return requests


def _notification_requests(model: AccessModel) -> list[Request]:
    t = model.template
    requests = []
    for notifications in t.of_type("Custom::S3BucketNotifications"):
        bucket_name = t.resolve(notifications.properties["BucketName"])
        bucket_arn = f"arn:aws:s3:::{bucket_name}"
        configuration = t.resolve(notifications.properties["NotificationConfiguration"])
        for target in configuration.get("QueueConfigurations", []):
            queue = t.resource_named(target["QueueArn"])
            why = f"S3 notifies {queue.path} of uploads to {bucket_name}"
            requests += _delivery(
                model,
                why,
                "s3.amazonaws.com",
                "sqs:SendMessage",
                queue,
                target["QueueArn"],
                bucket_arn,
            )
    return requests


def _function_role(model: AccessModel, function_ref: Any) -> tuple[Resource, str]:
    t = model.template
    function = t.resource_named(function_ref)
    role = t.resource_named(function.properties["Role"])
    return function, model.roles[role.logical_id]


def _event_source_requests(model: AccessModel) -> list[Request]:
    t = model.template
    requests = []
    for mapping in t.of_type("AWS::Lambda::EventSourceMapping"):
        queue = t.resource_named(mapping.properties["EventSourceArn"])
        if queue is None or queue.type != "AWS::SQS::Queue":
            continue
        function, role = _function_role(model, mapping.properties["FunctionName"])
        why = f"Lambda polls {queue.path} for {function.path}"
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            requests += _with_twins(Request(why, role, action, model.arn(queue)))
        requests += _role_key_use(model, why, role, queue, ["kms:Decrypt"], "sqs")
    return requests


def _api_integration_requests(model: AccessModel) -> list[Request]:
    t = model.template
    requests = []
    for method in t.of_type("AWS::ApiGateway::Method"):
        integration = method.properties.get("Integration", {})
        if "Credentials" not in integration:
            continue
        uri = t.resolve(integration["Uri"])
        if ":sqs:path/" not in uri:
            continue
        queue_name = uri.rsplit("/", 1)[-1]
        queue = next(q for q in t.of_type("AWS::SQS::Queue") if t.physical_name(q) == queue_name)
        role = t.resolve(integration["Credentials"])
        why = f"API Gateway ({method.path}) sends each valid request to {queue.path}"
        requests += _role_delivery(model, why, role, "sqs:SendMessage", queue)
    return requests


def _schedule_requests(model: AccessModel) -> list[Request]:
    """EventBridge rules invoking a function or sending to a queue, and their targets' DLQs."""
    t = model.template
    requests = []
    for rule in t.of_type("AWS::Events::Rule"):
        rule_arn = model.arn(rule)
        for target in rule.properties.get("Targets", []):
            deliveries = []
            resource = t.resource_named(target["Arn"])
            if resource is not None and resource.type == "AWS::Lambda::Function":
                deliveries.append(("invokes", "lambda:InvokeFunction", resource))
            elif resource is not None and resource.type == "AWS::SQS::Queue":
                deliveries.append(("sends to", "sqs:SendMessage", resource))
            if resource is not None and resource.type == "AWS::StepFunctions::StateMachine":
                role = t.resolve(target["RoleArn"])
                requests.append(
                    Request(
                        f"EventBridge rule {rule.path} starts {resource.path}",
                        role,
                        "states:StartExecution",
                        model.arn(resource),
                    )
                )
            dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
            if dead_letter:
                dlq = t.resource_named(dead_letter)
                deliveries.append(("parks what it could not deliver in", "sqs:SendMessage", dlq))
            for verb, action, destination in deliveries:
                requests += _delivery(
                    model,
                    f"EventBridge rule {rule.path} {verb} {destination.path}",
                    "events.amazonaws.com",
                    action,
                    destination,
                    model.arn(destination),
                    rule_arn,
                    # EventBridge's delivery requests to KMS carry no aws:SourceArn or
                    # aws:SourceAccount, as AWS's own MDAA constructs note (https://aws.github.io/
                    # modern-data-architecture-accelerator/typedocs/functions/_aws-mdaa_cloudwatch-constructs.grantCloudWatchAlarmsTopicAccess.html),
                    # so a key policy conditioned on them would refuse every event.
                    key_sees_source=False,
                )
    return requests


def _auto_scaling_notification_requests(model: AccessModel) -> list[Request]:
    t = model.template
    requests = []
    for group in t.of_type("AWS::AutoScaling::AutoScalingGroup"):
        for notification in group.properties.get("NotificationConfigurations", []):
            topic = t.resource_named(notification["TopicARN"])
            why = f"Auto Scaling reports {group.path} launches and terminations to {topic.path}"
            requests += _role_delivery(
                model, why, AUTOSCALING_SERVICE_LINKED_ROLE, "sns:Publish", topic
            )
    return requests


def _log_requests(model: AccessModel) -> list[Request]:
    t = model.template
    requests = []
    for function in t.of_type("AWS::Lambda::Function"):
        log_group = function.properties.get("LoggingConfig", {}).get("LogGroup")
        if log_group is None:
            continue
        _, role = _function_role(model, {"Ref": function.logical_id})
        name = t.resolve(log_group)
        stream = (
            f"arn:aws:logs:{t.region}:{ACCOUNT}:log-group:{name}:log-stream:2026/01/01/[$LATEST]0"
        )
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            requests.append(
                Request(f"{function.path} writes its own log group", role, action, stream)
            )
    return requests


def _log_key_requests(model: AccessModel) -> list[Request]:
    """CloudWatch Logs encrypts a log group with its key, for that log group only: the service
    names the log group in the encryption context
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)."""
    t = model.template
    requests = []
    for group in t.of_type("AWS::Logs::LogGroup"):
        if "KmsKeyId" not in group.properties:
            continue
        key = t.resource_named(group.properties["KmsKeyId"])
        arn = model.arn(group).removesuffix(":*")
        service = f"logs.{t.region}.amazonaws.com"
        why = f"CloudWatch Logs encrypts {group.path}"
        for action in ("kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"):
            request = Request(why, service, action, model.arn(key)).with_context(
                kms__EncryptionContext__aws__logs__arn=arn
            )
            foreign = arn.replace(f":{ACCOUNT}:", f":{FOREIGN_ACCOUNT}:")
            requests += [
                request,
                replace(
                    request, why=f"{why}, for another account's log group", expect=DENIED
                ).with_context(kms__EncryptionContext__aws__logs__arn=foreign),
            ]
    return requests


def _foreign_account_requests(model: AccessModel) -> list[Request]:
    """Another account, however much its own policies allow, reaches nothing here."""
    checks = {
        "AWS::SQS::Queue": ["sqs:SendMessage", "sqs:ReceiveMessage"],
        "AWS::SNS::Topic": ["sns:Publish"],
        "AWS::S3::Bucket": ["s3:PutObject"],
        "AWS::KMS::Key": ["kms:Decrypt"],
        "AWS::Lambda::Function": ["lambda:InvokeFunction"],
    }
    return _refusals(model, INTRUDER, checks, lambda r: f"another account reaches {r.path}")


def _refusals(
    model: AccessModel,
    principal: str,
    checks: dict[str, list[str]],
    why: Callable[[Resource], str],
    skip: Callable[[Resource], bool] = lambda resource: False,
) -> list[Request]:
    """Denied requests: `principal` doing each action of `checks` ({type: actions}) on every
    resource of that type in the stack (an object key for a bucket), but the ones `skip`s."""
    requests = []
    for type_, actions in checks.items():
        for resource in model.template.of_type(type_):
            if skip(resource):
                continue
            arn = model.arn(resource)
            if type_ == "AWS::S3::Bucket":
                arn = f"{arn}/any-key"
            requests += [Request(why(resource), principal, a, arn, DENIED) for a in actions]
    return requests


def wired_resources(model: AccessModel) -> dict[str, set[str]]:
    """Role ARN -> logical ids of the resources its compute is configured with (a function's
    environment and event sources, an instance's launch template, an API integration)."""
    t = model.template
    wired: dict[str, set[str]] = {}
    for function in t.of_type("AWS::Lambda::Function"):
        _, role = _function_role(model, {"Ref": function.logical_id})
        wired.setdefault(role, set()).update(
            t.referenced_ids(function.properties.get("Environment", {}))
        )
    for mapping in t.of_type("AWS::Lambda::EventSourceMapping"):
        _, role = _function_role(model, mapping.properties["FunctionName"])
        wired.setdefault(role, set()).update(t.referenced_ids(mapping.properties["EventSourceArn"]))
    for invoke_config in t.of_type("AWS::Lambda::EventInvokeConfig"):
        _, role = _function_role(model, invoke_config.properties["FunctionName"])
        destinations = invoke_config.properties.get("DestinationConfig", {})
        wired.setdefault(role, set()).update(t.referenced_ids(destinations))
    for template in t.of_type("AWS::EC2::LaunchTemplate"):
        data = template.properties.get("LaunchTemplateData", {})
        profile = t.resource_named(data.get("IamInstanceProfile", {}).get("Arn"))
        if profile is None:
            continue
        for role_ref in profile.properties.get("Roles", []):
            role = model.roles[t.resource_named(role_ref).logical_id]
            wired.setdefault(role, set()).update(t.referenced_ids(data.get("UserData", {})))
    return wired


def _unwired_requests(model: AccessModel) -> list[Request]:
    """A role reaches only the queues, tables and buckets its own compute is configured with."""
    t = model.template
    checks = {
        "AWS::SQS::Queue": ["sqs:ReceiveMessage", "sqs:SendMessage", "sqs:DeleteMessage"],
        "AWS::DynamoDB::Table": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        "AWS::S3::Bucket": ["s3:GetObject", "s3:PutObject"],
        "AWS::SecretsManager::Secret": ["secretsmanager:GetSecretValue"],
    }
    requests = []
    for role, wired in wired_resources(model).items():

        def why(resource: Resource, role: str = role) -> str:
            return f"{_role_name(role)} is not wired to {resource.path}"

        def is_wired(resource: Resource, wired: set[str] = wired) -> bool:
            return resource.logical_id in wired or _wired_through(t, resource, wired)

        requests += _refusals(model, role, checks, why, is_wired)
    return requests


def _wired_through(t: StackTemplate, resource: Resource, wired: set[str]) -> bool:
    """A secret is wired when its attachment is (an instance reads the attachment's ARN)."""
    for attachment in t.of_type("AWS::SecretsManager::SecretTargetAttachment"):
        if attachment.logical_id in wired and resource.logical_id in t.referenced_ids(
            attachment.properties["SecretId"]
        ):
            return True
    return False


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


# -- running and printing ------------------------------------------------------------------


def check_stack(template: StackTemplate, profile: str) -> tuple[AccessModel, list[Request]]:
    """The model of one stack and every request to evaluate for it."""
    from tools.access_expectations import expected_requests

    model = AccessModel(template)
    requests = wiring_requests(model) + expected_requests(model, profile)
    return model, _unique(requests)


def _unique(requests: Iterable[Request]) -> list[Request]:
    seen: dict[tuple, Request] = {}
    for r in requests:
        seen.setdefault((r.principal, r.action, r.resource, json.dumps(r.context), r.expect), r)
    return list(seen.values())


def check_app(
    profiles: Sequence[str], stacks: Sequence[str] = ()
) -> dict[tuple[str, str], tuple[AccessModel, list[Verdict]]]:
    """Synthesize each profile and evaluate every stack's requests in one engine run:
    {(profile, stack): (model, verdicts)}."""
    pairs: list[tuple[AccessModel, Request]] = []
    owners: list[tuple[str, str]] = []
    models: dict[tuple[str, str], AccessModel] = {}
    for profile in profiles:
        assembly = synthesize(profile)
        for stack_id, template in assembly.stacks.items():
            if stacks and stack_id not in stacks:
                continue
            model, requests = check_stack(template, profile)
            models[(profile, stack_id)] = model
            pairs += [(model, r) for r in requests]
            owners += [(profile, stack_id)] * len(requests)
    verdicts: dict[tuple[str, str], list[Verdict]] = {owner: [] for owner in models}
    for owner, verdict in zip(owners, simulate(pairs), strict=True):
        verdicts[owner].append(verdict)
    return {owner: (models[owner], verdicts[owner]) for owner in models}


def who_can_do_what(model: AccessModel, verdicts: Sequence[Verdict]) -> str:
    """A reviewer's table: for each principal, what it may do and the refusals checked, named
    by construct path where the resource is this stack's."""
    names = {
        model.arn(r): r.path.removesuffix("/Resource") for r in model.template.resources.values()
    }
    names |= {
        arn: model.template.resources[lid].path.removesuffix("/Resource")
        for lid, arn in model.roles.items()
    }

    def name(arn: str) -> str:
        base = arn.split("/", 1)[0] if arn.startswith("arn:aws:s3:::") else arn
        if base in names and base != arn:
            return f"{names[base]}/{arn.split('/', 1)[1]}"
        return names.get(arn, _short(arn))

    rows: dict[str, dict[str, set[str]]] = {}
    for v in verdicts:
        r = v.request
        if dict(r.context).get("aws:SecureTransport") == "false":
            continue  # every TLS twin is refused; the table would only repeat it
        kind = "may" if v.result == ALLOWED else "may not"
        qualifier = r.why.rsplit(", ", 1)[-1] if ", for another" in r.why else ""
        rows.setdefault(name(r.principal), {}).setdefault(kind, set()).add(
            f"{r.action} {name(r.resource)}" + (f" ({qualifier})" if qualifier else "")
        )
    lines = []
    for principal in sorted(rows):
        lines.append(f"  {principal}")
        for kind in ("may", "may not"):
            for entry in sorted(rows[principal].get(kind, ())):
                lines.append(f"      {kind:7s} {entry}")
    return "\n".join(lines)


def _short(arn: str) -> str:
    """`arn:aws:sqs:eu-west-1:111122223333:name` -> `sqs:name`; a service principal as is."""
    if not arn.startswith("arn:"):
        return arn
    parts = arn.split(":", 5)
    resource = parts[5]
    if parts[4] not in ("", ACCOUNT):
        resource = f"{resource} (account {parts[4]})"
    return f"{parts[2]}:{resource}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", choices=("sandbox", "production"))
    parser.add_argument("--stack", action="append", default=[])
    parser.add_argument("--failures-only", action="store_true")
    options = parser.parse_args(argv)
    verdicts = check_app(options.profile or ["sandbox", "production"], options.stack)
    failed = 0
    for (profile, stack), (model, results) in verdicts.items():
        bad = [v for v in results if not v.ok]
        failed += len(bad)
        print(f"\n== {stack} ({profile}): {len(results)} requests, {len(bad)} not as expected")
        for v in bad:
            print(v.explain())
        if not options.failures_only:
            print(who_can_do_what(model, results))
    total = sum(len(results) for _, results in verdicts.values())
    print(f"\n{total} requests evaluated, {failed} not as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
