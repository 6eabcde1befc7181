"""Fan-in and scheduled batching: many producers -> one usage queue -> one batch per interval.

Seed 001 patterns 5 (fan-in: multiple producers -> single SQS -> one consumer group) and 7
(batch processing via scheduled workers). Services across the company report small usage events
(API calls, storage, messages) to one queue through a send-only managed policy, or from other
accounts listed in `-c usage_producer_accounts=...`; services that already publish domain events
to EventBridge put them on the usage bus, and a rule sends the chosen ones to the same queue
(seed 001's "EventBridge: custom events sent to SQS"). Every five minutes `usage_batcher` drains
the queue and writes one gzip'd JSON-lines object per run to S3, with a per-customer summary:
one invocation and one object per interval instead of one per event.

    producers (any number, any account) --SendMessage--> usage queue --every 5 min-->
    services --PutEvents--> usage bus --rule, input transformation--^
        usage_batcher --one object per run--> batches bucket (usage/dt=.../hour=.../*.jsonl.gz)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct
from queue_patterns import (
    EventRuleToQueue,
    QueueAlarms,
    QueueWithDeadLetter,
    ScheduledQueueWorker,
)

from stacks.keys import alarm_topic, logs_key, messaging_key
from stacks.nag_acknowledgments import acknowledge_usage_metering
from stacks.powertools_layer import powertools_layer
from stacks.private_buckets import PrivateBuckets
from stacks.profiles import Profile
from stacks.profiles import log_retention as profile_log_retention

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
EVERY = Duration.minutes(5)
BATCH_TIMEOUT = Duration.minutes(2)
# A message received early in a run stays hidden until the run deletes it, plus a margin.
VISIBILITY = Duration.seconds(BATCH_TIMEOUT.to_seconds() + 60)
# The events the usage rule chooses: "Usage Recorded", with a customer, a meter and a quantity
# of 0 or more (the batcher still checks the meter's name and refuses what it does not know).
USAGE_RECORDED = events.EventPattern(
    detail_type=["Usage Recorded"],
    detail={
        "customerId": [{"exists": True}],
        "meter": [{"exists": True}],
        "quantity": [{"numeric": [">=", 0]}],
    },
)
# The event becomes the message direct producers send: one contract at the consumer.
USAGE_MESSAGE = events.RuleTargetInput.from_object(
    {
        "eventId": events.EventField.event_id,
        "producer": events.EventField.source,
        "customerId": events.EventField.from_path("$.detail.customerId"),
        "meter": events.EventField.from_path("$.detail.meter"),
        "quantity": events.EventField.from_path("$.detail.quantity"),
    }
)
# An event EventBridge could not deliver for an hour is parked and alarmed, not retried for a
# day: usage is batched every five minutes, so an hour late is already worth a look.
EVENT_RETRY_WINDOW = Duration.hours(1)


class UsageMeteringStack(cdk.Stack):
    """The fan-in and scheduled-batch patterns, deployable on their own."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: Profile,
        producer_accounts: Sequence[str] = (),
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY
        bucket_key, queue_key = (
            (
                messaging_key(self, "BucketKey", "usage batches", removal),
                messaging_key(self, "QueueKey", "usage events", removal),
            )
            if profile.customer_managed_keys
            else (None, None)
        )
        alarms = alarm_topic(self, "Alarms", profile, removal)
        log_key = logs_key(self, "LogsKey", removal) if profile.customer_managed_keys else None

        self.usage = QueueWithDeadLetter(
            self,
            "UsageEvents",
            visibility_timeout=VISIBILITY,
            max_receive_count=3,
            encryption_key=queue_key,
            removal_policy=removal,
        )
        # The fan-in door: producers attach this policy, or come from the listed accounts.
        self.producer_policy = iam.ManagedPolicy(
            self,
            "UsageProducerPolicy",
            description="Send usage events to the usage queue, nothing else",
        )
        self.usage.grant_send(self.producer_policy)
        for account in producer_accounts:
            self.usage.grant_send(iam.AccountPrincipal(account))
        # The other door: services publish "Usage Recorded" events to the usage bus.
        self.usage_bus = events.EventBus(self, "UsageBus")
        self.producer_policy.add_statements(
            iam.PolicyStatement(
                actions=["events:PutEvents"], resources=[self.usage_bus.event_bus_arn]
            )
        )
        EventRuleToQueue(
            self,
            "UsageRecorded",
            event_bus=self.usage_bus,
            event_pattern=USAGE_RECORDED,
            queue=self.usage.queue,
            message=USAGE_MESSAGE,
            max_event_age=EVENT_RETRY_WINDOW,
            dead_letter_encryption_key=queue_key,
            alarm_topic=alarms.topic,
            description="Usage Recorded events -> the usage queue, as usage messages",
            removal_policy=removal,
        )
        QueueAlarms(
            self,
            "UsageAlarms",
            queue=self.usage.queue,
            dead_letter_queue=self.usage.dead_letter_queue,
            alarm_topic=alarms.topic,
            max_message_age=None,  # the batcher's own alarm knows the schedule
            dead_letter_retention=Duration.days(14),
        )

        buckets = PrivateBuckets(self, "Buckets", profile=profile, key=bucket_key)
        self.batches = buckets.bucket("Batches", results=True)
        batcher = ScheduledQueueWorker(
            self,
            "Batcher",
            queue=self.usage.queue,
            queue_visibility_timeout=VISIBILITY,
            code_path=str(LAMBDA_DIR / "usage_batcher"),
            handler="usage_batcher.handler",
            powertools_layer=powertools_layer(self),
            every=EVERY,
            timeout=BATCH_TIMEOUT,
            max_message_age=Duration.minutes(15),
            environment={"BATCH_BUCKET": self.batches.bucket_name, "MAX_MESSAGES": "5000"},
            alarm_topic=alarms.topic,
            log_retention=profile_log_retention(profile),
            log_encryption_key=log_key,
            removal_policy=removal,
        )
        batcher.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.batches.arn_for_objects("usage/*")]
            )
        )
        if bucket_key:
            bucket_key.grant(batcher.role, "kms:GenerateDataKey")

        for name, value in (
            ("UsageQueueUrl", self.usage.queue.queue_url),
            ("UsageDeadLetterQueueUrl", self.usage.dead_letter_queue.queue_url),
            ("UsageProducerPolicyArn", self.producer_policy.managed_policy_arn),
            ("UsageEventBusName", self.usage_bus.event_bus_name),
            ("BatchBucketName", self.batches.bucket_name),
        ):
            cdk.CfnOutput(self, name, value=value)

        acknowledge_usage_metering(self, self.batches, profile)
