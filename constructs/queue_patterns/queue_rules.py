"""Queue rules: a CDK policy-validation plugin for the mistakes that make queues lose work quietly.

Why a plugin: cdk-nag's AwsSolutions pack checks none of the queue-specific rules that AWS's
guidance gives (a queue without a dead-letter queue, a DLQ that expires before its source, a DLQ
nobody is alarmed about, an alarm topic CloudWatch cannot publish to, a Lambda event source
without partial batch responses...). These rules read the synthesized CloudFormation templates,
so they see what CloudFormation will see, whichever constructs wrote it. Add them in one line:

    cdk.Validations.of(app).add_plugins(QueueRules())

Synth then fails on any error-level finding, naming the rule, the construct path and the fix;
warnings are printed. Accept a finding on one resource (or a construct above it) with the reason a
reviewer reads; CDK lists it in `cdk.out/validation-report.json` instead of failing:

    acknowledge_queue_rule(queue, "QR7", "Consumed by a batch job that alarms on its own lag")
    # the same as: cdk.Validations.of(queue).acknowledge(
    #     cdk.Acknowledgment(id="QueueRules::QR7", reason="..."))

The rules resolve Ref, Fn::GetAtt, Fn::Sub and literal names inside one template to connect
queues, dead-letter queues, subscriptions, alarms, topics, keys, functions, event source mappings
and scaling policies. A reference they cannot resolve (another stack, a parameter) is not
reported: the rules fail only on what they can show.

Copy this file into any CDK app: it imports only `aws_cdk`, `constructs`, `jsii` and the standard
library, and it reads template JSON in plain Python (no call into the CDK per resource).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import IConstruct

PLUGIN_NAME = "QueueRules"
PLUGIN_VERSION = "1.0.0"

QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
KEY = "AWS::KMS::Key"
ALIAS = "AWS::KMS::Alias"
FUNCTION = "AWS::Lambda::Function"
STEP_POLICY_TYPES = (
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
)

SQS_DEFAULT_RETENTION = 345_600  # 4 days
SQS_DEFAULT_VISIBILITY = 30
LAMBDA_DEFAULT_TIMEOUT = 3
# Condition keys a request made by an AWS service on behalf of this account's resources carries;
# a statement conditioned only on these still admits the service.
SOURCE_CONDITION_KEYS = {
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:securetransport",
}


@dataclass(frozen=True)
class Rule:
    """One numbered rule: what it catches, where the advice comes from, how to fix it."""

    id: str
    severity: str  # "error" fails synth, "warning" is printed
    title: str
    guidance: str
    fix: str


RULES: tuple[Rule, ...] = (
    Rule(
        "QR1",
        "error",
        "A source queue has no dead-letter queue",
        "seed 001 §6; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html",
        "give it a RedrivePolicy to a DLQ (sqs.Queue(dead_letter_queue=...)); a queue that is "
        "itself a DLQ is recognised as the target of a queue's or a subscription's RedrivePolicy",
    ),
    Rule(
        "QR2",
        "error",
        "An SNS subscription to SQS has no dead-letter queue",
        "https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html",
        "set the subscription's RedrivePolicy (SqsSubscription(dead_letter_queue=...)); after its "
        "retries SNS drops what it could not deliver",
    ),
    Rule(
        "QR3",
        "error",
        "A dead-letter queue does not outlive its standard source queue",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html",
        "make the DLQ's retention longer than the source queue's: a standard queue keeps a "
        "message's original enqueue time when it is dead-lettered (FIFO resets it)",
    ),
    Rule(
        "QR4",
        "error",
        "maxReceiveCount is outside 1..1000 or under 3",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/avoiding-inconsistent-message-processing.html",
        "use 5 or more: SQS can count a receive the consumer never saw, so 1 or 2 dead-letters "
        "good messages",
    ),
    Rule(
        "QR5",
        "warning",
        "maxReceiveCount is under 5",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html",
        "use 5 or more so that throttling, a deploy or a failover does not dead-letter good "
        "messages",
    ),
    Rule(
        "QR6",
        "error",
        "A dead-letter queue has no depth alarm with an action",
        "seed 003; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/dead-letter-queues-alarms-cloudwatch.html",
        "alarm on the DLQ's ApproximateNumberOfMessagesVisible >= 1 with an alarm action (an SNS "
        "topic), e.g. QueueAlarms",
    ),
    Rule(
        "QR7",
        "error",
        "A source queue has no oldest-message-age alarm with an action",
        "seed 003; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html",
        "alarm on the queue's ApproximateAgeOfOldestMessage with an alarm action: depth alone "
        "cannot tell a burst being absorbed from stalled consumers",
    ),
    Rule(
        "QR8",
        "error",
        "An alarm notifies a topic that CloudWatch cannot publish to",
        "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services; "
        "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html",
        "encrypt the topic with a customer-managed key whose policy allows "
        "cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey* (not alias/aws/sns), and if "
        "the topic has a policy, allow cloudwatch.amazonaws.com sns:Publish in it: a topic policy "
        "replaces SNS's default one (e.g. AlarmTopic)",
    ),
    Rule(
        "QR9",
        "error",
        "A Lambda SQS event source does not report batch item failures",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html",
        "set FunctionResponseTypes [ReportBatchItemFailures] (SqsEventSource("
        "report_batch_item_failures=True)) and return batchItemFailures, so one bad record is "
        "retried alone",
    ),
    Rule(
        "QR10",
        "error",
        "A Lambda SQS event source has no maximum concurrency",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
        "set ScalingConfig.MaximumConcurrency (SqsEventSource(max_concurrency=...)) so a burst "
        "cannot take the account's concurrency or flood what the function writes to",
    ),
    Rule(
        "QR11",
        "error",
        "A queue's visibility timeout is under 6 x the function timeout + the batching window",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html",
        "raise the queue's visibility timeout (or lower the function timeout): Lambda holds a "
        "batch through the batching window and retries a throttled batch within the visibility "
        "timeout",
    ),
    Rule(
        "QR12",
        "error",
        "A queue does not deny requests without TLS",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html",
        "add a queue policy that denies sqs:* when aws:SecureTransport is false "
        "(sqs.Queue(enforce_ssl=True))",
    ),
    Rule(
        "QR13",
        "error",
        "SNS delivers into a KMS-encrypted queue whose key does not let SNS use it",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html; "
        "https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html",
        "encrypt the queue with a customer-managed key whose policy allows sns.amazonaws.com "
        "kms:Decrypt and kms:GenerateDataKey* (alias/aws/sqs cannot be changed to allow it), or "
        "use SQS-managed encryption",
    ),
    Rule(
        "QR14",
        "warning",
        "A FIFO topic delivers to a standard queue",
        "https://docs.aws.amazon.com/sns/latest/dg/fifo-message-grouping.html",
        "subscribe a FIFO queue if order or deduplication matters: the message group is not "
        "passed to a standard queue",
    ),
    Rule(
        "QR15",
        "warning",
        "A queue metric scales capacity out with no way to scale it in",
        "seed 004; https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html",
        "add a scale-in policy on the same group triggered by an alarm (e.g. nothing visible for "
        "N minutes), or use target tracking without DisableScaleIn",
    ),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Finding:
    """One rule broken by one resource of one template."""

    rule: Rule
    logical_id: str
    detail: str
    location: str = "Properties"


def acknowledge_queue_rule(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept `rule_id`'s findings on `scope` and the constructs below it, for `reason`.

    CDK matches acknowledgments to a plugin's findings by `<plugin name>::<rule id>`, by
    construct path; this spells the id so a bare `QR7` cannot silently miss."""
    if rule_id not in RULES_BY_ID:
        raise ValueError(
            f"acknowledge_queue_rule: {rule_id!r} is not one of {', '.join(RULES_BY_ID)}"
        )
    if not reason.strip():
        raise ValueError(f"acknowledge_queue_rule: {rule_id} needs a reason a reviewer can read")
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"{PLUGIN_NAME}::{rule_id}", reason=reason)
    )


@jsii.implements(cdk.IPolicyValidationPlugin, cdk.IPolicyValidationPluginBeta1)
class QueueRules:
    """The queue rules as a CDK validation plugin: `Validations.of(app).add_plugins(QueueRules())`
    (or `cdk.App(policy_validation_beta1=[QueueRules()])`)."""

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str:
        return PLUGIN_VERSION

    @property
    def rule_ids(self) -> list[str]:
        return [rule.id for rule in RULES]

    def validate(self, context) -> cdk.PolicyValidationPluginReport:
        violations = []
        for template_path in context.template_paths:
            template = json.loads(Path(template_path).read_text())
            for finding in check_template(template):
                violations.append(_violation(finding, template, template_path))
        return cdk.PolicyValidationPluginReport(
            success=not any(v.severity == "error" for v in violations),
            violations=violations,
            plugin_version=PLUGIN_VERSION,
        )


def _violation(finding: Finding, template: Mapping, template_path: str) -> cdk.PolicyViolation:
    rule = finding.rule
    resource = template["Resources"][finding.logical_id]
    # With path metadata on (the CLI's default) the template names the construct; otherwise CDK
    # finds it from the logical id.
    path = (resource.get("Metadata") or {}).get("aws:cdk:path")
    return cdk.PolicyViolation(
        rule_name=rule.id,
        description=f"{rule.id} {rule.title}: {finding.detail}",
        fix=f"{rule.fix}. Guidance: {rule.guidance}",
        severity=rule.severity,
        rule_metadata={"guidance": rule.guidance},
        violating_resources=[
            cdk.PolicyViolatingResource(
                resource_logical_id=finding.logical_id,
                template_path=template_path,
                construct_path=path,
                locations=[finding.location],
            )
        ],
    )


def check_template(template: Mapping[str, Any]) -> list[Finding]:
    """Every queue rule broken in one synthesized CloudFormation template."""
    graph = _Graph(template)
    findings: list[Finding] = []
    for check in (
        _redrive,
        _alarms,
        _alarm_topics,
        _event_source_mappings,
        _transport,
        _subscriptions,
        _scaling,
    ):
        findings.extend(check(graph))
    return findings


# --- reading a template ---------------------------------------------------------------------


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _parsed(value: Any) -> Any:
    """A JSON document that may be written as a string (RedrivePolicy, policy documents)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _number(value: Any) -> float | None:
    """A literal number (CloudFormation allows numeric strings); None for an intrinsic."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _references(value: Any) -> Iterator[str]:
    """Every logical id that Ref, Fn::GetAtt or Fn::Sub names anywhere inside `value`."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                yield argument
                return
            if key == "Fn::GetAtt":
                name = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
                if isinstance(name, str):
                    yield name
                return
            if key == "Fn::Sub":
                text, variables = (
                    (argument + [{}])[:2] if isinstance(argument, list) else (argument, {})
                )
                for match in _SUB_VARIABLE.findall(text if isinstance(text, str) else ""):
                    name = match.split(".")[0]
                    if name not in (variables or {}):
                        yield name
                yield from _references(variables)
                return
        for item in value.values():
            yield from _references(item)


class _Graph:
    """One template's resources, with the links between them that the rules need."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self.resources: dict[str, dict] = {
            k: v for k, v in (template.get("Resources") or {}).items() if isinstance(v, dict)
        }
        self.by_type: dict[str, dict[str, dict]] = defaultdict(dict)
        for logical_id, resource in self.resources.items():
            self.by_type[resource.get("Type")][logical_id] = resource.get("Properties") or {}
        self.queues = self.by_type[QUEUE]
        self.queue_names = {
            p["QueueName"]: k for k, p in self.queues.items() if isinstance(p.get("QueueName"), str)
        }
        self.alarms = self.by_type["AWS::CloudWatch::Alarm"]
        self.subscriptions = self._subscriptions()
        self.redrive = self._queue_redrive()
        self.dead_letter_queues = self._dead_letter_queues()

    def type_of(self, logical_id: str) -> str | None:
        return self.resources.get(logical_id, {}).get("Type")

    def target(self, value: Any, *types: str) -> str | None:
        """The one resource of `types` that `value` refers to (a queue also by a literal name,
        URL or ARN), or None when there is none or more than one."""
        if isinstance(value, str):
            return self.queue_names.get(re.split(r"[:/]", value)[-1]) if QUEUE in types else None
        found = {k for k in _references(value) if self.type_of(k) in types}
        return found.pop() if len(found) == 1 else None

    def key_of(self, value: Any) -> str | None:
        """The customer-managed key in this template that a KmsMasterKeyId names."""
        target = self.target(value, KEY, ALIAS)
        if target and self.type_of(target) == ALIAS:
            target = self.target(self.by_type[ALIAS][target].get("TargetKeyId"), KEY)
        return target

    def _subscriptions(self) -> list[dict]:
        """SNS subscriptions to SQS, as {id, topic, queue, redrive, location} (inline ones too)."""
        found = []
        for logical_id, props in self.by_type["AWS::SNS::Subscription"].items():
            if str(props.get("Protocol", "")).lower() != "sqs":
                continue
            redrive = _parsed(props.get("RedrivePolicy"))
            found.append(
                {
                    "id": logical_id,
                    "topic": self.target(props.get("TopicArn"), TOPIC),
                    "queue": self.target(props.get("Endpoint"), QUEUE),
                    "redrive": redrive,
                    "dead_letter": self.target((redrive or {}).get("deadLetterTargetArn"), QUEUE)
                    if isinstance(redrive, dict)
                    else None,
                    "location": "Properties/RedrivePolicy",
                }
            )
        for logical_id, props in self.by_type[TOPIC].items():
            for index, inline in enumerate(_listed(props.get("Subscription"))):
                if isinstance(inline, dict) and str(inline.get("Protocol", "")).lower() == "sqs":
                    found.append(
                        {
                            "id": logical_id,
                            "topic": logical_id,
                            "queue": self.target(inline.get("Endpoint"), QUEUE),
                            "redrive": None,
                            "dead_letter": None,
                            "location": f"Properties/Subscription/{index}",
                        }
                    )
        return found

    def _queue_redrive(self) -> dict[str, tuple[dict, str | None]]:
        """{source queue: (its redrive policy, its DLQ in this template or None)}."""
        found = {}
        for logical_id, props in self.queues.items():
            redrive = _parsed(props.get("RedrivePolicy"))
            if isinstance(redrive, dict):
                found[logical_id] = (
                    redrive,
                    self.target(redrive.get("deadLetterTargetArn"), QUEUE),
                )
        return found

    def _dead_letter_queues(self) -> dict[str, str]:
        """{queue: what makes it a dead-letter queue}: the target of a queue's or a
        subscription's RedrivePolicy, or of another service's dead-letter setting."""
        found: dict[str, str] = {}
        for source, (_, dead_letter) in self.redrive.items():
            if dead_letter:
                found.setdefault(dead_letter, f"the RedrivePolicy of {source}")
        for subscription in self.subscriptions:
            if subscription["dead_letter"]:
                found.setdefault(
                    subscription["dead_letter"], f"the RedrivePolicy of {subscription['id']}"
                )
        elsewhere = (
            (FUNCTION, ("DeadLetterConfig", "TargetArn")),
            ("AWS::Lambda::EventInvokeConfig", ("DestinationConfig", "OnFailure", "Destination")),
            ("AWS::Lambda::EventSourceMapping", ("DestinationConfig", "OnFailure", "Destination")),
            ("AWS::Scheduler::Schedule", ("Target", "DeadLetterConfig", "Arn")),
        )
        for type_, path in elsewhere:
            for logical_id, props in self.by_type[type_].items():
                value: Any = props
                for step in path:
                    value = value.get(step) if isinstance(value, dict) else None
                queue = self.target(value, QUEUE) if value is not None else None
                if queue:
                    found.setdefault(queue, f"the dead-letter setting of {logical_id}")
        for logical_id, props in self.by_type["AWS::Events::Rule"].items():
            for target in _listed(props.get("Targets")):
                queue = self.target(
                    ((target or {}).get("DeadLetterConfig") or {}).get("Arn"), QUEUE
                )
                if queue:
                    found.setdefault(queue, f"the dead-letter setting of {logical_id}")
        for logical_id, props in self.queues.items():
            allow = _parsed(props.get("RedriveAllowPolicy"))
            if isinstance(allow, dict) and allow.get("redrivePermission") == "byQueue":
                found.setdefault(logical_id, "its RedriveAllowPolicy (byQueue)")
        return found

    def fifo(self, queue: str) -> bool:
        return _true(self.queues.get(queue, {}).get("FifoQueue"))

    def alarm_metrics(self, props: Mapping) -> Iterator[tuple[str, str, list]]:
        """(namespace, metric name, dimensions) of an alarm's metric or metric-math inputs."""
        if "MetricName" in props:
            yield props.get("Namespace"), props.get("MetricName"), _listed(props.get("Dimensions"))
        for query in _listed(props.get("Metrics")):
            metric = ((query or {}).get("MetricStat") or {}).get("Metric") or {}
            if metric:
                yield (
                    metric.get("Namespace"),
                    metric.get("MetricName"),
                    _listed(metric.get("Dimensions")),
                )

    def alarmed_queues(self, metric_name: str) -> set[str]:
        """Queues with an alarm on `metric_name` that notifies someone when it fires."""
        found = set()
        for props in self.alarms.values():
            if props.get("ActionsEnabled") is False or not self.notifies(props.get("AlarmActions")):
                continue
            for namespace, name, dimensions in self.alarm_metrics(props):
                if namespace != "AWS/SQS" or name != metric_name:
                    continue
                for dimension in dimensions:
                    if isinstance(dimension, dict) and dimension.get("Name") == "QueueName":
                        queue = self.target(dimension.get("Value"), QUEUE)
                        if queue:
                            found.add(queue)
        return found

    def notifies(self, actions: Any) -> bool:
        """Whether an alarm action list tells someone (not only scales a group or stops an EC2
        instance)."""
        for action in _listed(actions):
            if isinstance(action, str):
                if ":automate:" not in action:
                    return True
            elif self.target(action, *STEP_POLICY_TYPES) is None:
                return True
        return False


# --- the rules ------------------------------------------------------------------------------


def _redrive(graph: _Graph) -> Iterator[Finding]:
    rule = RULES_BY_ID
    for queue in graph.queues:
        if queue not in graph.redrive and queue not in graph.dead_letter_queues:
            yield Finding(
                rule["QR1"],
                queue,
                f"{queue} has no RedrivePolicy and is no other resource's dead-letter queue",
            )
    for source, (redrive, dead_letter) in graph.redrive.items():
        count = _number(redrive.get("maxReceiveCount"))
        where = "Properties/RedrivePolicy/maxReceiveCount"
        if count is not None and (count < 3 or count > 1000):
            yield Finding(
                rule["QR4"], source, f"{source} dead-letters after {count:g} receives", where
            )
        elif count is not None and count < 5:
            yield Finding(
                rule["QR5"], source, f"{source} dead-letters after {count:g} receives", where
            )
        if dead_letter is None or graph.fifo(source):
            continue
        source_retention = _number(
            graph.queues[source].get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)
        )
        dead_retention = _number(
            graph.queues[dead_letter].get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)
        )
        if None not in (source_retention, dead_retention) and dead_retention <= source_retention:
            yield Finding(
                rule["QR3"],
                dead_letter,
                f"{dead_letter} keeps messages {dead_retention:g}s, not longer than its source "
                f"{source} ({source_retention:g}s): a dead letter can expire on arrival",
                "Properties/MessageRetentionPeriod",
            )


def _alarms(graph: _Graph) -> Iterator[Finding]:
    with_depth_alarm = graph.alarmed_queues("ApproximateNumberOfMessagesVisible")
    with_age_alarm = graph.alarmed_queues("ApproximateAgeOfOldestMessage")
    for queue in graph.queues:
        if queue in graph.dead_letter_queues:
            if queue not in with_depth_alarm:
                yield Finding(
                    RULES_BY_ID["QR6"],
                    queue,
                    f"{queue} (the DLQ of {graph.dead_letter_queues[queue]}) has no alarm on "
                    "ApproximateNumberOfMessagesVisible with an alarm action",
                )
        elif queue not in with_age_alarm:
            yield Finding(
                RULES_BY_ID["QR7"],
                queue,
                f"{queue} has no alarm on ApproximateAgeOfOldestMessage with an alarm action",
            )


def _admits(statement: Mapping, service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return "*" in _listed(principal.get("AWS")) or service in _listed(principal.get("Service"))


def _covers(statement: Mapping, action: str) -> bool:
    def matches(patterns: Any) -> bool:
        return any(
            isinstance(p, str) and fnmatchcase(action.lower(), p.lower()) for p in _listed(patterns)
        )

    if "NotAction" in statement:
        return not matches(statement["NotAction"])
    return matches(statement.get("Action"))


def _condition_keys(statement: Mapping) -> set[str]:
    condition = statement.get("Condition") or {}
    if not isinstance(condition, dict):
        return {"?"}
    return {key.lower() for test in condition.values() if isinstance(test, dict) for key in test}


def _statements(document: Any) -> list[dict]:
    document = _parsed(document)
    if not isinstance(document, dict):
        return []
    return [s for s in _listed(document.get("Statement")) if isinstance(s, dict)]


def _lets(statements: list[dict], service: str, actions: Iterable[str]) -> bool:
    """Whether a resource policy lets an AWS service principal do every one of `actions`: an
    Allow admitting it (conditions only on the request's source), and no unconditional Deny."""
    for action in actions:
        allowed = any(
            s.get("Effect") == "Allow"
            and _admits(s, service)
            and _covers(s, action)
            and _condition_keys(s) <= SOURCE_CONDITION_KEYS
            for s in statements
        )
        denied = any(
            s.get("Effect") == "Deny"
            and _admits(s, service)
            and _covers(s, action)
            and not s.get("Condition")
            for s in statements
        )
        if not allowed or denied:
            return False
    return True


def _key_problem(graph: _Graph, key_id: Any, service: str, managed_alias: str) -> str | None:
    """Why `service` cannot use the key a KmsMasterKeyId names, or None (fine, or unknown)."""
    if key_id is None:
        return None
    if managed_alias in json.dumps(key_id):  # "alias/aws/sns", its ARN, or an ARN built by Fn::Join
        return (
            f"it is encrypted with the AWS-managed {managed_alias}, whose key policy cannot be "
            f"changed to admit {service}"
        )
    key = graph.key_of(key_id)
    if key is None:
        return None
    policy = _statements(graph.by_type[KEY][key].get("KeyPolicy"))
    if not _lets(policy, service, ("kms:Decrypt", "kms:GenerateDataKey")):
        return (
            f"its key {key}'s policy does not allow {service} kms:Decrypt and kms:GenerateDataKey*"
        )
    return None


def _alarm_topics(graph: _Graph) -> Iterator[Finding]:
    notified: dict[str, list[str]] = defaultdict(list)
    for alarm, props in graph.alarms.items():
        for field in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in _listed(props.get(field)):
                topic = graph.target(action, TOPIC) if not isinstance(action, str) else None
                if topic and alarm not in notified[topic]:
                    notified[topic].append(alarm)
    policies: dict[str, list[dict]] = defaultdict(list)
    has_policy: set[str] = set()
    for props in graph.by_type["AWS::SNS::TopicPolicy"].values():
        for topic_ref in _listed(props.get("Topics")):
            topic = graph.target(topic_ref, TOPIC)
            if topic:
                has_policy.add(topic)
                policies[topic].extend(_statements(props.get("PolicyDocument")))
    for props in graph.by_type["AWS::SNS::TopicInlinePolicy"].values():
        topic = graph.target(props.get("TopicArn"), TOPIC)
        if topic:
            has_policy.add(topic)
            policies[topic].extend(_statements(props.get("PolicyDocument")))
    for topic, alarms in notified.items():
        service = "cloudwatch.amazonaws.com"
        problems = []
        if topic in has_policy and not _lets(policies[topic], service, ("sns:Publish",)):
            problems.append(
                "its topic policy (which replaces SNS's default one) does not allow "
                f"{service} sns:Publish"
            )
        key_problem = _key_problem(
            graph, graph.by_type[TOPIC][topic].get("KmsMasterKeyId"), service, "alias/aws/sns"
        )
        if key_problem:
            problems.append(key_problem)
        if problems:
            yield Finding(
                RULES_BY_ID["QR8"],
                topic,
                f"{len(alarms)} alarm(s) ({', '.join(sorted(alarms)[:3])}{', ...' if len(alarms) > 3 else ''}) "
                f"notify {topic}, but {'; and '.join(problems)}",
            )


def _event_source_mappings(graph: _Graph) -> Iterator[Finding]:
    for mapping, props in graph.by_type["AWS::Lambda::EventSourceMapping"].items():
        source = props.get("EventSourceArn")
        queue = graph.target(source, QUEUE)
        if queue is None and ":sqs:" not in json.dumps(source):
            continue  # a stream, Kafka or MQ source: these rules are about SQS
        named = queue or "its SQS queue"
        if "ReportBatchItemFailures" not in _listed(props.get("FunctionResponseTypes")):
            yield Finding(
                RULES_BY_ID["QR9"],
                mapping,
                f"{mapping} on {named} has no FunctionResponseTypes [ReportBatchItemFailures]: one "
                "failing record sends its whole batch back",
                "Properties/FunctionResponseTypes",
            )
        if (props.get("ScalingConfig") or {}).get("MaximumConcurrency") is None:
            yield Finding(
                RULES_BY_ID["QR10"],
                mapping,
                f"{mapping} on {named} has no ScalingConfig.MaximumConcurrency",
                "Properties/ScalingConfig",
            )
        function = graph.target(
            props.get("FunctionName"), FUNCTION, "AWS::Lambda::Alias", "AWS::Lambda::Version"
        )
        if function and graph.type_of(function) != FUNCTION:
            function = graph.target(
                graph.resources[function]["Properties"].get("FunctionName"), FUNCTION
            )
        if queue is None or function is None:
            continue
        timeout = _number(graph.by_type[FUNCTION][function].get("Timeout", LAMBDA_DEFAULT_TIMEOUT))
        window = _number(props.get("MaximumBatchingWindowInSeconds", 0))
        visibility = _number(graph.queues[queue].get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY))
        if None in (timeout, window, visibility):
            continue
        if visibility < 6 * timeout + window:
            yield Finding(
                RULES_BY_ID["QR11"],
                mapping,
                f"{queue}'s visibility timeout {visibility:g}s is under 6 x {function}'s timeout "
                f"({timeout:g}s) + the batching window ({window:g}s) = {6 * timeout + window:g}s",
            )


def _denies_plain_http(statement: Mapping) -> bool:
    if statement.get("Effect") != "Deny" or not _admits(statement, "*"):
        return False
    if not (_covers(statement, "sqs:SendMessage") and _covers(statement, "sqs:ReceiveMessage")):
        return False
    for test, keys in (statement.get("Condition") or {}).items():
        if test in ("Bool", "BoolIfExists") and isinstance(keys, dict):
            for key, value in keys.items():
                if (
                    key.lower() == "aws:securetransport"
                    and str(_listed(value)[0]).lower() == "false"
                ):
                    return True
    return False


def _transport(graph: _Graph) -> Iterator[Finding]:
    protected: set[str] = set()
    for type_, field in (
        ("AWS::SQS::QueuePolicy", "Queues"),
        ("AWS::SQS::QueueInlinePolicy", "Queue"),
    ):
        for props in graph.by_type[type_].values():
            if any(_denies_plain_http(s) for s in _statements(props.get("PolicyDocument"))):
                protected.update(
                    q for q in (graph.target(ref, QUEUE) for ref in _listed(props.get(field))) if q
                )
    for queue in graph.queues:
        if queue not in protected:
            yield Finding(
                RULES_BY_ID["QR12"],
                queue,
                f"no queue policy on {queue} denies requests whose aws:SecureTransport is false",
            )


def _subscriptions(graph: _Graph) -> Iterator[Finding]:
    reported_keys: set[str] = set()
    for subscription in graph.subscriptions:
        queue, topic = subscription["queue"], subscription["topic"]
        if subscription["redrive"] is None:
            yield Finding(
                RULES_BY_ID["QR2"],
                subscription["id"],
                f"{subscription['id']} delivers {topic or 'a topic'} to {queue or 'a queue'} with no "
                "RedrivePolicy",
                subscription["location"],
            )
        if (
            topic
            and queue
            and _true(graph.by_type[TOPIC][topic].get("FifoTopic"))
            and not graph.fifo(queue)
        ):
            yield Finding(
                RULES_BY_ID["QR14"],
                subscription["id"],
                f"FIFO topic {topic} delivers to standard queue {queue}",
                subscription["location"],
            )
        # SNS writes into the subscribed queue and into the subscription's dead-letter queue.
        for target in (queue, subscription["dead_letter"]):
            if target is None or target in reported_keys:
                continue
            problem = _key_problem(
                graph,
                graph.queues[target].get("KmsMasterKeyId"),
                "sns.amazonaws.com",
                "alias/aws/sqs",
            )
            if problem:
                reported_keys.add(target)
                yield Finding(
                    RULES_BY_ID["QR13"],
                    target,
                    f"SNS delivers to {target} ({subscription['id']}), but {problem}",
                    "Properties/KmsMasterKeyId",
                )


def _scaling(graph: _Graph) -> Iterator[Finding]:
    triggers: dict[str, list[dict]] = defaultdict(list)
    for props in graph.alarms.values():
        for field in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in _listed(props.get(field)):
                policy = (
                    graph.target(action, *STEP_POLICY_TYPES)
                    if not isinstance(action, str)
                    else None
                )
                if policy:
                    triggers[policy].append(props)
    groups: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for type_ in STEP_POLICY_TYPES:
        for policy, props in graph.by_type[type_].items():
            groups[_scaled_group(graph, props)].append((policy, props))
    scheduled = {
        _scaled_group(graph, props)
        for props in graph.by_type["AWS::AutoScaling::ScheduledAction"].values()
    } | {
        _scaled_group(graph, {"ScalingTargetId": {"Ref": target}})
        for target, props in graph.by_type["AWS::ApplicationAutoScaling::ScalableTarget"].items()
        if props.get("ScheduledActions")
    }
    for group, policies in groups.items():
        if group in scheduled or any(_scales_in(props, triggers[p]) for p, props in policies):
            continue
        for policy, props in policies:
            if _on_a_queue_metric(graph, props, triggers[policy]):
                yield Finding(
                    RULES_BY_ID["QR15"],
                    policy,
                    f"{policy} adds capacity on a queue metric, and nothing on the same group ever "
                    "removes it",
                )


def _scaled_group(graph: _Graph, props: Mapping) -> str:
    """What a scaling policy scales: the Auto Scaling group or scalable target it names."""
    for field, type_ in (
        ("AutoScalingGroupName", "AWS::AutoScaling::AutoScalingGroup"),
        ("ScalingTargetId", "AWS::ApplicationAutoScaling::ScalableTarget"),
    ):
        if field in props:
            return graph.target(props[field], type_) or json.dumps(props[field], sort_keys=True)
    return json.dumps([props.get("ResourceId"), props.get("ScalableDimension")], sort_keys=True)


def _scales_in(props: Mapping, triggers: list[dict]) -> bool:
    step = props.get("StepScalingPolicyConfiguration") or props
    target_tracking = props.get("TargetTrackingConfiguration") or props.get(
        "TargetTrackingScalingPolicyConfiguration"
    )
    if target_tracking is not None:
        return not _true(target_tracking.get("DisableScaleIn"))
    if not triggers:
        return False
    adjustments = [s.get("ScalingAdjustment") for s in _listed(step.get("StepAdjustments"))]
    adjustments.append(step.get("ScalingAdjustment"))
    if step.get("AdjustmentType") == "ExactCapacity":
        return True
    return any((_number(a) or 0) < 0 for a in adjustments)


def _on_a_queue_metric(graph: _Graph, props: Mapping, triggers: list[dict]) -> bool:
    target_tracking = props.get("TargetTrackingConfiguration") or props.get(
        "TargetTrackingScalingPolicyConfiguration"
    )
    if target_tracking is not None:
        return '"AWS/SQS"' in json.dumps(target_tracking.get("CustomizedMetricSpecification"))
    return any(
        namespace == "AWS/SQS"
        for alarm in triggers
        for namespace, _, _ in graph.alarm_metrics(alarm)
    )
