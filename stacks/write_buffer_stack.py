"""Write buffering: frontend API -> SQS -> EC2 Auto Scaling workers -> RDS PostgreSQL.

Seeds 001 (pattern 1) and 004: a burst of writes lands in a queue instead of on the database;
a fleet of workers, scaled on how many messages wait, writes them at a pace the database can
take. Nothing is lost when a worker or the database fails: the message stays in the queue until
a worker commits it, and a message that can never be written ends in the dead-letter queue,
which alarms.

This stack only wires constructs together; every sandbox/production difference comes in
through `Profile`.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from constructs import Construct
from queue_patterns import (
    AuroraPostgresDatabase,
    PostgresDatabase,
    QueueAlarms,
    QueueDashboard,
    QueueWithDeadLetter,
    QueueWorkerFleet,
    RestApiToQueue,
    WorkerNetwork,
)

from stacks.keys import alarm_topic, logs_key, messaging_key
from stacks.nag_acknowledgments import acknowledge_write_buffer
from stacks.profiles import Profile
from stacks.profiles import log_retention as profile_log_retention

ROOT = Path(__file__).resolve().parent.parent
ORDER_SCHEMA = ROOT / "schemas" / "order.schema.json"
WORKER_CODE = ROOT / "worker"

# The worker's budget for one batch (receive, write, delete). The queue's visibility timeout is
# three budgets: the worker's heartbeat extends a slow batch every third of it, so a message is
# redelivered only when its worker has really gone.
WORKER_BATCH_BUDGET = Duration.seconds(20)
VISIBILITY_TIMEOUT = Duration.seconds(WORKER_BATCH_BUDGET.to_seconds() * 3)
# Five tries absorb a transient fault (a deploy, a failover) without dead-lettering good orders;
# a malformed order reaches the DLQ within minutes.
MAX_RECEIVE_COUNT = 5
# An order waiting longer than this means the workers are stalled or far behind.
MAX_ORDER_AGE = Duration.minutes(10)
# Write shaping: each worker instance writes at most this many rows a second, so the database
# sees at most max_capacity x this, however large the burst.
WRITES_PER_SECOND = 500
# Receive threads per worker; the worker's connection pool has as many connections (its
# DB_POOL_SIZE default, worker/README.md), so the fleet holds at most max_capacity x this.
RECEIVE_LOOPS = 4
# Scaling sized from that rate and the age alarm, checked with tools/scaling_sim.py (README,
# "Scaling"). A new worker is noticed (~2 min: a 1-minute SQS datapoint, then the alarm) and
# booted (~3 min) before it writes, which leaves about 5 of the 10 minutes for writing: 150,000
# orders a worker. 100,000 keeps a margin. One worker per 100,000 waiting, not 4 for 500 waiting
# (the construct's generic default): on a day of 2,000,000 orders that default restarted 8
# workers for every small backlog.
ORDERS_PER_WORKER = 100_000
SCALE_OUT_STEPS = (
    (1, 1),
    (ORDERS_PER_WORKER, 2),
    (2 * ORDERS_PER_WORKER, 4),
    (4 * ORDERS_PER_WORKER, 10),
)
# Warm-up covers the time until a new worker's writes show in the alarm's metric: boot (~3 min)
# plus a whole 1-minute datapoint and its delay. Shorter, and the policy adds a second round of
# workers while the first is draining a queue the metric still shows full.
WORKER_WARMUP = Duration.minutes(5)
DEAD_LETTER_RETENTION = Duration.days(14)
MINUTE = Duration.minutes(1)
# Where the workers put their embedded-metric-format counts (worker/README.md).
WORKER_METRICS_NAMESPACE = "QueuePatterns/WriteBuffer"
DATABASE_NAME = "orders"
# The database role the workers log in as (IAM authentication): INSERT and SELECT on orders.
WRITER_USER = "order_writer"
# The RDS CA bundle for every Region, which verify-full checks the server against
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html#UsingWithRDS.SSL.CertificatesAllRegions),
# fetched at boot over HTTPS; nothing is downloaded at synth.
RDS_CA_BUNDLE = "rds-global-bundle.pem"
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"


class WriteBufferStack(cdk.Stack):
    """The write-buffer pattern, deployable on its own."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: Profile,
        worker_scaling: str = "step",
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY
        log_retention = profile_log_retention(profile)

        # Separate keys for the queue and the database: a grant to use one (the API role may
        # encrypt what it sends) is no grant to read the other.
        queue_key = database_key = None
        if profile.customer_managed_keys:
            queue_key = messaging_key(self, "QueueKey", "orders in the queue and its DLQ", removal)
            database_key = messaging_key(
                self, "DatabaseKey", "the orders database, its snapshots and its secret", removal
            )
        log_key = logs_key(self, "LogsKey", removal) if profile.customer_managed_keys else None

        network = WorkerNetwork(
            self,
            "Network",
            max_azs=profile.max_azs,
            nat_gateways=profile.nat_gateways,
            flow_log_retention=log_retention,
            log_encryption_key=log_key,
            removal_policy=removal,
        )
        alarms_topic = alarm_topic(
            self, "Alarms", profile, removal, auto_scaling_notifications=True
        )

        orders = QueueWithDeadLetter(
            self,
            "Orders",
            visibility_timeout=VISIBILITY_TIMEOUT,
            max_receive_count=MAX_RECEIVE_COUNT,
            dead_letter_retention_period=DEAD_LETTER_RETENTION,
            encryption_key=queue_key,
            removal_policy=removal,
        )
        api = RestApiToQueue(
            self,
            "Frontend",
            queue=orders.queue,
            request_schema=json.loads(ORDER_SCHEMA.read_text()),
            resource_path="orders",
            web_application_firewall=profile.web_application_firewall,
            log_retention=log_retention,
            log_encryption_key=log_key,
            removal_policy=removal,
        )
        database = _database(self, profile, network, database_key, log_key, log_retention, removal)
        database_env = {
            "DATABASE_HOST": database.endpoint_address,
            "DATABASE_PORT": "5432",
            "DATABASE_NAME": DATABASE_NAME,
            "DATABASE_CA_BUNDLE": "{worker_home}/" + RDS_CA_BUNDLE,
        }
        workers = QueueWorkerFleet(
            self,
            "Workers",
            vpc=network.vpc,
            vpc_subnets=network.worker_subnets,
            queue=orders.queue,
            code_path=str(WORKER_CODE),
            module="write_buffer_worker",
            environment={
                # The worker logs in as its own role with IAM tokens; it never sees the master
                # secret, which only the schema step below reads.
                "DATABASE_IAM_USER": WRITER_USER,
                **database_env,
                "VISIBILITY_TIMEOUT_SECONDS": str(int(VISIBILITY_TIMEOUT.to_seconds())),
                "RECEIVE_LOOPS": str(RECEIVE_LOOPS),
                "MAX_WRITES_PER_SECOND": str(WRITES_PER_SECOND),
            },
            instance_type=ec2.InstanceType(profile.worker_instance_type),
            min_capacity=0 if worker_scaling == "step" else 1,
            max_capacity=profile.worker_max_capacity,
            scaling=worker_scaling,
            scale_out_steps=SCALE_OUT_STEPS,
            target_backlog_per_instance=ORDERS_PER_WORKER,
            instance_warmup=WORKER_WARMUP,
            notifications_topic=alarms_topic.topic,
            log_retention=log_retention,
            log_encryption_key=log_key,
            removal_policy=removal,
            # The schema step: the orders table and the worker's role, once per boot, with the
            # master secret (README, "Who runs the schema step").
            setup_module="write_buffer_worker.schema",
            setup_environment={
                "DATABASE_SECRET_ARN": database.secret.secret_arn,
                "DATABASE_WRITER_USER": WRITER_USER,
                **database_env,
            },
            boot_downloads={RDS_CA_BUNDLE: RDS_CA_BUNDLE_URL},
        )
        # Fails synth if the whole fleet's pools would not fit the database's max_connections.
        database.allow_from(
            workers.security_group,
            "Write-buffer workers",
            max_connections=profile.worker_max_capacity * RECEIVE_LOOPS,
        )
        database.grant_connect(workers.role, WRITER_USER)
        database.secret.grant_read(workers.role)  # the schema step's, at boot

        QueueAlarms(
            self,
            "OrdersAlarms",
            queue=orders.queue,
            dead_letter_queue=orders.dead_letter_queue,
            alarm_topic=alarms_topic.topic,
            max_message_age=MAX_ORDER_AGE,
            dead_letter_retention=DEAD_LETTER_RETENTION,
        )
        # An orderId reused with other content: the worker writes nothing for it and sends it
        # to the DLQ (whose alarm says that something is there); this one says why.
        conflicts = cloudwatch.Alarm(
            self,
            "OrderConflictsAlarm",
            alarm_description=(
                "An orderId arrived again with different content: the stored order was kept and "
                "the other one is in the dead-letter queue; decide which is right"
            ),
            metric=cloudwatch.Metric(
                namespace=WORKER_METRICS_NAMESPACE,
                metric_name="Conflicts",
                statistic="Sum",
                period=MINUTE,
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify = cloudwatch_actions.SnsAction(alarms_topic.topic)
        conflicts.add_alarm_action(notify)
        conflicts.add_ok_action(notify)
        dashboard = QueueDashboard(
            self,
            "Dashboard",
            queue=orders.queue,
            dead_letter_queue=orders.dead_letter_queue,
            consumer_group=workers.auto_scaling_group,
            extra_widgets=[
                cloudwatch.GraphWidget(
                    title="API: requests and rejections",
                    left=[
                        api.api.metric_count(period=MINUTE, statistic="Sum"),
                        api.api.metric_client_error(period=MINUTE, statistic="Sum"),
                        api.api.metric_server_error(period=MINUTE, statistic="Sum"),
                    ],
                    width=8,
                ),
                cloudwatch.GraphWidget(
                    title="Database: connections and capacity",
                    left=[database.metric_connections(period=MINUTE)],
                    right=[
                        database.metric_capacity(period=MINUTE)
                        if isinstance(database, AuroraPostgresDatabase)
                        else database.metric_cpu(period=MINUTE)
                    ],
                    width=8,
                ),
            ],
        )

        for name, value, description in (
            ("ApiUrl", api.url, "POST {ApiUrl}orders with a SigV4-signed JSON order"),
            ("OrdersQueueUrl", orders.queue.queue_url, "The write buffer"),
            (
                "OrdersDeadLetterQueueUrl",
                orders.dead_letter_queue.queue_url,
                "Orders that could not be written; redrive after a fix",
            ),
            ("DatabaseSecretArn", database.secret.secret_arn, "Database credentials"),
            ("AlarmTopicArn", alarms_topic.topic.topic_arn, "Subscribe to get alarms"),
            ("DashboardUrl", dashboard.url, "Backlog, age, dead letters, workers"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)

        acknowledge_write_buffer(self, profile)


def _database(stack, profile, network, key, log_key, log_retention, removal):
    """The orders database the profile asks for: Aurora Serverless v2 (pauses at 0 ACUs) or a
    provisioned RDS instance."""
    common = {
        "vpc": network.vpc,
        "database_name": DATABASE_NAME,
        "deletion_protection": profile.deletion_protection,
        "backup_retention": Duration.days(profile.backup_retention_days),
        "storage_encryption_key": key,
        "performance_insights": profile.customer_managed_keys,
        "log_retention": log_retention,
        "log_encryption_key": log_key,
        "removal_policy": removal if profile.retain_data else RemovalPolicy.DESTROY,
    }
    if profile.database_engine == "aurora-serverless":
        return AuroraPostgresDatabase(
            stack,
            "Database",
            min_capacity=profile.database_min_capacity,
            max_capacity=profile.database_max_capacity,
            auto_pause_after=Duration.minutes(profile.database_auto_pause_minutes or 5),
            readers=1 if profile.multi_az else 0,
            **common,
        )
    return PostgresDatabase(
        stack,
        "Database",
        instance_type=ec2.InstanceType(profile.database_instance_type),
        allocated_storage_gib=profile.database_allocated_storage_gib,
        multi_az=profile.multi_az,
        monitoring_interval=Duration.seconds(profile.database_monitoring_seconds)
        if profile.database_monitoring_seconds
        else None,
        **common,
    )
