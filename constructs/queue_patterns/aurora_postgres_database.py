"""Aurora PostgreSQL Serverless v2 for queue consumers: pauses when idle, private, encrypted, TLS-only.

Why a construct: a database behind a write buffer is idle whenever the queue is, and a sandbox
is idle almost always. With a minimum capacity of 0 ACUs an Aurora Serverless v2 instance
pauses after `auto_pause_after` with no connection and bills only its storage while paused; the
first connection resumes it (up to about 15 s, AWS Database Blog, "Introducing scaling to 0
capacity with Amazon Aurora Serverless v2",
https://aws.amazon.com/blogs/database/introducing-scaling-to-0-capacity-with-amazon-aurora-serverless-v2/).
A queue consumer rides that out with a circuit breaker; a consumer that keeps a connection open
while idle keeps it awake and billing. A minimum above 0 never pauses (production).

Like `PostgresDatabase`: isolated subnets (no route to the internet), only the security groups
you `allow_from`, TLS forced by a cluster parameter group (`rds.force_ssl`), storage encrypted,
the PostgreSQL log exported to a log group this construct owns (retention set, removed with the
stack), engine version pinned. The master password is RDS-managed: RDS keeps it in Secrets
Manager and rotates it itself (every 7 days by default), with no rotation Lambda and no network
path to Secrets Manager
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html). IAM
database authentication is on: `grant_connect(role, "user")` lets a role log in as one database
user with a token instead of a password.

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

# Where AWS states the limits enforced below (as of 2026-12-02).
AURORA_CAPACITY = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.how-it-works.html"
AURORA_AUTO_PAUSE = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html"
RDS_CREATE_CLUSTER = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html"
)


class AuroraPostgresDatabase(Construct):
    """An Aurora PostgreSQL Serverless v2 cluster that can pause at 0 ACUs, with an RDS-managed
    master password and IAM database authentication.

    Attributes: `cluster`, `secret` (the RDS-managed master secret: username, password),
    `database_name`, `endpoint_address`, `port`, `resource_id` (for `rds-db:connect`),
    `log_group`. Call `allow_from(peer)` for each consumer security group and
    `grant_connect(grantee, user)` for each role that logs in with IAM.

    Props:
        vpc: the VPC; the instances go in its isolated subnets.
        database_name: the database to create: 1..63 letters, digits or '_', the first a letter.
        engine_version: pinned Aurora PostgreSQL version, minor included (0 ACUs needs 16.3+ or 17.4+).
        min_capacity: ACUs each instance keeps (0..256 in steps of 0.5); 0 pauses it when idle.
        max_capacity: ACUs each instance may reach (1..256 in steps of 0.5); the ceiling on cost.
        auto_pause_after: idle time before a 0-ACU instance pauses (5 min..24 h).
        readers: readers in other AZs that scale with the writer and take over on failover (0..15).
        deletion_protection: refuse deletion until turned off.
        backup_retention: days of automated backups (1..35).
        storage_encryption_key: customer-managed KMS key for storage and the master secret; None: aws/rds and aws/secretsmanager.
        performance_insights: collect Performance Insights data, shown in CloudWatch Database Insights.
        log_retention: retention of the exported PostgreSQL log.
        log_encryption_key: customer-managed KMS key for the exported log; None: CloudWatch Logs' own encryption.
        removal_policy: what `cdk destroy` does to the cluster (SNAPSHOT, RETAIN or DESTROY).
        cluster_identifier: the cluster's name; default `<stack name>-<construct id>`, lowercased.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        database_name: str = "app",
        engine_version: rds.AuroraPostgresEngineVersion = rds.AuroraPostgresEngineVersion.VER_17_5,
        min_capacity: float = 0,
        max_capacity: float = 2,
        auto_pause_after: Duration = Duration.minutes(5),
        readers: int = 0,
        deletion_protection: bool = True,
        backup_retention: Duration = Duration.days(7),
        storage_encryption_key: kms.IKey | None = None,
        performance_insights: bool = False,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT,
        cluster_identifier: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        _validate(
            database_name=database_name,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            auto_pause_after=auto_pause_after,
            readers=readers,
            backup_retention=backup_retention,
        )
        self.database_name = database_name
        identifier = cluster_identifier or _identifier(Stack.of(self).stack_name, id_)
        # The log group Aurora exports to, made here so that its retention is set without CDK's
        # LogRetention Lambda and `cdk destroy` follows the removal policy.
        self.log_group = logs.LogGroup(
            self,
            "PostgresLog",
            log_group_name=f"/aws/rds/cluster/{identifier}/postgresql",
            retention=log_retention,
            encryption_key=log_encryption_key,
            removal_policy=RemovalPolicy.RETAIN
            if removal_policy == RemovalPolicy.RETAIN
            else RemovalPolicy.DESTROY,
        )
        engine = rds.DatabaseClusterEngine.aurora_postgres(version=engine_version)

        def instance(name: str, **options) -> rds.IClusterInstance:
            return rds.ClusterInstance.serverless_v2(
                name,
                publicly_accessible=False,
                auto_minor_version_upgrade=False,
                enable_performance_insights=performance_insights or None,
                **options,
            )

        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            cluster_identifier=identifier,
            writer=instance("Writer"),
            # Failover tier 1: each reader scales (and pauses) with the writer, ready to take over.
            readers=[instance(f"Reader{n}", scale_with_writer=True) for n in range(1, readers + 1)],
            serverless_v2_min_capacity=min_capacity,
            serverless_v2_max_capacity=max_capacity,
            serverless_v2_auto_pause_duration=auto_pause_after if min_capacity == 0 else None,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            default_database_name=database_name,
            credentials=rds.Credentials.from_username(
                "app_admin", encryption_key=storage_encryption_key
            ),
            manage_master_user_password=True,
            iam_authentication=True,
            storage_encrypted=True,
            storage_encryption_key=storage_encryption_key,
            deletion_protection=deletion_protection,
            backup=rds.BackupProps(retention=backup_retention),
            delete_automated_backups=removal_policy == RemovalPolicy.DESTROY,
            removal_policy=removal_policy,
            cloudwatch_logs_exports=["postgresql"],
            parameter_group=rds.ParameterGroup(
                self,
                "Parameters",
                engine=engine,
                description="TLS-only connections",
                parameters={"rds.force_ssl": "1"},
            ),
        )
        self.cluster.node.add_dependency(self.log_group)
        self.secret = self.cluster.secret
        self.endpoint_address = self.cluster.cluster_endpoint.hostname
        self.port = self.cluster.cluster_endpoint.port
        self.resource_id = self.cluster.cluster_resource_identifier

    def allow_from(
        self, peer: ec2.IConnectable, description: str, *, max_connections: int | None = None
    ) -> None:
        """Admit `peer` (a consumer's security group) on the database port, and nothing else.

        `max_connections` (the most connections the peer can hold) is accepted for the same call
        as `PostgresDatabase.allow_from`, but not checked: Aurora Serverless v2 sizes
        max_connections from the capacity an instance may reach, not from a class this file
        could look up."""
        if max_connections is not None and max_connections < 1:
            raise ValueError(
                f"AuroraPostgresDatabase.allow_from: max_connections {max_connections} for "
                f"{description!r} must be 1 or more"
            )
        self.cluster.connections.allow_default_port_from(peer, description)

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
        return self.cluster.metric_database_connections(**options)

    def metric_capacity(self, **options) -> cloudwatch.Metric:
        """ACUs in use (0 while paused)."""
        return self.cluster.metric_serverless_database_capacity(**options)


def _validate(
    *, database_name, min_capacity, max_capacity, auto_pause_after, readers, backup_retention
) -> None:
    name = "AuroraPostgresDatabase"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", database_name):
        raise ValueError(
            f"{name}.database_name: {database_name!r} must be 1 to 63 ASCII letters, digits or "
            f"'_', beginning with a letter (Aurora PostgreSQL's DatabaseName rule: "
            f"{RDS_CREATE_CLUSTER})"
        )
    if not 0 <= min_capacity <= 256 or (min_capacity * 2) % 1:
        raise ValueError(
            f"{name}.min_capacity: {min_capacity} ACUs is not 0..256 in steps of 0.5 "
            f"(Aurora Serverless v2 capacity: {AURORA_CAPACITY})"
        )
    if not 1 <= max_capacity <= 256 or (max_capacity * 2) % 1 or max_capacity < min_capacity:
        raise ValueError(
            f"{name}.max_capacity: {max_capacity} ACUs is not 1..256 in steps of 0.5 and at "
            f"least min_capacity ({min_capacity}) ({AURORA_CAPACITY})"
        )
    seconds = auto_pause_after.to_seconds()
    if not 300 <= seconds <= 86_400:
        raise ValueError(
            f"{name}.auto_pause_after: {seconds}s is outside 300..86400 s, the idle times Aurora "
            f"accepts before it pauses an instance ({AURORA_AUTO_PAUSE})"
        )
    if not 0 <= readers <= 15:
        raise ValueError(
            f"{name}.readers: {readers} is outside 0..15, the readers an Aurora cluster can have "
            f"beside its writer ({RDS_CREATE_CLUSTER})"
        )
    if not 1 <= backup_retention.to_days() <= 35:
        raise ValueError(
            f"{name}.backup_retention: {backup_retention.to_days()} days is outside 1..35, the "
            f"backup retention Aurora accepts ({RDS_CREATE_CLUSTER})"
        )


def _identifier(stack_name: str, id_: str) -> str:
    """`<stack name>-<id>` as an RDS identifier: lowercase letters, digits and single hyphens,
    starting with a letter, at most 63 characters."""
    if Token.is_unresolved(stack_name):
        raise ValueError(
            "AuroraPostgresDatabase.cluster_identifier: required when the stack name is not "
            "known at synth; the exported log group is named after the cluster"
        )
    raw = re.sub(r"[^a-z0-9]+", "-", f"{stack_name}-{id_}".lower()).strip("-")
    if not raw[:1].isalpha():
        raw = f"db-{raw}"
    return raw[:63].rstrip("-")
