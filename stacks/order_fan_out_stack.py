"""SNS fan-out: one order event, delivered to inventory, payment, shipping and audit queues.

Seeds 001 (pattern 5), 002 and 003: the order service publishes once; each business unit gets
its own queue (its own pace, its own failures, its own DLQ) and sees only the events it needs:

    orders topic --eventType, amountCents > 0------> payment queue   -> payment consumer
                 --eventType, shippable = "true"---> shipping queue  -> shipping consumer
                 --eventType (placed, cancelled)---> inventory queue -> inventory consumer
                 --everything, SNS envelope kept---> audit queue     -> audit consumer

Consumer queues use raw message delivery (the body is the event); the audit queue keeps the
SNS envelope. SNS retries each delivery, then parks what it could not deliver in a subscription
DLQ; each queue has its own DLQ for what its consumer could not process. Every DLQ alarms.

The ordered variant (payments, where a refund must follow its capture) is `PaymentLedgerStack`.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from queue_patterns import AlarmTopic, LambdaQueueConsumer, QueueAlarms, QueueWithDeadLetter
from queue_patterns.lambda_queue_consumer import RUNTIME

from stacks.nag_acknowledgments import acknowledge_fan_out, acknowledge_subscription_dead_letter
from stacks.profiles import Profile
from stacks.profiles import log_retention as profile_log_retention

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
CONSUMER_TIMEOUT = Duration.seconds(10)
BATCHING_WINDOW = Duration.seconds(1)
# 6 x the consumer timeout + the batching window: AWS's advice for Lambda on SQS (Lambda holds a
# batch through the window before invoking). LambdaQueueConsumer enforces the 6x, QueueRules (QR11)
# the window too.
CONSUMER_VISIBILITY = Duration.seconds(6 * 10 + 1)
DEAD_LETTER_RETENTION = Duration.days(14)
EVENT_TYPES = ["OrderPlaced", "OrderCancelled"]


def messaging_key(scope: Construct, id_: str, purpose: str, removal: RemovalPolicy) -> kms.Key:
    """A rotating customer-managed key. Topics and queues get separate keys: when SNS delivers
    into a KMS-encrypted queue, CDK scopes the queue key's policy to the topic's ARN, and a
    topic encrypted with that same key would make the two depend on each other."""
    return kms.Key(
        scope,
        id_,
        enable_key_rotation=True,
        removal_policy=removal,
        pending_window=Duration.days(7),  # a destroyed sandbox's key is gone within a week
        description=f"Encrypts {purpose}",
    )


def subscription_dead_letter(
    stack: cdk.Stack,
    *,
    fifo: bool,
    key: kms.IKey | None,
    removal: RemovalPolicy,
    alarm_topic: sns.ITopic,
) -> sqs.Queue:
    """Where SNS parks what it could not deliver to a subscribed queue (a queue policy or key
    mistake) after its retries, instead of dropping it; alarmed on one message. A FIFO topic's
    subscriptions need a FIFO dead-letter queue."""
    queue = sqs.Queue(
        stack,
        "SubscriptionDeadLetter",
        fifo=True if fifo else None,
        retention_period=DEAD_LETTER_RETENTION,
        enforce_ssl=True,
        removal_policy=removal,
        encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key=key,
    )
    QueueAlarms(
        stack,
        "DeliveryFailureAlarms",
        queue=queue,
        dead_letter_queue=queue,
        alarm_topic=alarm_topic,
        max_message_age=None,  # a dead-letter queue: any message alarms already
        dead_letter_retention=DEAD_LETTER_RETENTION,
    )
    acknowledge_subscription_dead_letter(stack)
    return queue


def table(
    scope: Construct,
    id_: str,
    partition: str,
    *,
    sort: str | None = None,
    ttl: str | None = None,
    removal: RemovalPolicy,
    key: kms.IKey | None,
) -> dynamodb.Table:
    """An on-demand table with point-in-time recovery, encrypted with `key` when given."""
    return dynamodb.Table(
        scope,
        id_,
        partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort, type=dynamodb.AttributeType.STRING)
        if sort
        else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=(
            dynamodb.TableEncryption.CUSTOMER_MANAGED
            if key
            else dynamodb.TableEncryption.AWS_MANAGED
        ),
        encryption_key=key,
        time_to_live_attribute=ttl,
        removal_policy=removal,
    )


class OrderFanOutStack(cdk.Stack):
    """The fan-out pattern with its four consumers, deployable on its own."""

    def __init__(self, scope: Construct, id_: str, *, profile: Profile, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY
        retention = profile_log_retention(profile)
        topic_key = messaging_key(self, "TopicKey", "order events in the orders topic", removal)
        # SQS-managed encryption in a sandbox; in production a key whose policy CDK extends to
        # let this topic (and only it) deliver into the queues.
        queue_key = (
            messaging_key(self, "QueueKey", "order events in SQS queues and tables", removal)
            if profile.customer_managed_keys
            else None
        )
        alarms = AlarmTopic(self, "Alarms", key_removal_policy=removal)

        self.topic = sns.Topic(
            self, "OrdersTopic", master_key=topic_key, enforce_ssl=True, display_name="Order events"
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
                environment=environment,
                timeout=CONSUMER_TIMEOUT,
                batch_size=10,
                max_batching_window=BATCHING_WINDOW,
                max_concurrency=5,
                service_name=f"{unit.lower()}-consumer",
                alarm_topic=alarms.topic,
                dead_letter_alarm=False,  # QueueAlarms watches the DLQ and its expiry
                log_retention=retention,
                removal_policy=removal,
            )
            tables[unit].grant_read_write_data(consumer.function)
            if unit != "Audit":
                idempotency.grant_read_write_data(consumer.function)
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
