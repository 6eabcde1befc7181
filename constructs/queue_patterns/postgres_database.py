"""RDS PostgreSQL for queue consumers: private, encrypted, TLS-only, RDS-managed master password.

Why a construct: the database is what the write buffer protects, so it must not be reachable from
anywhere but the consumers. It lives in isolated subnets (no route to the internet), admits only
the security groups you `allow_from`, forces TLS, exports its log to a CloudWatch log group this
construct owns (retention set, removed with the stack). The master password is RDS-managed: RDS
keeps it in Secrets Manager and rotates it itself (every 7 days by default), with no rotation
Lambda and no network path to Secrets Manager
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html). IAM database
authentication is on: `grant_connect(role, "user")` lets a role log in as one database user with
a token instead of a password. The engine's minor version is pinned: an unplanned minor upgrade
is a change a reviewer should see in a diff.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

import re

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

# Where RDS states the limits enforced below (as of 2026-12-02).
RDS_CREATE_INSTANCE = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
)
RDS_MAX_CONNECTIONS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections"
# Memory of the DB instance classes whose connection limit this construct knows, in GiB
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html,
# as of 2026-12-02). For any other class `connection_limit` is None and nothing is checked.
CLASS_MEMORY_GIB = {
    "t4g.micro": 1,
    "t4g.small": 2,
    "t4g.medium": 4,
    "t4g.large": 8,
    "m7g.large": 8,
    "m7g.xlarge": 16,
}
# RDS for PostgreSQL's default max_connections: LEAST({DBInstanceClassMemory/9531392}, 5000).
MEMORY_PER_CONNECTION = 9_531_392
MAX_CONNECTIONS_CAP = 5000


class PostgresDatabase(Construct):
    """A single RDS PostgreSQL instance with an RDS-managed master password and IAM database
    authentication.

    Attributes: `instance`, `secret` (the RDS-managed master secret: username, password),
    `database_name`, `endpoint_address`, `port`, `resource_id` (for `rds-db:connect`),
    `log_group`, `connection_limit` (the instance class's default max_connections, or None for a
    class this file does not know). Call `allow_from(peer, description, max_connections=...)`
    for each consumer security group (synth fails when the peers together may open more
    connections than the limit) and `grant_connect(grantee, user)` for each role that logs in
    with IAM.

    Props:
        vpc: the VPC; the instance goes in its isolated subnets.
        database_name: the database to create: 1..63 letters, digits or '_', the first a letter (RDS's rule).
        engine_version: pinned PostgreSQL version, minor included.
        instance_type: DB instance class; default t4g.micro.
        allocated_storage_gib: gp3 storage (20..65536 GiB).
        multi_az: standby in a second AZ with automatic failover.
        deletion_protection: refuse deletion until turned off.
        backup_retention: days of automated backups (1..35).
        storage_encryption_key: customer-managed KMS key for storage and the secret; None: aws/rds for storage, aws/secretsmanager for the secret.
        performance_insights: collect Performance Insights data (any PostgreSQL class, micro too), shown in CloudWatch Database Insights.
        log_retention: retention of the exported PostgreSQL log.
        log_encryption_key: customer-managed KMS key for the exported log; None: CloudWatch Logs' own encryption.
        monitoring_interval: Enhanced Monitoring (OS metrics) every 1, 5, 10, 15, 30 or 60 s; None: off.
        removal_policy: what `cdk destroy` does to the instance (SNAPSHOT, RETAIN or DESTROY).
        instance_identifier: the DB instance name; default `<stack name>-<construct id>`, lowercased.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        database_name: str = "app",
        engine_version: rds.PostgresEngineVersion = rds.PostgresEngineVersion.VER_17_6,
        instance_type: ec2.InstanceType | None = None,
        allocated_storage_gib: int = 20,
        multi_az: bool = True,
        deletion_protection: bool = True,
        backup_retention: Duration = Duration.days(7),
        storage_encryption_key: kms.IKey | None = None,
        performance_insights: bool = False,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_encryption_key: kms.IKey | None = None,
        monitoring_interval: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT,
        instance_identifier: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        name = "PostgresDatabase"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", database_name):
            raise ValueError(
                f"{name}.database_name: {database_name!r} must be 1 to 63 ASCII letters, digits "
                f"or '_', beginning with a letter (RDS for PostgreSQL's DBName rule: "
                f"{RDS_CREATE_INSTANCE})"
            )
        if not 20 <= allocated_storage_gib <= 65_536:
            raise ValueError(
                f"{name}.allocated_storage_gib: {allocated_storage_gib} is outside 20..65536 "
                f"(the gp3 range RDS for PostgreSQL accepts: {RDS_CREATE_INSTANCE})"
            )
        if not 1 <= backup_retention.to_days() <= 35:
            raise ValueError(
                f"{name}.backup_retention: {backup_retention.to_days()} days is outside 1..35; "
                "RDS accepts 0..35, but 0 would turn off automated backups and point-in-time "
                f"recovery ({RDS_CREATE_INSTANCE})"
            )
        if monitoring_interval is not None and monitoring_interval.to_seconds() not in (
            1,
            5,
            10,
            15,
            30,
            60,
        ):
            raise ValueError(
                f"{name}.monitoring_interval: {monitoring_interval.to_seconds()}s is not one of "
                "1, 5, 10, 15, 30 or 60 s, the Enhanced Monitoring intervals RDS accepts"
            )
        self.database_name = database_name
        self.instance_class = (instance_type or ec2.InstanceType("t4g.micro")).to_string()
        self.connection_limit = _connection_limit(self.instance_class)
        self._admitted_connections = 0
        identifier = instance_identifier or _identifier(Stack.of(self).stack_name, id_)
        # The log group RDS exports to, made here (name known from the identifier) so that its
        # retention is set without CDK's LogRetention Lambda and `cdk destroy` follows the
        # removal policy; RDS would otherwise create it itself and leave it behind forever. A named
        # instance also makes CloudFormation refuse a change that would replace it: no silent
        # data loss.
        self.log_group = logs.LogGroup(
            self,
            "PostgresLog",
            log_group_name=f"/aws/rds/instance/{identifier}/postgresql",
            retention=log_retention,
            encryption_key=log_encryption_key,
            removal_policy=RemovalPolicy.RETAIN
            if removal_policy == RemovalPolicy.RETAIN
            else RemovalPolicy.DESTROY,
        )
        engine = rds.DatabaseInstanceEngine.postgres(version=engine_version)
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_identifier=identifier,
            instance_type=instance_type or ec2.InstanceType("t4g.micro"),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            database_name=database_name,
            credentials=rds.Credentials.from_username(
                "app_admin", encryption_key=storage_encryption_key
            ),
            manage_master_user_password=True,
            iam_authentication=True,
            allocated_storage=allocated_storage_gib,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            storage_encryption_key=storage_encryption_key,
            multi_az=multi_az,
            deletion_protection=deletion_protection,
            backup_retention=backup_retention,
            delete_automated_backups=removal_policy == RemovalPolicy.DESTROY,
            removal_policy=removal_policy,
            publicly_accessible=False,
            auto_minor_version_upgrade=False,
            enable_performance_insights=performance_insights or None,
            monitoring_interval=monitoring_interval,
            cloudwatch_logs_exports=["postgresql"],
            parameter_group=rds.ParameterGroup(
                self,
                "Parameters",
                engine=engine,
                description="TLS-only connections",
                parameters={"rds.force_ssl": "1"},
            ),
        )
        self.instance.node.add_dependency(self.log_group)
        self.secret = self.instance.secret
        self.endpoint_address = self.instance.db_instance_endpoint_address
        self.port = self.instance.db_instance_endpoint_port
        self.resource_id = self.instance.instance_resource_id

    def allow_from(
        self, peer: ec2.IConnectable, description: str, *, max_connections: int | None = None
    ) -> None:
        """Admit `peer` (a consumer's security group) on the database port, and nothing else.

        `max_connections`: the most connections the peer can hold at once (a fleet's maximum
        instances x its pool size). Synth fails when the peers admitted so far may hold more
        together than `connection_limit`: at its maximum size the fleet's last instances would
        be refused connections. The limit comes from the class's nominal memory, an upper bound
        (RDS keeps part of it: DBInstanceClassMemory is smaller), so the check never refuses a
        fleet that fits; leave a margin for admin sessions and secret rotation."""
        if max_connections is not None:
            if max_connections < 1:
                raise ValueError(
                    f"PostgresDatabase.allow_from: max_connections {max_connections} for "
                    f"{description!r} must be 1 or more"
                )
            self._admitted_connections += max_connections
            limit = self.connection_limit
            if limit is not None and self._admitted_connections > limit:
                raise ValueError(
                    f"PostgresDatabase.allow_from: {description} may hold {max_connections} "
                    f"connections ({self._admitted_connections} with the peers already "
                    f"admitted), more than {limit}, the default max_connections of "
                    f"db.{self.instance_class} (LEAST(DBInstanceClassMemory/9531392, 5000) with "
                    f"{CLASS_MEMORY_GIB[self.instance_class]} GiB, an upper bound: "
                    f"{RDS_MAX_CONNECTIONS}); lower the peer's maximum instances or pool size, "
                    "choose a larger instance class, or pool connections with RDS Proxy"
                )
        self.instance.connections.allow_default_port_from(peer, description)

    def grant_connect(self, grantee: iam.IGrantable, db_user: str) -> iam.Grant:
        """Let `grantee` log in as the database user `db_user` (and no other) with an IAM token."""
        stack = Stack.of(self)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["rds-db:connect"],
            resource_arns=[
                f"arn:{stack.partition}:rds-db:{stack.region}:{stack.account}:dbuser:"
                f"{self.resource_id}/{db_user}"
            ],
        )

    def metric_connections(self, **options) -> cloudwatch.Metric:
        return self.instance.metric_database_connections(**options)

    def metric_cpu(self, **options) -> cloudwatch.Metric:
        return self.instance.metric_cpu_utilization(**options)


def _connection_limit(instance_class: str) -> int | None:
    """RDS for PostgreSQL's default max_connections for `instance_class` ("t4g.micro"), from
    its nominal memory; None when the class is not in CLASS_MEMORY_GIB."""
    gib = CLASS_MEMORY_GIB.get(instance_class)
    if gib is None:
        return None
    return min(gib * 2**30 // MEMORY_PER_CONNECTION, MAX_CONNECTIONS_CAP)


def _identifier(stack_name: str, id_: str) -> str:
    """`<stack name>-<id>` as an RDS identifier: lowercase letters, digits and single hyphens,
    starting with a letter, at most 63 characters."""
    if Token.is_unresolved(stack_name):
        raise ValueError(
            "PostgresDatabase.instance_identifier: required when the stack name is not known at "
            "synth; the exported log group is named after the instance"
        )
    raw = re.sub(r"[^a-z0-9]+", "-", f"{stack_name}-{id_}".lower()).strip("-")
    if not raw[:1].isalpha():
        raw = f"db-{raw}"
    return raw[:63].rstrip("-")
