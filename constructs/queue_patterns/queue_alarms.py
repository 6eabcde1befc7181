"""Alarms that make a queue's failures loud: dead letters, a stalled backlog, expiring dead letters.

Why a construct: queues hide failures. Without these three alarms a consumer outage or a poison
message is discovered only when retention deletes the evidence (seed 003: "Without DLQ alarms and
queue-age monitoring, you'll discover problems only when retention drops messages").

- `dead_letters`: any message in the DLQ. One dead letter is one lost business event until someone
  looks, so the threshold is 1, not a rate.
- `backlog_age`: the oldest message in the source queue is older than `max_message_age`. Depth alone
  cannot tell a burst being absorbed from consumers that stopped; age can.
- `dead_letters_expiring` (when `dead_letter_retention` is given): the oldest dead letter has used
  75% of its retention: redrive or archive it before SQS deletes it.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

EXPIRY_WARNING_FRACTION = 0.75


class QueueAlarms(Construct):
    """Dead-letter, backlog-age and dead-letter-expiry alarms for one queue and its DLQ.

    Attributes: `dead_letters`, `backlog_age` and `dead_letters_expiring` (each or None), `alarms`.

    Props:
        queue: the source queue whose backlog age is watched.
        dead_letter_queue: its DLQ; any message there raises the alarm.
        alarm_topic: SNS topic for alarm and OK notifications; None creates alarms without actions.
        max_message_age: backlog-age threshold (at least 60 s, the metric's period); None: no backlog alarm.
        dead_letter_retention: the DLQ's retention; when given, alarm at 75% of it.
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
    ) -> None:
        super().__init__(scope, id_)
        if max_message_age is not None and max_message_age.to_seconds() < 60:
            raise ValueError(
                f"QueueAlarms.max_message_age: {max_message_age.to_seconds()}s is under 60s; SQS "
                "publishes queue metrics once a minute, so a shorter threshold only makes noise"
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
            self.dead_letters_expiring = cloudwatch.Alarm(
                self,
                "DeadLettersExpiring",
                alarm_description=(
                    "Dead letters have used 75% of their retention: redrive or archive them "
                    "before SQS deletes them"
                ),
                metric=dead_letter_queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=int(dead_letter_retention.to_seconds() * EXPIRY_WARNING_FRACTION),
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        self.alarms = [
            a for a in (self.dead_letters, self.backlog_age, self.dead_letters_expiring) if a
        ]
        if alarm_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(alarm_topic))
                alarm.add_ok_action(actions.SnsAction(alarm_topic))
