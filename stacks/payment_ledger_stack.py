"""Ordered fan-out for payments: FIFO topic -> FIFO queue -> ledger, one message group per order.

Where order matters (seed 002: "Some systems guarantee FIFO delivery"): a refund must not be
applied before the capture it refunds. An SNS FIFO topic keeps the publish order per message
group (the order id) into an SQS FIFO queue; Lambda then receives each group's messages in
sequence, while different orders are processed in parallel. Content-based deduplication drops a
publisher's retry within five minutes; the ledger's conditional writes drop any later duplicate.

Its own stack, not a part of `OrderFanOutStack`: FIFO throughput limits, the ban on batching
windows and the all-or-rest failure semantics are different enough that a reader should see
this flow alone.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct
from queue_patterns import LambdaQueueConsumer, QueueAlarms, QueueWithDeadLetter

from stacks.keys import alarm_topic, logs_key, messaging_key, topic_key
from stacks.nag_acknowledgments import acknowledge_payment_ledger
from stacks.powertools_layer import powertools_layer
from stacks.profiles import Profile
from stacks.profiles import log_retention as profile_log_retention
from stacks.subscription_dead_letter import subscription_dead_letter
from stacks.tables import grant_items, table

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
LEDGER_TIMEOUT = Duration.seconds(10)
DEAD_LETTER_RETENTION = Duration.days(14)


class PaymentLedgerStack(cdk.Stack):
    """The FIFO variant of fan-out, deployable on its own."""

    def __init__(self, scope: Construct, id_: str, *, profile: Profile, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY
        events_key = topic_key(
            self, "TopicKey", "payment events in the FIFO topic", removal, profile
        )
        queue_key = (
            messaging_key(self, "QueueKey", "payment events in the ledger queue and table", removal)
            if profile.customer_managed_keys
            else None
        )
        alarms = alarm_topic(self, "Alarms", profile, removal)
        log_key = logs_key(self, "LogsKey", removal) if profile.customer_managed_keys else None

        self.topic = sns.Topic(
            self,
            "PaymentEventsTopic",
            fifo=True,
            content_based_deduplication=True,
            master_key=events_key,
            enforce_ssl=True,
            display_name="Payment events (ordered per order)",
        )
        self.ledger_queue = QueueWithDeadLetter(
            self,
            "LedgerQueue",
            fifo=True,
            content_based_deduplication=True,
            visibility_timeout=Duration.seconds(6 * LEDGER_TIMEOUT.to_seconds()),
            max_receive_count=5,
            encryption_key=queue_key,
            removal_policy=removal,
        )
        self.delivery_failures = subscription_dead_letter(
            self, fifo=True, key=queue_key, removal=removal, alarm_topic=alarms.topic
        )
        self.topic.add_subscription(
            subscriptions.SqsSubscription(
                self.ledger_queue.queue,
                raw_message_delivery=True,
                dead_letter_queue=self.delivery_failures,
            )
        )
        QueueAlarms(
            self,
            "LedgerAlarms",
            queue=self.ledger_queue.queue,
            dead_letter_queue=self.ledger_queue.dead_letter_queue,
            alarm_topic=alarms.topic,
            max_message_age=None,  # the consumer's MessageAge alarm watches this queue
            dead_letter_retention=DEAD_LETTER_RETENTION,
        )
        ledger = table(
            self,
            "LedgerTable",
            "orderId",
            removal=removal,
            key=queue_key,
        )
        consumer = LambdaQueueConsumer(
            self,
            "LedgerConsumer",
            queue=self.ledger_queue.queue,
            code_path=str(LAMBDA_DIR / "payment_ledger"),
            handler="payment_ledger.handler",
            powertools_layer=powertools_layer(self),
            environment={"LEDGER_TABLE": ledger.table_name},
            timeout=LEDGER_TIMEOUT,
            batch_size=10,
            max_concurrency=5,
            service_name="payment-ledger",
            alarm_topic=alarms.topic,
            dead_letter_alarm=False,  # QueueAlarms watches the DLQ and its expiry
            log_retention=profile_log_retention(profile),
            log_encryption_key=log_key,
            removal_policy=removal,
        )
        # The ledger reads a payment and advances it; it never creates or deletes one.
        grant_items(ledger, consumer.function, ["GetItem", "UpdateItem"])

        cdk.CfnOutput(
            self,
            "PaymentEventsTopicArn",
            value=self.topic.topic_arn,
            description="Publish with MessageGroupId = the order id",
        )
        cdk.CfnOutput(self, "LedgerQueueUrl", value=self.ledger_queue.queue.queue_url)
        cdk.CfnOutput(
            self, "LedgerDeadLetterQueueUrl", value=self.ledger_queue.dead_letter_queue.queue_url
        )
        cdk.CfnOutput(
            self, "SubscriptionDeadLetterQueueUrl", value=self.delivery_failures.queue_url
        )
        cdk.CfnOutput(self, "LedgerTableName", value=ledger.table_name)

        acknowledge_payment_ledger(self, profile)
