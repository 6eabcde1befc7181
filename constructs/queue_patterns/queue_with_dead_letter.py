"""SQS queue + dead-letter queue, encrypted and TLS-only: the unit every queue pattern starts from.

Why a construct: a queue without a dead-letter queue hides its failures (a poison message is
retried until retention silently deletes it), and a standard queue keeps a message's original
enqueue timestamp when it moves it to the DLQ, so a dead letter that spent longer in its source
queue than the DLQ's retention is deleted on arrival, and every dead letter is kept only for the
DLQ's retention minus its time in the source. A standard DLQ must therefore outlive its source
(AWS's advice); a FIFO queue resets the enqueue timestamp on the move, so its DLQ needs no such
margin. Both mistakes are made here impossible at synth time. Source, as of 2026-12-02:
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_RETENTION = Duration.days(14)
# Where SQS states the limits enforced below (as of 2026-12-02).
SQS_ATTRIBUTES = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
SQS_DLQ_CONSOLE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue.html"
SQS_DLQ_RETENTION = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html"


class QueueWithDeadLetter(Construct):
    """A source queue whose failures land in a longer-lived dead-letter queue.

    Attributes: `queue` (consume and send here), `dead_letter_queue` (alarm on it, redrive from it),
    `max_receive_count` (receives before a message is dead-lettered). `grant_send(grantee)` lets
    a producer send and nothing else.

    Props:
        max_receive_count: receives before SQS moves a message to the DLQ (1..1000).
        visibility_timeout: how long a received message stays hidden; size it from the consumer's processing budget.
        retention_period: how long the source queue keeps a message (60 s..14 days).
        dead_letter_retention_period: how long dead letters are kept; standard queues: longer than `retention_period`.
        receive_wait_time: long-polling wait (0..20 s); 20 s cuts empty receives and their cost.
        fifo: make both queues FIFO (ordered per message group, exactly-once within 5 minutes).
        content_based_deduplication: FIFO only: deduplicate on a SHA-256 of the body.
        encryption_key: customer-managed KMS key; None uses SQS-managed encryption (SSE-SQS).
        removal_policy: what `cdk destroy` does to both queues.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        max_receive_count: int = 5,
        visibility_timeout: Duration = Duration.seconds(30),
        retention_period: Duration = Duration.days(4),
        dead_letter_retention_period: Duration = MAX_RETENTION,
        receive_wait_time: Duration = Duration.seconds(20),
        fifo: bool = False,
        content_based_deduplication: bool = False,
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        _validate(
            max_receive_count=max_receive_count,
            visibility_timeout=visibility_timeout,
            retention_period=retention_period,
            dead_letter_retention_period=dead_letter_retention_period,
            receive_wait_time=receive_wait_time,
            fifo=fifo,
            content_based_deduplication=content_based_deduplication,
        )
        encryption = dict(
            encryption=sqs.QueueEncryption.KMS
            if encryption_key
            else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=encryption_key,
            # No data_key_reuse: SQS reuses a data key for 300 s by default, and that is the value
            # this construct would set (KmsDataKeyReusePeriodSeconds, SetQueueAttributes API).
        )
        fifo_props = dict(fifo=True) if fifo else {}
        self.max_receive_count = max_receive_count
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetter",
            retention_period=dead_letter_retention_period,
            enforce_ssl=True,
            removal_policy=removal_policy,
            **fifo_props,
            **encryption,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            visibility_timeout=visibility_timeout,
            retention_period=retention_period,
            receive_message_wait_time=receive_wait_time,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
            enforce_ssl=True,
            removal_policy=removal_policy,
            content_based_deduplication=content_based_deduplication if fifo else None,
            **fifo_props,
            **encryption,
        )

    def grant_send(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` (a role, a managed policy, another account) send to the queue and do
        nothing else: `sqs:SendMessage`, and on a KMS-encrypted queue the two key actions a
        producer needs, `kms:GenerateDataKey` and `kms:Decrypt`
        (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html),
        usable only through SQS. CDK's `grant_send_messages` adds queue reads and
        `kms:Encrypt`/`kms:ReEncrypt*` on top."""
        iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=["sqs:SendMessage"],
            resource_arns=[self.queue.queue_arn],
            resource=self.queue,
        )
        key = self.queue.encryption_master_key
        if key is not None:
            iam.Grant.add_to_principal_or_resource(
                grantee=grantee,
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resource_arns=[key.key_arn],
                resource_self_arns=["*"],
                resource=key,
                conditions={
                    "StringEquals": {"kms:ViaService": f"sqs.{Stack.of(self).region}.amazonaws.com"}
                },
            )


def _validate(
    *,
    max_receive_count: int,
    visibility_timeout: Duration,
    retention_period: Duration,
    dead_letter_retention_period: Duration,
    receive_wait_time: Duration,
    fifo: bool,
    content_based_deduplication: bool,
) -> None:
    """Fail synth with a message naming the prop, its value and the rule."""
    name = "QueueWithDeadLetter"
    if not 1 <= max_receive_count <= 1000:
        raise ValueError(
            f"{name}.max_receive_count: {max_receive_count} is outside 1..1000 "
            f"(the range SQS accepts in a redrive policy: {SQS_DLQ_CONSOLE})"
        )
    if not 0 <= visibility_timeout.to_seconds() <= 43_200:
        raise ValueError(
            f"{name}.visibility_timeout: {visibility_timeout.to_seconds()}s is outside 0s..12h "
            f"(the range SQS accepts: {SQS_ATTRIBUTES})"
        )
    for prop, value in (
        ("retention_period", retention_period),
        ("dead_letter_retention_period", dead_letter_retention_period),
    ):
        if not 60 <= value.to_seconds() <= MAX_RETENTION.to_seconds():
            raise ValueError(
                f"{name}.{prop}: {value.to_seconds()}s is outside 60s..14 days "
                f"(the range SQS accepts: {SQS_ATTRIBUTES})"
            )
    if not fifo and dead_letter_retention_period.to_seconds() <= retention_period.to_seconds():
        raise ValueError(
            f"{name}.dead_letter_retention_period: {dead_letter_retention_period.to_seconds()}s "
            f"is not longer than retention_period ({retention_period.to_seconds()}s); a standard "
            "queue keeps a message's original enqueue timestamp when it moves it to the DLQ, so a "
            "dead letter that spent longer in the source queue than the DLQ's retention is deleted "
            f"on arrival (FIFO queues reset it: {SQS_DLQ_RETENTION})"
        )
    if not 0 <= receive_wait_time.to_seconds() <= 20:
        raise ValueError(
            f"{name}.receive_wait_time: {receive_wait_time.to_seconds()}s is outside 0..20s "
            f"(SQS long polling waits at most 20s: {SQS_ATTRIBUTES})"
        )
    if content_based_deduplication and not fifo:
        raise ValueError(
            f"{name}.content_based_deduplication: True needs fifo=True "
            "(standard queues do not deduplicate)"
        )
