"""An EventBridge rule that delivers chosen events into an SQS queue, and only this rule may.

Why a construct: putting a queue behind EventBridge takes four things that are each easy to get
wrong, and silently so:

- The queue policy. EventBridge delivers as the service principal `events.amazonaws.com`; a
  policy that admits the principal alone lets any rule in any account that knows the queue's ARN
  write to it. This one admits exactly this rule, with `aws:SourceArn`. (CDK's own `SqsQueue`
  target drops that condition when the queue has a KMS key, to avoid a dependency cycle through
  the key policy; this construct keeps it on the queue policy in every case and scopes the key
  statement to the account instead.)
- The key. A queue encrypted with a customer-managed key must let EventBridge use it
  (`kms:GenerateDataKey`, `kms:Decrypt`), or every delivery fails.
- Retries and a dead-letter queue of the target's own. EventBridge retries a failed delivery
  (by default for 24 hours and up to 185 times), then drops the event unless the target has a
  DLQ; errors that no retry fixes (a missing permission, a deleted queue) go to the DLQ at once.
  Here the DLQ always exists, admits only this rule, and alarms on its first message; a second
  alarm fires if EventBridge could not even write to the DLQ (those events are lost).
- The message. An input transformation turns the event envelope into the message the consumer
  expects, so consumers see one contract whichever door a message came through.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_RETRY_ATTEMPTS = 185
MAX_EVENT_AGE = Duration.hours(24)


class EventRuleToQueue(Construct):
    """An EventBridge rule whose one target is an SQS queue that admits only this rule.

    Attributes: `rule`, `dead_letter_queue` (events EventBridge could not deliver), `alarms`.

    Props:
        event_bus: the bus the rule listens on (a custom bus for your own events).
        event_pattern: which events to deliver: source, detail-type, content filters on detail.
        queue: the standard queue to deliver to; its policy admits this rule alone (aws:SourceArn).
        message: the message each event becomes (an input transformation); None sends the whole event.
        retry_attempts: EventBridge's retries of a failed delivery before the DLQ (0..185).
        max_event_age: how long EventBridge keeps retrying an event before the DLQ (60 s..24 h).
        dead_letter_encryption_key: customer-managed KMS key for the DLQ; None uses SSE-SQS.
        alarm_topic: SNS topic for the alarms; None creates them without actions.
        description: the rule's description.
        removal_policy: what `cdk destroy` does to the dead-letter queue.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        event_bus: events.IEventBus,
        event_pattern: events.EventPattern,
        queue: sqs.IQueue,
        message: events.RuleTargetInput | None = None,
        retry_attempts: int = MAX_RETRY_ATTEMPTS,
        max_event_age: Duration = MAX_EVENT_AGE,
        dead_letter_encryption_key: kms.IKey | None = None,
        alarm_topic: sns.ITopic | None = None,
        description: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        _validate(queue=queue, retry_attempts=retry_attempts, max_event_age=max_event_age)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetter",
            retention_period=Duration.days(14),
            enforce_ssl=True,
            removal_policy=removal_policy,
            encryption=sqs.QueueEncryption.KMS
            if dead_letter_encryption_key
            else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=dead_letter_encryption_key,
        )
        Validations.of(self.dead_letter_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is a dead-letter queue: the EventBridge rule target's "
                "DeadLetterConfig names it (cdk-nag recognizes only SQS redrive policies). It "
                "alarms on its first message.",
            )
        )
        self.rule = events.Rule(
            self, "Rule", event_bus=event_bus, event_pattern=event_pattern, description=description
        )
        target = {
            "Id": "Queue",
            "Arn": queue.queue_arn,
            "DeadLetterConfig": {"Arn": self.dead_letter_queue.queue_arn},
            "RetryPolicy": {
                "MaximumRetryAttempts": retry_attempts,
                "MaximumEventAgeInSeconds": int(max_event_age.to_seconds()),
            },
        }
        if message is not None:
            bound = message.bind(self.rule)
            if bound.input_template is not None:
                target["InputTransformer"] = {
                    "InputPathsMap": bound.input_paths_map,
                    "InputTemplate": bound.input_template,
                }
            elif bound.input is not None:
                target["Input"] = bound.input
            elif bound.input_path is not None:
                target["InputPath"] = bound.input_path
        # The target is written directly: CDK's SqsQueue target would add its own queue policy
        # statement, without aws:SourceArn when the queue has a key.
        self.rule.node.default_child.add_property_override("Targets", [target])

        account = Stack.of(self).account
        for delivered_to in (queue, self.dead_letter_queue):
            delivered_to.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="OnlyThisEventRuleMaySend",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[delivered_to.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
                )
            )
            key = delivered_to.encryption_master_key
            if key is not None:
                # aws:SourceArn here would make the key wait for the rule, which waits for the
                # queue, which waits for the key: the account is the narrowest cycle-free scope.
                key.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid="EventBridgeMayEncryptForThisAccount",
                        principals=[iam.ServicePrincipal("events.amazonaws.com")],
                        actions=["kms:GenerateDataKey", "kms:Decrypt"],
                        resources=["*"],
                        conditions={"StringEquals": {"aws:SourceAccount": account}},
                    )
                )
        self.alarms = _alarms(self, event_bus)
        if alarm_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(alarm_topic))
                alarm.add_ok_action(actions.SnsAction(alarm_topic))


def _validate(*, queue: sqs.IQueue, retry_attempts: int, max_event_age: Duration) -> None:
    """Fail synth with a message naming the prop, its value and the rule."""
    name = "EventRuleToQueue"
    if queue.fifo:
        raise ValueError(
            f"{name}.queue: {queue.node.path} is a FIFO queue; EventBridge needs a message group "
            "id per event for one, and this construct delivers to standard queues"
        )
    if not 0 <= retry_attempts <= MAX_RETRY_ATTEMPTS:
        raise ValueError(
            f"{name}.retry_attempts: {retry_attempts} is outside 0..{MAX_RETRY_ATTEMPTS} "
            "(the range EventBridge accepts in a target's retry policy)"
        )
    seconds = max_event_age.to_seconds()
    if not 60 <= seconds <= MAX_EVENT_AGE.to_seconds():
        raise ValueError(
            f"{name}.max_event_age: {seconds}s is outside 60s..24h "
            "(the range EventBridge accepts in a target's retry policy)"
        )


def _alarms(scope: EventRuleToQueue, event_bus: events.IEventBus) -> list[cloudwatch.Alarm]:
    minute = Duration.minutes(1)
    greater = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    quiet = cloudwatch.TreatMissingData.NOT_BREACHING
    lost = cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name="InvocationsFailedToBeSentToDLQ",
        dimensions_map={"EventBusName": event_bus.event_bus_name, "RuleName": scope.rule.rule_name},
        period=minute,
        statistic="Sum",
    )
    return [
        cloudwatch.Alarm(
            scope,
            "DeadLetters",
            alarm_description="EventBridge could not deliver events to the queue: read the "
            "dead letters' ERROR_CODE attribute, fix, then redrive",
            metric=scope.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=minute, statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=greater,
            treat_missing_data=quiet,
        ),
        cloudwatch.Alarm(
            scope,
            "EventsLost",
            alarm_description="EventBridge could deliver events neither to the queue nor to its "
            "dead-letter queue: those events are lost",
            metric=lost,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=greater,
            treat_missing_data=quiet,
        ),
    ]
