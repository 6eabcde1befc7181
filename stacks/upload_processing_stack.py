"""Asynchronous task offload: upload -> S3 -> SQS -> Lambda validates, compresses, stores.

Seed 001 pattern 3: "After a user uploads a file, the web app responds immediately. Lambda picks
up the task from SQS to validate, compress, store." The web app only puts the file under
`incoming/` in the uploads bucket (a presigned URL keeps even that off its servers); S3 notifies
the upload-tasks queue; `upload_processor` does the slow work at its own pace, with partial batch
responses, and what it refuses ends in the DLQ, which alarms.

Why a queue between S3 and Lambda rather than S3 invoking Lambda directly: the queue absorbs a
burst of uploads beyond the function's concurrency cap for its whole retention (an asynchronous
invocation is retried twice after a function error and for up to 6 hours by default after a
throttle, then dropped: docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html),
it gives a visible backlog and age to alarm on, and redrive after a fix is one command
(tools/redrive.py).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from queue_patterns import LambdaQueueConsumer, QueueAlarms, QueueWithDeadLetter

from stacks.keys import alarm_topic, logs_key, messaging_key
from stacks.nag_acknowledgments import acknowledge_upload_processing
from stacks.powertools_layer import powertools_layer
from stacks.private_buckets import PrivateBuckets
from stacks.profiles import Profile
from stacks.profiles import log_retention as profile_log_retention

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
PROCESSOR_TIMEOUT = Duration.seconds(60)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
INCOMING_PREFIX = "incoming/"


class UploadProcessingStack(cdk.Stack):
    """The async task offload pattern, deployable on its own."""

    def __init__(self, scope: Construct, id_: str, *, profile: Profile, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY
        # Buckets and queue get separate keys: CDK lets S3 use the queue's key with a policy
        # naming the uploads bucket, which would make one shared key and the bucket circular.
        bucket_key, queue_key = (
            (
                messaging_key(self, "BucketKey", "uploads and processed files", removal),
                messaging_key(self, "QueueKey", "upload tasks", removal),
            )
            if profile.customer_managed_keys
            else (None, None)
        )
        alarms = alarm_topic(self, "Alarms", profile, removal)
        log_key = logs_key(self, "LogsKey", removal) if profile.customer_managed_keys else None

        buckets = PrivateBuckets(self, "Buckets", profile=profile, key=bucket_key)
        # Originals are only needed until processed; a week covers a DLQ investigation.
        self.uploads = buckets.bucket(
            "Uploads",
            lifecycle_rules=[s3.LifecycleRule(prefix=INCOMING_PREFIX, expiration=Duration.days(7))],
        )
        self.processed = buckets.bucket("Processed", results=True)

        self.tasks = QueueWithDeadLetter(
            self,
            "UploadTasks",
            visibility_timeout=Duration.seconds(6 * PROCESSOR_TIMEOUT.to_seconds()),
            # Five, as Lambda's guidance for event source mappings asks: a throttled or interrupted
            # batch must not dead-letter a good upload (QueueRules QR5).
            max_receive_count=5,
            encryption_key=queue_key,
            removal_policy=removal,
        )
        self.uploads.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            UploadNotifications(self.tasks.queue),
            s3.NotificationKeyFilter(prefix=INCOMING_PREFIX),
        )
        QueueAlarms(
            self,
            "UploadTaskAlarms",
            queue=self.tasks.queue,
            dead_letter_queue=self.tasks.dead_letter_queue,
            alarm_topic=alarms.topic,
            max_message_age=None,  # the processor's MessageAge alarm (5 min) watches this queue
            dead_letter_retention=Duration.days(14),
        )

        processor = LambdaQueueConsumer(
            self,
            "Processor",
            queue=self.tasks.queue,
            code_path=str(LAMBDA_DIR / "upload_processor"),
            handler="upload_processor.handler",
            powertools_layer=powertools_layer(self),
            environment={
                "PROCESSED_BUCKET": self.processed.bucket_name,
                "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            },
            timeout=PROCESSOR_TIMEOUT,
            memory_size=1024,
            batch_size=5,
            max_concurrency=10,
            service_name="upload-processor",
            alarm_topic=alarms.topic,
            dead_letter_alarm=False,  # QueueAlarms watches the DLQ and its expiry
            log_retention=profile_log_retention(profile),
            log_encryption_key=log_key,
            removal_policy=removal,
        )
        # Exactly the two object operations the processor performs, instead of the bucket
        # grants' GetObject*/List*/Abort* families.
        processor.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.uploads.arn_for_objects(f"{INCOMING_PREFIX}*")],
            )
        )
        processor.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.processed.arn_for_objects("processed/*")]
            )
        )
        if bucket_key:
            bucket_key.grant(processor.role, "kms:Decrypt", "kms:GenerateDataKey")

        for name, value in (
            ("UploadsBucketName", self.uploads.bucket_name),
            ("ProcessedBucketName", self.processed.bucket_name),
            ("UploadTasksQueueUrl", self.tasks.queue.queue_url),
            ("UploadTasksDeadLetterQueueUrl", self.tasks.dead_letter_queue.queue_url),
        ):
            cdk.CfnOutput(self, name, value=value)

        acknowledge_upload_processing(self, self.uploads, self.processed)


@jsii.implements(s3.IBucketNotificationDestination)
class UploadNotifications:
    """S3 event notifications into an (encrypted) queue, granted no more than they need.

    CDK's `SqsDestination` lets S3 call SendMessage, GetQueueAttributes and GetQueueUrl with
    only an aws:SourceArn condition, and lets S3 use the queue's key with no condition at all.
    A bucket ARN names no account and bucket names are reused after deletion, so AWS advises
    aws:SourceAccount beside aws:SourceArn
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).
    Here S3 may only SendMessage, and only for this bucket in this account, on the queue and
    its key alike.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, scope, bucket: s3.IBucket) -> s3.BucketNotificationDestinationConfig:
        this_bucket = {
            "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
            "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
        }
        s3_service = iam.ServicePrincipal("s3.amazonaws.com")
        added = self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[s3_service],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions=this_bucket,
            )
        )
        if self.queue.encryption_master_key is not None:
            # SQS encrypts what S3 sends with a data key from the queue's key.
            self.queue.encryption_master_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[s3_service],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                    conditions=this_bucket,
                )
            )
        return s3.BucketNotificationDestinationConfig(
            arn=self.queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[added.policy_dependable] if added.policy_dependable else None,
        )
