"""An SNS topic for alarms that CloudWatch can publish to: KMS-encrypted and TLS-only.

Why a construct: an encrypted topic is what a reviewer asks for, but an AWS service that
publishes to an encrypted topic, CloudWatch alarms included, needs a customer-managed key whose
policy lets it use the key; the AWS-managed `alias/aws/sns` key cannot be given that, so alarms
would fail silently (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services). This topic gets a customer-managed key whose policy lets
CloudWatch use it, scoped to this account.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    """Encrypted, TLS-only SNS topic that CloudWatch alarms can publish to.

    Attributes: `topic`, `key` (the customer-managed key that encrypts it).

    Props:
        email_subscribers: addresses to subscribe (each must confirm by email).
        key_removal_policy: what `cdk destroy` does to the topic's KMS key.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        email_subscribers: Sequence[str] = (),
        key_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        for address in email_subscribers:
            if "@" not in address:
                raise ValueError(
                    f"AlarmTopic.email_subscribers: {address!r} is not an email address"
                )
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the alarm topic; lets CloudWatch alarms publish to it",
            enable_key_rotation=True,
            removal_policy=key_removal_policy,
            # When removal is DESTROY, the shortest wait KMS allows before the key is deleted
            # (7..30 days: https://docs.aws.amazon.com/kms/latest/cryptographic-details/key-deletion.html).
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        for address in email_subscribers:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
