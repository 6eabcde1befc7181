"""An SNS topic for alarms that CloudWatch can publish to: KMS-encrypted (or, where you choose, not) and TLS-only.

Why a construct: two quiet mistakes stop alarm notifications while everything deploys green.
- The key: an AWS service that publishes to an encrypted topic, CloudWatch alarms included,
  needs a customer-managed key whose policy lets it use the key; the AWS-managed
  `alias/aws/sns` key cannot be given that
  (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
  This topic gets a customer-managed key whose policy lets CloudWatch use it, for this
  account's alarms only.
- The topic policy: a topic policy replaces SNS's default policy. CDK's `enforce_ssl` writes
  one that holds only the TLS Deny, and then nothing allows cloudwatch.amazonaws.com to
  `sns:Publish` ("no resource-based policy allows the SNS:Publish action"). This topic's policy
  allows CloudWatch, scoped with aws:SourceAccount and aws:SourceArn to this account's alarms
  (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html), beside the TLS
  Deny.
Auto Scaling group notifications come from the Auto Scaling service-linked role, which may
publish through its own policy but has no access to customer-managed keys
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html
says so for its EBS keys): `auto_scaling_notifications=True` lets that role use the key.
tools/access_wiring.py proves each of these paths with an IAM policy simulator.

`encrypted=False` leaves the topic unencrypted (no key, no $1-a-month key charge: an alarm
notification carries alarm names, states and metric values, not business data); the topic
policy and its TLS-only Deny stay. Default: encrypted.

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

    Attributes: `topic`, `key` (the customer-managed key that encrypts it; None when unencrypted).

    Props:
        email_subscribers: addresses to subscribe (each must confirm by email).
        encrypted: encrypt the topic with a customer-managed key CloudWatch may use; False: unencrypted (no key to pay for).
        auto_scaling_notifications: let Auto Scaling groups' launch/terminate notifications through the key.
        key_removal_policy: what `cdk destroy` does to the topic's KMS key.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        email_subscribers: Sequence[str] = (),
        encrypted: bool = True,
        auto_scaling_notifications: bool = False,
        key_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        for address in email_subscribers:
            if "@" not in address:
                raise ValueError(
                    f"AlarmTopic.email_subscribers: {address!r} is not an email address"
                )
        stack = Stack.of(self)
        # Only this account's alarms: CloudWatch sends aws:SourceAccount and aws:SourceArn
        # (the alarm) with the request, so another account's alarm cannot use this topic.
        this_accounts_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
                f"{stack.account}:alarm:*"
            },
        }
        self.key: kms.Key | None = None
        if encrypted:
            self.key = kms.Key(
                self,
                "Key",
                description="Encrypts the alarm topic; lets CloudWatch alarms publish to it",
                enable_key_rotation=True,
                removal_policy=key_removal_policy,
                # The shortest wait KMS allows when `cdk destroy` deletes the key, the longest when it is
                # kept (a deletion scheduled by hand can then be noticed and cancelled); KMS allows 7..30
                # days: https://docs.aws.amazon.com/kms/latest/cryptographic-details/key-deletion.html
                pending_window=Duration.days(
                    7 if key_removal_policy == RemovalPolicy.DESTROY else 30
                ),
            )
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowCloudWatchAlarmsToUseTheKey",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions=this_accounts_alarms,
                )
            )
            if auto_scaling_notifications:
                # Named by condition, not as the principal: a key policy naming a role that does not
                # exist yet (a new account's first Auto Scaling group creates it) fails to deploy.
                self.key.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid="AllowAutoScalingNotificationsToUseTheKey",
                        principals=[iam.AnyPrincipal()],
                        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                        resources=["*"],
                        conditions={
                            "StringEquals": {
                                "aws:PrincipalArn": f"arn:{stack.partition}:iam::{stack.account}:role/"
                                "aws-service-role/autoscaling.amazonaws.com/"
                                "AWSServiceRoleForAutoScaling",
                                "kms:CallerAccount": stack.account,
                                "kms:ViaService": f"sns.{stack.region}.amazonaws.com",
                            }
                        },
                    )
                )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=this_accounts_alarms,
            )
        )
        for address in email_subscribers:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
