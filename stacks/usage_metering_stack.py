"""Fan-in and scheduled batching: many producers -> one usage queue -> one batch per interval.

Seed 001 patterns 5 (fan-in: multiple producers -> single SQS -> one consumer group) and 7
(batch processing via scheduled workers). Services across the company report small usage events
(API calls, storage, messages) to one queue through a send-only managed policy, or from other
accounts listed in `-c usage_producer_accounts=...`. Every five minutes `usage_batcher` drains
the queue and writes one gzip'd JSON-lines object per run to S3, with a per-customer summary:
one invocation and one object per interval instead of one per event.

    producers (any number, any account) --SendMessage--> usage queue --every 5 min-->
        usage_batcher --one object per run--> batches bucket (usage/dt=.../hour=.../*.jsonl.gz)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from constructs import Construct
from queue_patterns import QueueAlarms, QueueWithDeadLetter, ScheduledQueueWorker

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
            ("BatchBucketName", self.batches.bucket_name),
        ):
            cdk.CfnOutput(self, name, value=value)

        acknowledge_usage_metering(self, self.batches, profile)
