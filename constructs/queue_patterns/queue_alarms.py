"""Alarms that make a queue's failures loud: dead letters, a stalled backlog, expiring dead letters.

Why a construct: queues hide failures. Without these three alarms a consumer outage or a poison
message is discovered only when retention deletes the evidence (seed 003: "Without DLQ alarms and
queue-age monitoring, you'll discover problems only when retention drops messages").

- `dead_letters`: any message in the DLQ. One dead letter is one lost business event until someone
  looks, so the threshold is 1, not a rate.
- `backlog_age`: the oldest message in the source queue is older than `max_message_age`. Depth alone
  cannot tell a burst being absorbed from consumers that stopped; age can.
- `dead_letters_expiring` (when `dead_letter_retention` is given): the oldest dead letter has used
  75% of the time SQS is sure to keep it: redrive or archive it before SQS deletes it. For a
  standard queue that time is the DLQ's retention minus the source queue's: SQS expires a dead
  letter by its original enqueue timestamp, while the DLQ's ApproximateAgeOfOldestMessage counts
  from the move into the DLQ, so a dead letter that waited long in its source expires sooner than
  its DLQ age says. A FIFO queue resets the timestamp on the move, and a DLQ that is nobody's
  redrive target (an SNS subscription's, passed as both `queue` and `dead_letter_queue`) receives
  its messages new: for both, the time is the DLQ's whole retention. Source, as of 2026-12-02:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from aws_cdk import Duration, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

EXPIRY_WARNING_FRACTION = 0.75
SQS_DEFAULT_RETENTION = Duration.days(4)  # MessageRetentionPeriod when a queue does not set it
# Where AWS states the behaviour relied on below (as of 2026-12-02).
SQS_METRICS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-monitoring-using-cloudwatch.html"
SQS_DLQ_RETENTION = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html"


class QueueAlarms(Construct):
    """Dead-letter, backlog-age and dead-letter-expiry alarms for one queue and its DLQ.

    Attributes: `dead_letters`, `backlog_age` and `dead_letters_expiring` (each or None), `alarms`.

    Props:
        queue: the source queue whose backlog age is watched (the DLQ itself for a DLQ fed by SNS).
        dead_letter_queue: its DLQ; any message there raises the alarm.
        alarm_topic: SNS topic for alarm and OK notifications; None creates alarms without actions.
        max_message_age: backlog-age threshold (at least 60 s, the metric's period); None: no backlog alarm.
        dead_letter_retention: the DLQ's retention; when given, alarm at 75% of the time a dead letter is sure to be kept.
        queue_retention_period: the source queue's retention; read from the queue when this app defines it.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        alarm_topic: sns.ITopic | None = None,
        max_message_age: Duration | None = Duration.minutes(15),
        dead_letter_retention: Duration | None = None,
        queue_retention_period: Duration | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if max_message_age is not None and max_message_age.to_seconds() < 60:
            raise ValueError(
                f"QueueAlarms.max_message_age: {max_message_age.to_seconds()}s is under 60s; SQS "
                f"publishes queue metrics once a minute, so a shorter threshold only makes noise "
                f"({SQS_METRICS})"
            )
        one_minute = Duration.minutes(1)
        self.dead_letters = cloudwatch.Alarm(
            self,
            "DeadLetters",
            alarm_description="Messages reached the dead-letter queue: inspect, fix, then redrive",
            metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=one_minute, statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.backlog_age = None
        if max_message_age is not None:
            self.backlog_age = cloudwatch.Alarm(
                self,
                "BacklogAge",
                alarm_description=(
                    f"The oldest message waited over {max_message_age.to_human_string()}: "
                    "consumers are stalled or under-provisioned"
                ),
                metric=queue.metric_approximate_age_of_oldest_message(
                    period=one_minute, statistic="Maximum"
                ),
                threshold=max_message_age.to_seconds(),
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        self.dead_letters_expiring = None
        if dead_letter_retention is not None:
            window = _guaranteed_dead_letter_window(
                queue, dead_letter_queue, dead_letter_retention, queue_retention_period
            )
            threshold = int(window * EXPIRY_WARNING_FRACTION)
            self.dead_letters_expiring = cloudwatch.Alarm(
                self,
                "DeadLettersExpiring",
                alarm_description=(
                    f"The oldest dead letter has waited {Duration.seconds(threshold).to_human_string()}"
                    f" in the DLQ, 75% of the {Duration.seconds(window).to_human_string()} SQS is "
                    "sure to keep it: redrive or archive the dead letters before SQS deletes them"
                ),
                metric=dead_letter_queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        self.alarms = [
            a for a in (self.dead_letters, self.backlog_age, self.dead_letters_expiring) if a
        ]
        if alarm_topic is not None:
            notify = actions.SnsAction(alarm_topic)  # one action object serves every alarm
            for alarm in self.alarms:
                alarm.add_alarm_action(notify)
                alarm.add_ok_action(notify)


def _guaranteed_dead_letter_window(
    queue: sqs.IQueue,
    dead_letter_queue: sqs.IQueue,
    dead_letter_retention: Duration,
    queue_retention_period: Duration | None,
) -> float:
    """Seconds of DLQ age (the alarm's metric) that every dead letter is sure to reach before
    SQS deletes it."""
    name = "QueueAlarms"
    defined = _retention_of(dead_letter_queue)
    if defined is not None and defined != dead_letter_retention.to_seconds():
        raise ValueError(
            f"{name}.dead_letter_retention: {dead_letter_retention.to_seconds()}s is not the "
            f"retention of {dead_letter_queue.node.path} ({defined}s); the expiry alarm would be "
            "timed for a retention the DLQ does not have"
        )
    retention = dead_letter_retention.to_seconds()
    if dead_letter_queue.fifo or queue is dead_letter_queue:
        # FIFO: the enqueue timestamp resets on the move. Same queue: no redrive moves messages
        # in; they arrive new (an SNS subscription's DLQ). Either way the DLQ age is the age.
        return retention
    source = (
        queue_retention_period.to_seconds()
        if queue_retention_period is not None
        else _retention_of(queue)
    )
    if source is None:
        raise ValueError(
            f"{name}.queue_retention_period: required for a standard DLQ whose source queue is "
            "defined outside this app; a dead letter expires by its enqueue time in the source "
            "queue, so the alarm threshold depends on the source's retention"
        )
    if retention <= source:
        raise ValueError(
            f"{name}.dead_letter_retention: {retention}s is not longer than the source queue's "
            f"retention ({source}s); a standard queue keeps a message's enqueue timestamp when it "
            f"moves it to the DLQ, so some dead letters would expire on arrival ({SQS_DLQ_RETENTION})"
        )
    return retention - source


def _retention_of(queue: sqs.IQueue) -> float | None:
    """The retention, in seconds, of a queue this app defines (SQS's default if unset); None for
    a queue defined elsewhere or a retention not known at synth."""
    resource = queue.node.default_child if isinstance(queue, sqs.Queue) else None
    if not isinstance(resource, sqs.CfnQueue):
        return None
    seconds = resource.message_retention_period
    if seconds is None:
        return SQS_DEFAULT_RETENTION.to_seconds()
    return None if Token.is_unresolved(seconds) else seconds
