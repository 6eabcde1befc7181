"""The SNS subscriptions' dead-letter queue of a fan-out stack, alarmed like every other DLQ."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from queue_patterns import QueueAlarms

from stacks.nag_acknowledgments import acknowledge_subscription_dead_letter

DEAD_LETTER_RETENTION = Duration.days(14)


def subscription_dead_letter(
    stack: cdk.Stack,
    *,
    fifo: bool,
    key: kms.IKey | None,
    removal: RemovalPolicy,
    alarm_topic: sns.ITopic,
) -> sqs.Queue:
    """Where SNS parks what it could not deliver to a subscribed queue instead of dropping it:
    at once for a client-side error such as a queue policy or key that refuses SNS, after the
    retry schedule for server-side errors
    (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html). Alarmed on
    one message. A FIFO topic's subscriptions need a FIFO dead-letter queue
    (https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html)."""
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
