"""SNS fan-out: one order event, delivered to inventory, payment, shipping and audit queues.

Seeds 001 (pattern 5), 002 and 003: the order service publishes once; each business unit gets
its own queue (its own pace, its own failures, its own DLQ) and sees only the events it needs:

    orders topic --eventType, amountCents > 0------> payment queue   -> payment consumer
                 --eventType, shippable = "true"---> shipping queue  -> shipping consumer
                 --eventType (placed, cancelled)---> inventory queue -> inventory consumer
                 --everything, SNS envelope kept---> audit queue     -> audit consumer

Consumer queues use raw message delivery (the body is the event); the audit queue keeps the
SNS envelope. SNS parks what it could not deliver in a subscription DLQ: at once after a
client-side error (a queue policy that shuts SNS out), after its retries for a server-side one;
each queue has its own DLQ for what its consumer could not process. Every DLQ alarms.

The ordered variant (payments, where a refund must follow its capture) is `PaymentLedgerStack`.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct
from queue_patterns import LambdaQueueConsumer, QueueAlarms, QueueWithDeadLetter
from queue_patterns.lambda_queue_consumer import RUNTIME

from stacks.keys import alarm_topic, logs_key, messaging_key, topic_key
from stacks.nag_acknowledgments import acknowledge_fan_out
from stacks.powertools_layer import powertools_layer
from stacks.profiles import Profile
from stacks.profiles import log_retention as profile_log_retention
from stacks.subscription_dead_letter import subscription_dead_letter
from stacks.tables import grant_items, table

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
CONSUMER_TIMEOUT = Duration.seconds(10)
BATCHING_WINDOW = Duration.seconds(1)
# 6 x the consumer timeout + the batching window: AWS's advice for Lambda on SQS (Lambda holds a
# batch through the window before invoking). LambdaQueueConsumer enforces the 6x, QueueRules (QR11)
# the window too.
CONSUMER_VISIBILITY = Duration.seconds(6 * 10 + 1)
# Concurrent batches per consumer, sized with tools/capacity.py (docs/capacity.md). At 5, the
# inventory and payment consumers (about 50 ms a record: five DynamoDB calls) took 98 orders/s,
# under the lowest rate the README plans for. At 30 they take about 590/s, still under the 667
# orders/s a new on-demand idempotency table absorbs at once (4,000 write units/s, 6 units an
# order across three consumers), so the consumers, not throttled idempotency writes, are the
# first limit. Past it: pre-warm that table, then raise this. 4 x 30 of the account's 1,000.
CONSUMER_MAX_CONCURRENCY = 30
DEAD_LETTER_RETENTION = Duration.days(14)
EVENT_TYPES = ["OrderPlaced", "OrderCancelled"]
# The item actions each handler calls on its own table (TransactWriteItems is authorized as its
# Put and Update parts). The audit trail is only ever added to: no UpdateItem, no DeleteItem.
ITEM_ACTIONS = {
    "Inventory": ["PutItem", "UpdateItem"],
    "Payment": ["PutItem", "UpdateItem"],
    "Shipping": ["PutItem"],
    "Audit": ["PutItem"],
}
# What Powertools idempotency does with its records: read, claim, complete, release on failure.
IDEMPOTENCY_ACTIONS = ["GetItem", "PutItem", "UpdateItem", "DeleteItem"]


class OrderFanOutStack(cdk.Stack):
    """The fan-out pattern with its four consumers, deployable on its own."""

    def __init__(self, scope: Construct, id_: str, *, profile: Profile, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY
        retention = profile_log_retention(profile)
        events_key = topic_key(
            self, "TopicKey", "order events in the orders topic", removal, profile
        )
        # SQS-managed encryption in a sandbox; in production a key whose policy CDK extends to
        # let this topic (and only it) deliver into the queues.
        queue_key = (
            messaging_key(self, "QueueKey", "order events in SQS queues and tables", removal)
            if profile.customer_managed_keys
            else None
        )
        alarms = alarm_topic(self, "Alarms", profile, removal)
        log_key = logs_key(self, "LogsKey", removal) if profile.customer_managed_keys else None

        self.topic = sns.Topic(
            self,
            "OrdersTopic",
            master_key=events_key,
            enforce_ssl=True,
            display_name="Order events",
        )
        delivery_failures = subscription_dead_letter(
            self, fifo=False, key=queue_key, removal=removal, alarm_topic=alarms.topic
        )

        events = sns.SubscriptionFilter.string_filter(allowlist=EVENT_TYPES)
        units = {
            "Inventory": ({"eventType": events}, True),
            "Payment": (
                {
                    "eventType": events,
                    "amountCents": sns.SubscriptionFilter.numeric_filter(greater_than=0),
                },
                True,
            ),
            "Shipping": (
                {
                    "eventType": events,
                    "shippable": sns.SubscriptionFilter.string_filter(allowlist=["true"]),
                },
                True,
            ),
            "Audit": (None, False),
        }
        self.queues: dict[str, QueueWithDeadLetter] = {}
        for unit, (filter_policy, raw) in units.items():
            queue = QueueWithDeadLetter(
                self,
                f"{unit}Queue",
                visibility_timeout=CONSUMER_VISIBILITY,
                max_receive_count=5,
                dead_letter_retention_period=DEAD_LETTER_RETENTION,
                encryption_key=queue_key,
                removal_policy=removal,
            )
            self.topic.add_subscription(
                subscriptions.SqsSubscription(
                    queue.queue,
                    raw_message_delivery=raw,
                    filter_policy=filter_policy,
                    dead_letter_queue=delivery_failures,
                )
            )
            QueueAlarms(
                self,
                f"{unit}Alarms",
                queue=queue.queue,
                dead_letter_queue=queue.dead_letter_queue,
                alarm_topic=alarms.topic,
                max_message_age=None,  # the consumer's MessageAge alarm watches this queue
                dead_letter_retention=DEAD_LETTER_RETENTION,
            )
            self.queues[unit] = queue

        tables = {
            "Inventory": table(self, "InventoryTable", "pk", removal=removal, key=queue_key),
            "Payment": table(self, "PaymentsTable", "orderId", removal=removal, key=queue_key),
            "Shipping": table(self, "ShipmentsTable", "orderId", removal=removal, key=queue_key),
            "Audit": table(
                self, "OrderEventsTable", "orderId", sort="eventKey", removal=removal, key=queue_key
            ),
        }
        idempotency = table(
            self, "IdempotencyTable", "id", ttl="expiration", removal=removal, key=queue_key
        )
        layer = lambda_.LayerVersion(
            self,
            "OrderEventsLayer",
            code=lambda_.Code.from_asset(str(LAMBDA_DIR / "order_events_layer")),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="order_events: the order event contract shared by every consumer",
        )

        environment_names = {
            "Inventory": "INVENTORY_TABLE",
            "Payment": "PAYMENTS_TABLE",
            "Shipping": "SHIPMENTS_TABLE",
            "Audit": "EVENTS_TABLE",
        }
        powertools = powertools_layer(self)
        self.consumers: dict[str, LambdaQueueConsumer] = {}
        for unit, queue in self.queues.items():
            module = f"{unit.lower()}_consumer"
            environment = {environment_names[unit]: tables[unit].table_name}
            if unit != "Audit":
                environment["IDEMPOTENCY_TABLE"] = idempotency.table_name
            consumer = LambdaQueueConsumer(
                self,
                f"{unit}Consumer",
                queue=queue.queue,
                code_path=str(LAMBDA_DIR / module),
                handler=f"{module}.handler",
                layers=[layer],
                powertools_layer=powertools,
                environment=environment,
                timeout=CONSUMER_TIMEOUT,
                batch_size=10,
                max_batching_window=BATCHING_WINDOW,
                max_concurrency=CONSUMER_MAX_CONCURRENCY,
                service_name=f"{unit.lower()}-consumer",
                alarm_topic=alarms.topic,
                dead_letter_alarm=False,  # QueueAlarms watches the DLQ and its expiry
                log_retention=retention,
                log_encryption_key=log_key,
                removal_policy=removal,
            )
            grant_items(tables[unit], consumer.function, ITEM_ACTIONS[unit])
            if unit != "Audit":
                grant_items(
                    idempotency,
                    consumer.function,
                    IDEMPOTENCY_ACTIONS,
                    key_prefix=unit.lower(),  # the consumer name its handler prefixes keys with
                )
            self.consumers[unit] = consumer

        cdk.CfnOutput(
            self,
            "OrdersTopicArn",
            value=self.topic.topic_arn,
            description="Publish order events here (with message attributes)",
        )
        for unit, queue in self.queues.items():
            cdk.CfnOutput(self, f"{unit}QueueUrl", value=queue.queue.queue_url)
            cdk.CfnOutput(
                self, f"{unit}DeadLetterQueueUrl", value=queue.dead_letter_queue.queue_url
            )
        cdk.CfnOutput(self, "SubscriptionDeadLetterQueueUrl", value=delivery_failures.queue_url)
        for unit, t in tables.items():
            cdk.CfnOutput(self, f"{unit}TableName", value=t.table_name)

        acknowledge_fan_out(self, list(self.consumers), profile)
