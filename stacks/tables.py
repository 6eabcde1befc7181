"""DynamoDB tables for the consumers, and item-level grants that give each handler only what it calls.

CDK's `grant_read_write_data` opens every item action (BatchWrite, Delete, Scan, ...) on a
table. A consumer here calls two or three item actions, so it gets exactly those; where several
consumers share one idempotency table, each may touch only the records whose key starts with
its own prefix (`dynamodb:LeadingKeys`,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "ConditionCheckItem"}


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
    """An on-demand table with point-in-time recovery, encrypted with `key` when given, and
    protected from deletion when its data is retained."""
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
        deletion_protection=removal == RemovalPolicy.RETAIN,
        removal_policy=removal,
    )


def grant_items(
    table_: dynamodb.ITable,
    grantee: iam.IGrantable,
    actions: Sequence[str],
    *,
    key_prefix: str | None = None,
) -> None:
    """Let `grantee` call exactly `actions` (e.g. "PutItem") on the table's items; with
    `key_prefix`, only on items whose partition key starts with `<key_prefix>#`."""
    conditions = (
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{key_prefix}#*"]}}
        if key_prefix
        else None
    )
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[f"dynamodb:{action}" for action in actions],
            resources=[table_.table_arn],
            conditions=conditions,
        )
    )
    if table_.encryption_key is not None:
        # DynamoDB uses the table's key on the caller's behalf: reads decrypt, writes also
        # encrypt (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html).
        if set(actions) <= READS:
            table_.encryption_key.grant_decrypt(grantee)
        else:
            table_.encryption_key.grant_encrypt_decrypt(grantee)
