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
