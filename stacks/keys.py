"""Customer-managed KMS keys for the stacks, with the deletion window the profile calls for.

A key a sandbox destroys waits the shortest window KMS allows (7 days) before it is gone; a
production key is retained by `cdk destroy`, and if anyone schedules its deletion by hand it
waits the longest (30 days), time to notice and cancel
(https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct
from queue_patterns import AlarmTopic

from stacks.nag_acknowledgments import acknowledge_findings
from stacks.profiles import Profile


def pending_window(removal: RemovalPolicy) -> Duration:
    """7 days for a key `cdk destroy` deletes, 30 for a retained one."""
    return Duration.days(7 if removal == RemovalPolicy.DESTROY else 30)


def messaging_key(scope: Construct, id_: str, purpose: str, removal: RemovalPolicy) -> kms.Key:
    """A rotating customer-managed key. Topics and queues get separate keys: when SNS delivers
    into a KMS-encrypted queue, CDK scopes the queue key's policy to the topic's ARN, and a
    topic encrypted with that same key would make the two depend on each other."""
    return kms.Key(
        scope,
        id_,
        enable_key_rotation=True,
        removal_policy=removal,
        pending_window=pending_window(removal),
        description=f"Encrypts {purpose}",
    )


def logs_key(scope: Construct, id_: str, removal: RemovalPolicy) -> kms.Key:
    """A key for the stack's CloudWatch Logs log groups (API access logs hold caller ARNs and
    IP addresses). CloudWatch Logs uses it for log groups of this account and region only, as
    AWS's key policy for log encryption prescribes
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)."""
    stack = Stack.of(scope)
    key = messaging_key(scope, id_, "this stack's CloudWatch Logs log groups", removal)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:{stack.partition}:logs:"
                    f"{stack.region}:{stack.account}:log-group:*"
                }
            },
        )
    )
    return key


def topic_key(
    scope: Construct, id_: str, purpose: str, removal: RemovalPolicy, profile: Profile
) -> kms.IKey:
    """The key of an event topic that this account's own code publishes to: a rotating
    customer-managed key in production; the AWS-managed aws/sns key in a sandbox, which SNS uses
    for any publisher of this account at no key charge (only AWS services that publish, such
    as CloudWatch alarms, need a customer-managed key:
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""
    if profile.customer_managed_keys:
        return messaging_key(scope, id_, purpose, removal)
    return kms.Alias.from_alias_name(scope, id_, "alias/aws/sns")


def alarm_topic(
    scope: Construct, id_: str, profile: Profile, removal: RemovalPolicy, **props
) -> AlarmTopic:
    """The stack's alarm topic: encrypted with its own customer-managed key in production,
    unencrypted in a sandbox (the profile's trade-off says why)."""
    topic = AlarmTopic(
        scope,
        id_,
        encrypted=profile.customer_managed_keys,
        key_removal_policy=removal,
        **props,
    )
    if not profile.customer_managed_keys:
        acknowledge_findings(
            scope,
            f"{id_}/Topic",
            {"AwsSolutions-SNS2": profile.trade_offs["unencrypted alarm topics"]},
        )
    return topic
