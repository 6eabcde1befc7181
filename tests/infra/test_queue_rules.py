"""QueueRules, the queue-pattern validation plugin: each rule fails a minimal bad app with its id
and passes its good twin, acknowledgments pass and are reported, and an app that is not this
project's fails synth on a queue without a dead-letter queue.

The apps are a few resources each, synthesized in-process through CDK's own validation step
(the plugin registered as a user registers it), so the test sees what `cdk synth` reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from queue_patterns import QueueRules, acknowledge_queue_rule
from queue_patterns.queue_rules import RULES, RULES_BY_ID, check_template

ROOT = Path(__file__).resolve().parents[2]


# --- minimal apps ---------------------------------------------------------------------------


class Parts:
    """Builds compliant queue parts into one stack; each bad app changes one thing."""

    def __init__(self, stack: cdk.Stack) -> None:
        self.stack = stack
        self.topic = sns.Topic(stack, "Alarms")  # SNS's default policy: CloudWatch may publish

    def alarm(self, id_: str, metric: cloudwatch.Metric) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(self.stack, id_, metric=metric, threshold=1, evaluation_periods=1)
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        return alarm

    def dead_letter(self, id_: str, *, alarmed: bool = True, **props) -> sqs.Queue:
        props = {"retention_period": Duration.days(14), "enforce_ssl": True} | props
        queue = sqs.Queue(self.stack, id_, **props)
        if alarmed:
            self.alarm(f"{id_}Depth", queue.metric_approximate_number_of_messages_visible())
        return queue

    def queue(
        self,
        id_: str,
        *,
        max_receive_count: int = 5,
        age_alarm: bool = True,
        dead_letter: dict | None = None,
        **props,
    ) -> sqs.Queue:
        dead = self.dead_letter(f"{id_}Dead", **(dead_letter or {}))
        props.setdefault("enforce_ssl", True)
        queue = sqs.Queue(
            self.stack,
            id_,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead, max_receive_count=max_receive_count),
            **props,
        )
        if age_alarm:
            self.alarm(f"{id_}Age", queue.metric_approximate_age_of_oldest_message())
        return queue

    def consumer(self, queue: sqs.Queue, *, timeout: int = 10, **event_source) -> None:
        function = lambda_.Function(
            self.stack,
            "Consumer",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
            timeout=Duration.seconds(timeout),
        )
        props = {"report_batch_item_failures": True, "max_concurrency": 2} | event_source
        function.add_event_source(sources.SqsEventSource(queue, **props))

    def scaling(self, queue: sqs.Queue, *, scale_in: bool) -> None:
        """Step scaling of an Auto Scaling group on the queue's visible messages (L1s: the rule
        reads the policy, its alarm and the group it names)."""
        steps = [(">= 1 visible: +1", 1, "GreaterThanOrEqualToThreshold", 1)]
        if scale_in:
            steps.append(("0 visible: -1", 0, "LessThanOrEqualToThreshold", -1))
        for index, (description, threshold, comparison, change) in enumerate(steps):
            bound = (
                {"metric_interval_lower_bound": 0}
                if change > 0
                else {"metric_interval_upper_bound": 0}
            )
            policy = autoscaling.CfnScalingPolicy(
                self.stack,
                f"Step{index}",
                auto_scaling_group_name="workers",
                policy_type="StepScaling",
                adjustment_type="ChangeInCapacity",
                step_adjustments=[
                    autoscaling.CfnScalingPolicy.StepAdjustmentProperty(
                        scaling_adjustment=change, **bound
                    )
                ],
            )
            cloudwatch.CfnAlarm(
                self.stack,
                f"Step{index}Alarm",
                alarm_description=description,
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions=[
                    cloudwatch.CfnAlarm.DimensionProperty(name="QueueName", value=queue.queue_name)
                ],
                statistic="Maximum",
                period=60,
                evaluation_periods=1,
                threshold=threshold,
                comparison_operator=comparison,
                alarm_actions=[policy.ref],
            )


def alarm_topic_key(stack: cdk.Stack, *, cloudwatch_may_use: bool) -> kms.Key:
    key = kms.Key(stack, "AlarmsKey", removal_policy=cdk.RemovalPolicy.DESTROY)
    if cloudwatch_may_use:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
    return key


def with_alarm_topic(topic_props: Callable[[cdk.Stack], dict], *, allow_publish: bool = False):
    """An app whose alarms go to a topic built from `topic_props` (instead of a plain topic)."""

    def build(stack: cdk.Stack) -> None:
        parts = Parts(stack)
        parts.topic = sns.Topic(stack, "EncryptedAlarms", **topic_props(stack))
        if allow_publish:
            parts.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[parts.topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        parts.queue("Orders")

    return build


def fan_out(
    *,
    fifo_topic: bool = False,
    queue_fifo: bool = False,
    subscription_dlq: bool = True,
    raw_subscription: bool = False,
    queue_key: str = "none",
):
    """topic -> queue, the queue encrypted as `queue_key` says ("none", "granted", "ungranted")."""

    def build(stack: cdk.Stack) -> None:
        parts = Parts(stack)
        fifo = {"fifo": True} if queue_fifo else {}
        encryption = {}
        if queue_key != "none":
            encryption = {
                "encryption": sqs.QueueEncryption.KMS,
                "encryption_master_key": kms.Key(
                    stack, "QueueKey", removal_policy=cdk.RemovalPolicy.DESTROY
                ),
            }
        queue = parts.queue("Orders", dead_letter=fifo, **fifo, **encryption)
        topic = sns.Topic(
            stack,
            "Orders" + "Topic",
            fifo=True if fifo_topic else None,
            content_based_deduplication=True if fifo_topic else None,
        )
        failed = parts.dead_letter("Undeliverable", **fifo) if subscription_dlq else None
        if raw_subscription or queue_key == "ungranted":
            # L1: CDK's SqsSubscription would grant the topic the queue's key.
            sns.CfnSubscription(
                stack,
                "Subscription",
                topic_arn=topic.topic_arn,
                protocol="sqs",
                endpoint=queue.queue_arn,
                redrive_policy={"deadLetterTargetArn": failed.queue_arn} if failed else None,
            )
        else:
            topic.add_subscription(subscriptions.SqsSubscription(queue, dead_letter_queue=failed))

    return build


BAD: dict[str, Callable[[cdk.Stack], None]] = {
    "QR1": lambda s: Parts(s).alarm(
        "LonelyAge",
        sqs.Queue(s, "Lonely", enforce_ssl=True).metric_approximate_age_of_oldest_message(),
    ),
    "QR2": fan_out(subscription_dlq=False),
    "QR3": lambda s: Parts(s).queue(
        "Orders",
        retention_period=Duration.days(14),
        dead_letter={"retention_period": Duration.days(4)},
    ),
    "QR4": lambda s: Parts(s).queue("Orders", max_receive_count=2),
    "QR5": lambda s: Parts(s).queue("Orders", max_receive_count=4),
    "QR6": lambda s: Parts(s).queue("Orders", dead_letter={"alarmed": False}),
    "QR7": lambda s: Parts(s).queue("Orders", age_alarm=False),
    "QR8": with_alarm_topic(lambda s: {"enforce_ssl": True}),
    "QR9": lambda s: (p := Parts(s)).consumer(
        p.queue("Orders", visibility_timeout=Duration.seconds(60)),
        report_batch_item_failures=False,
    ),
    "QR10": lambda s: (p := Parts(s)).consumer(
        p.queue("Orders", visibility_timeout=Duration.seconds(60)), max_concurrency=None
    ),
    "QR11": lambda s: (p := Parts(s)).consumer(
        p.queue("Orders", visibility_timeout=Duration.seconds(60)),
        max_batching_window=Duration.seconds(1),
    ),
    "QR12": lambda s: Parts(s).queue("Orders", enforce_ssl=False),
    "QR13": fan_out(queue_key="ungranted"),
    "QR14": fan_out(fifo_topic=True, raw_subscription=True),
    "QR15": lambda s: (p := Parts(s)).scaling(p.queue("Orders"), scale_in=False),
}

GOOD: dict[str, Callable[[cdk.Stack], None]] = {
    "QR1": lambda s: Parts(s).queue("Orders"),
    "QR2": fan_out(),
    "QR3": lambda s: Parts(s).queue("Orders", retention_period=Duration.days(4)),
    # FIFO resets the enqueue time, so a FIFO DLQ may keep messages as long as its source.
    "QR3-fifo": lambda s: Parts(s).queue(
        "Orders",
        fifo=True,
        retention_period=Duration.days(14),
        dead_letter={"fifo": True, "retention_period": Duration.days(14)},
    ),
    "QR4": lambda s: Parts(s).queue("Orders", max_receive_count=5),
    "QR8": with_alarm_topic(
        lambda s: {"enforce_ssl": True, "master_key": alarm_topic_key(s, cloudwatch_may_use=True)},
        allow_publish=True,
    ),
    # An SQS event source with partial batch responses, a concurrency cap, visibility 6 x 10 s
    # + the 1 s window, and no OnFailure destination: the queue's redrive is its failure path.
    "QR9": lambda s: (p := Parts(s)).consumer(
        p.queue("Orders", visibility_timeout=Duration.seconds(61)),
        max_batching_window=Duration.seconds(1),
    ),
    "QR13": fan_out(queue_key="granted"),
    "QR14": fan_out(fifo_topic=True, queue_fifo=True),
    "QR15": lambda s: (p := Parts(s)).scaling(p.queue("Orders"), scale_in=True),
}
# Rules whose good twin is another rule's good app.
GOOD_FOR = {"QR5": "QR4", "QR6": "QR1", "QR7": "QR1", "QR10": "QR9", "QR11": "QR9", "QR12": "QR1"}

# More ways to break QR8: the AWS-managed key, and a customer-managed key CloudWatch may not use.
BAD_ALARM_TOPICS = {
    "aws/sns": with_alarm_topic(
        lambda s: {"master_key": kms.Alias.from_alias_name(s, "Managed", "alias/aws/sns")}
    ),
    "key without CloudWatch": with_alarm_topic(
        lambda s: {"master_key": alarm_topic_key(s, cloudwatch_may_use=False)}
    ),
}


def synthesize(build: Callable[[cdk.Stack], None], tmp_path: Path, *, plugin: bool = True):
    """Synthesize a one-stack app with QueueRules registered; returns the validation report (or
    raises CDK's validation error)."""
    # CDK's own CloudFormation validator is not under test here, and costs time on every synth.
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Minimal")
    build(stack)
    if plugin:
        cdk.Validations.of(app).add_plugins(QueueRules())
    app.synth()
    return json.loads((tmp_path / "validation-report.json").read_text())


def queue_rules_report(report: dict) -> dict:
    """QueueRules' part of CDK's validation report ({} when it found nothing at all: CDK lists
    only plugins with findings)."""
    found = [r for r in report["pluginReports"] if r["pluginName"] == "QueueRules"]
    return found[0] if found else {}


def rule_names(report: dict, key: str = "violations") -> set[str]:
    return {v["ruleName"] for v in queue_rules_report(report).get(key, [])}


# --- each rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("rule_id", [r.id for r in RULES if r.severity == "error"])
def test_a_minimal_app_breaking_an_error_rule_fails_synth_with_its_id(rule_id, tmp_path):
    with pytest.raises(Exception, match=rf"(?s)ERROR {rule_id} .*Suggested fix: ") as failure:
        synthesize(BAD[rule_id], tmp_path)
    assert f"Acknowledge with 'QueueRules::{rule_id}'" in str(failure.value)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert rule_names(report) == {rule_id}, "a minimal bad app breaks only its own rule"


@pytest.mark.parametrize("rule_id", [r.id for r in RULES if r.severity == "warning"])
def test_a_minimal_app_breaking_a_warning_rule_synthesizes_and_reports_it(rule_id, tmp_path):
    report = synthesize(BAD[rule_id], tmp_path)
    assert rule_names(report) == {rule_id}
    assert queue_rules_report(report)["conclusion"] == "success"


@pytest.mark.parametrize("case", sorted(BAD_ALARM_TOPICS))
def test_an_alarm_topic_on_a_key_cloudwatch_cannot_use_fails_synth(case, tmp_path):
    with pytest.raises(Exception, match=r"ERROR QR8 .*(alias/aws/sns|does not allow cloudwatch)"):
        synthesize(BAD_ALARM_TOPICS[case], tmp_path)


@pytest.mark.parametrize("case", sorted(GOOD))
def test_the_good_twin_of_each_rule_passes(case, tmp_path):
    assert queue_rules_report(synthesize(GOOD[case], tmp_path)) == {}


def test_every_rule_has_a_bad_app_and_a_good_one():
    assert set(BAD) == set(RULES_BY_ID)
    assert {r for r in RULES_BY_ID if r in GOOD or GOOD_FOR.get(r) in GOOD} == set(RULES_BY_ID)


def test_every_rule_names_its_guidance_and_fix():
    for rule in RULES:
        assert rule.severity in ("error", "warning")
        assert "https://docs.aws.amazon.com/" in rule.guidance, rule.id
        assert rule.fix and rule.title, rule.id


def test_the_plugin_also_registers_through_the_apps_beta1_property(tmp_path):
    """`cdk.App(policy_validation_beta1=[...])`, deprecated but still what older apps use."""
    app = cdk.App(
        outdir=str(tmp_path),
        builtin_cloud_formation_validation=False,
        policy_validation_beta1=[QueueRules()],
    )
    BAD["QR5"](cdk.Stack(app, "Minimal"))
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert rule_names(report) == {"QR5"}


# --- acknowledgments ----------------------------------------------------------------------------

REASON = "Consumed by a nightly export that alarms on its own lag"


def test_an_acknowledged_finding_passes_and_is_listed_with_its_reason(tmp_path):
    def build(stack):
        BAD["QR7"](stack)
        acknowledge_queue_rule(stack.node.find_child("Orders"), "QR7", REASON)

    report = synthesize(build, tmp_path)
    rules = queue_rules_report(report)
    assert rules["conclusion"] == "success" and rules["violations"] == []
    [acknowledged] = rules["suppressedViolations"]
    assert acknowledged["ruleName"] == "QR7" and acknowledged["reason"] == REASON
    assert acknowledged["acknowledgedAt"] == "Minimal/Orders"
    assert acknowledged["violatingConstructs"][0]["constructPath"] == "Minimal/Orders/Resource"


def test_cdk_acknowledge_with_the_plugin_prefix_is_the_same_acknowledgment(tmp_path):
    def build(stack):
        BAD["QR7"](stack)
        cdk.Validations.of(stack).acknowledge(
            cdk.Acknowledgment(id="QueueRules::QR7", reason=REASON)
        )

    assert rule_names(synthesize(build, tmp_path), "suppressedViolations") == {"QR7"}


def test_an_acknowledgment_needs_a_known_rule_and_a_reason():
    stack = cdk.Stack(cdk.App(), "Minimal")
    with pytest.raises(ValueError, match=r"'QR99' is not one of QR1, QR2"):
        acknowledge_queue_rule(stack, "QR99", REASON)
    with pytest.raises(ValueError, match=r"QR1 needs a reason"):
        acknowledge_queue_rule(stack, "QR1", "  ")


# --- outside this project -----------------------------------------------------------------------

FOREIGN_APP = textwrap.dedent(
    """
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs
    from queue_rules import QueueRules

    app = cdk.App(outdir="out")
    stack = cdk.Stack(app, "Foreign")
    sqs.Queue(stack, "Lonely", enforce_ssl=True)
    cdk.Validations.of(app).add_plugins(QueueRules())
    app.synth()
    print("synthesized")
    """
)


def test_another_app_with_the_file_copied_alone_fails_synth_on_a_queue_without_a_dlq(tmp_path):
    shutil.copy(ROOT / "constructs" / "queue_patterns" / "queue_rules.py", tmp_path)
    (tmp_path / "app.py").write_text(FOREIGN_APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_CURRENT_TEST")}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "synthesized" not in result.stdout
    message = result.stderr
    assert "ERROR QR1 A source queue has no dead-letter queue" in message
    assert "Foreign/Lonely/Resource" in message
    assert "Suggested fix: give it a RedrivePolicy to a DLQ" in message


# --- template shapes CDK does not write, read straight from JSON (no synth) -----------------

SSL_DENY = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "sqs:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def template(**resources) -> dict:
    """A template of `resources`, with a TLS-only policy for every queue in it."""
    queues = [{"Ref": k} for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue"]
    policy = {"Queues": queues, "PolicyDocument": {"Statement": [SSL_DENY]}}
    return {
        "Resources": {**resources, "Tls": {"Type": "AWS::SQS::QueuePolicy", "Properties": policy}}
    }


def alarm(metric: str, queue_name, *, actions=("arn:aws:sns:eu-west-1:111122223333:ops",)) -> dict:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Namespace": "AWS/SQS",
            "MetricName": metric,
            "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
            "AlarmActions": list(actions),
        },
    }


def found(t: dict) -> set[tuple[str, str]]:
    return {(f.rule.id, f.logical_id) for f in check_template(t)}


def test_a_redrive_policy_written_as_a_json_string_and_alarms_on_literal_names_are_read():
    t = template(
        Dlq={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders-dlq"}},
        Orders={
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "orders",
                "MessageRetentionPeriod": 60,
                "RedrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:orders-dlq", "maxReceiveCount": "5"}',
            },
        },
        Depth=alarm("ApproximateNumberOfMessagesVisible", "orders-dlq"),
        Age=alarm("ApproximateAgeOfOldestMessage", "orders"),
    )
    assert found(t) == set()


def test_a_queue_that_is_a_functions_dead_letter_queue_needs_an_alarm_not_a_dlq():
    t = template(
        Failed={"Type": "AWS::SQS::Queue", "Properties": {}},
        Fn={
            "Type": "AWS::Lambda::Function",
            "Properties": {"DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["Failed", "Arn"]}}},
        },
    )
    assert found(t) == {("QR6", "Failed")}


def test_an_alarm_whose_only_action_scales_a_group_does_not_count_as_telling_anyone():
    t = template(
        Orders={
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                    "maxReceiveCount": 5,
                }
            },
        },
        Dlq={"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        Depth=alarm("ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": ["Dlq", "QueueName"]}),
        Age=alarm(
            "ApproximateAgeOfOldestMessage",
            {"Fn::GetAtt": ["Orders", "QueueName"]},
            actions=[{"Ref": "Scale"}],
        ),
        Scale={
            "Type": "AWS::AutoScaling::ScalingPolicy",
            "Properties": {"AutoScalingGroupName": "g", "ScalingAdjustment": 1},
        },
    )
    assert ("QR7", "Orders") in found(t)


def test_sns_into_a_queue_on_the_aws_managed_sqs_key_is_reported():
    t = template(
        Topic={"Type": "AWS::SNS::Topic", "Properties": {}},
        Orders={"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": "alias/aws/sqs"}},
        Sub={
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "Protocol": "sqs",
                "TopicArn": {"Ref": "Topic"},
                "Endpoint": {"Fn::GetAtt": ["Orders", "Arn"]},
                "RedrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:elsewhere"},
            },
        },
    )
    assert ("QR13", "Orders") in found(t)


def test_an_unconditional_deny_in_the_topic_policy_shuts_cloudwatch_out():
    def topic_policy(*statements):
        return template(
            Topic={"Type": "AWS::SNS::Topic", "Properties": {}},
            Policy={
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": "Topic"}],
                    "PolicyDocument": {"Statement": list(statements)},
                },
            },
            Alarm={
                **alarm("CPUUtilization", "x"),
                "Properties": {"AlarmActions": [{"Ref": "Topic"}]},
            },
        )

    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
    }
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sns:*"}
    assert found(topic_policy(allow)) == set()
    assert found(topic_policy(allow, deny)) == {("QR8", "Topic")}


def test_stream_event_sources_are_not_sqs_rules_business():
    t = template(
        Map={
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": "arn:aws:kinesis:eu-west-1:1:stream/clicks",
                "FunctionName": "f",
            },
        }
    )
    assert found(t) == set()


def test_target_tracking_on_a_queue_metric_with_scale_in_disabled_is_warned_about():
    def tracking(disable_scale_in: bool):
        return template(
            Policy={
                "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                "Properties": {
                    "PolicyType": "TargetTrackingScaling",
                    "ScalingTargetId": "service/cluster/workers|ecs:service:DesiredCount",
                    "TargetTrackingScalingPolicyConfiguration": {
                        "TargetValue": 100,
                        "DisableScaleIn": disable_scale_in,
                        "CustomizedMetricSpecification": {
                            "Namespace": "AWS/SQS",
                            "MetricName": "ApproximateNumberOfMessagesVisible",
                        },
                    },
                },
            }
        )

    assert found(tracking(False)) == set()
    assert found(tracking(True)) == {("QR15", "Policy")}
