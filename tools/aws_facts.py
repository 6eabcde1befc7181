"""The AWS facts this project relies on: each limit the constructs enforce, with its source.

One table, `FACTS`: every limit, default or behaviour a construct's validation encodes (and a few
quotas the docs quote), with the value, the AWS page it comes from and the day it was checked
there. `docs/facts.md` is rendered from it, a test drives each construct's validation at the
boundaries listed here (the boundary accepted, one past it refused with the prop named and this
page linked), so the code, its error messages and the docs cannot disagree.

The constructs do not import this module: each stays a file you can copy alone, with its bounds
and source links written in it; the tests hold the two together. `adjustable` and `region` are
there for capacity planning: a service quota (SQS in-flight messages, FIFO throughput, Lambda
concurrency and scaling rate, API Gateway throttles...) is a row like any other.

    python tools/aws_facts.py docs/facts.md          # rewrite the table
    python tools/aws_facts.py --check docs/facts.md  # what the tests run
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

CHECKED = "2026-12-02"
BLOCK = re.compile(r"<!-- facts -->\n.*?<!-- /facts -->", re.DOTALL)
KINDS = {
    "limit": "the API refuses values outside it",
    "quota": "a service quota",
    "default": "what AWS uses when a setting is left out",
    "recommendation": "AWS's advice",
    "behaviour": "how the service behaves",
}

SQS_API = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
SQS_DLQ_CONSOLE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue.html"
SQS_DLQ_RETENTION = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html"
SQS_METRICS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-monitoring-using-cloudwatch.html"
SQS_MESSAGE_QUOTAS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
LAMBDA_TIMEOUT = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_SQS_PARAMETERS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
LAMBDA_SQS_CONFIGURE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
LAMBDA_ESM_API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
LAMBDA_SCALING_CONFIG = "https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html"
LAMBDA_ASYNC = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"
EVENTBRIDGE_RATE = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html"
)
RDS_CREATE_INSTANCE = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
)
RDS_SUBNET_GROUP = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html"
)
RDS_CREATE_CLUSTER = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html"
)
AURORA_CAPACITY = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.how-it-works.html"
AURORA_AUTO_PAUSE = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html"
WAF_RATE_BASED = "https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html"
APIGATEWAY_MODELS = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-create-model.html"
)
LOGS_RETENTION = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html"
KMS_DELETION = "https://docs.aws.amazon.com/kms/latest/cryptographic-details/key-deletion.html"
SNS_FIFO_SCOPE = (
    "https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_sns.FifoThroughputScope.html"
)
SNS_RETRIES = "https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html"
# The quotas and behaviours the capacity planner (tools/capacity.py) plans with.
SQS_STANDARD_QUOTAS = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html"
)
SQS_FIFO_QUOTAS = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-fifo.html"
)
SQS_SEND_MESSAGE = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html"
)
LAMBDA_SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
LAMBDA_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"
LAMBDA_INVOKE = "https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html"
APIGATEWAY_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"
APIGATEWAY_THROTTLING = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html"
SNS_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/sns.html"
SNS_PUBLISH = "https://docs.aws.amazon.com/sns/latest/api/API_Publish.html"
DYNAMODB_ON_DEMAND = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html"
)
DYNAMODB_QUOTAS = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
)
DYNAMODB_WARM_THROUGHPUT = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html"
S3_PERFORMANCE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"
RDS_MAX_CONNECTIONS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections"
RDS_INSTANCE_CLASSES = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html"
)
ASG_WARMUP = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html"

DAY = 86_400
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
LOG_RETENTION_DAYS += (2192, 2557, 2922, 3288, 3653)


@dataclass(frozen=True)
class Enforcement:
    """Where a construct (or the app) enforces a fact, named as its error message names it.

    `minimum`/`maximum` are set only where the code is stricter than AWS, and `why` says why;
    `when` names the condition under which the rule applies (a FIFO queue, a standard one);
    `documented_on` lists other props whose docs row states the rule (their table links it)."""

    target: str
    minimum: float | None = None
    maximum: float | None = None
    why: str = ""
    when: str = ""
    documented_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fact:
    """One AWS limit, quota, default or behaviour, as its source page states it."""

    key: str
    subject: str
    value: str
    source: str
    source_title: str
    kind: str = "limit"
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    adjustable: bool = False  # can a Service Quotas request raise it
    region: str = "every Region"  # or "per Region" (counted per Region), or the Regions it holds in
    checked: str = CHECKED
    enforced_by: tuple[Enforcement, ...] = ()
    note: str = ""


FACTS: tuple[Fact, ...] = (
    # Amazon SQS
    Fact(
        "sqs.max_receive_count",
        "SQS redrive policy: receives before a message moves to the DLQ (maxReceiveCount)",
        "1..1000",
        SQS_DLQ_CONSOLE,
        "SQS: configure a DLQ",
        minimum=1,
        maximum=1000,
        enforced_by=(Enforcement("QueueWithDeadLetter.max_receive_count"),),
    ),
    Fact(
        "sqs.visibility_timeout",
        "SQS visibility timeout (VisibilityTimeout)",
        "0..43,200 s (12 hours)",
        SQS_API,
        "SQS SetQueueAttributes",
        minimum=0,
        maximum=43_200,
        unit="s",
        enforced_by=(Enforcement("QueueWithDeadLetter.visibility_timeout"),),
    ),
    Fact(
        "sqs.visibility_timeout_default",
        "SQS visibility timeout when a queue sets none",
        "30 s",
        SQS_API,
        "SQS SetQueueAttributes",
        kind="default",
        minimum=30,
        maximum=30,
        unit="s",
        note="LambdaQueueConsumer checks the 6x rule against it (SQS_DEFAULT_VISIBILITY).",
    ),
    Fact(
        "sqs.message_retention_period",
        "SQS message retention (MessageRetentionPeriod)",
        "60 s..1,209,600 s (14 days)",
        SQS_API,
        "SQS SetQueueAttributes",
        minimum=60,
        maximum=14 * DAY,
        unit="s",
        enforced_by=(
            Enforcement("QueueWithDeadLetter.retention_period"),
            Enforcement("QueueWithDeadLetter.dead_letter_retention_period"),
        ),
    ),
    Fact(
        "sqs.message_retention_default",
        "SQS message retention when a queue sets none",
        "345,600 s (4 days)",
        SQS_API,
        "SQS SetQueueAttributes",
        kind="default",
        minimum=4 * DAY,
        maximum=4 * DAY,
        unit="s",
        note="QueueAlarms times the dead-letter expiry alarm with it (SQS_DEFAULT_RETENTION).",
    ),
    Fact(
        "sqs.receive_wait_time",
        "SQS long-polling wait (ReceiveMessageWaitTimeSeconds)",
        "0..20 s",
        SQS_API,
        "SQS SetQueueAttributes",
        minimum=0,
        maximum=20,
        unit="s",
        enforced_by=(Enforcement("QueueWithDeadLetter.receive_wait_time"),),
    ),
    Fact(
        "sqs.kms_data_key_reuse_default",
        "SQS data key reuse with a KMS key (KmsDataKeyReusePeriodSeconds)",
        "300 s by default (60..86,400 s)",
        SQS_API,
        "SQS SetQueueAttributes",
        kind="default",
        minimum=300,
        maximum=300,
        unit="s",
        note="QueueWithDeadLetter leaves it to this default.",
    ),
    Fact(
        "sqs.dead_letter_enqueue_timestamp",
        "A message moved to a DLQ keeps its enqueue timestamp (standard) or gets a new one (FIFO);"
        " ApproximateAgeOfOldestMessage on the DLQ counts from the move",
        "standard: kept; FIFO: reset",
        SQS_DLQ_RETENTION,
        "SQS: DLQ retention",
        kind="behaviour",
        enforced_by=(
            Enforcement(
                "QueueWithDeadLetter.dead_letter_retention_period",
                when="standard queues: longer than retention_period",
            ),
            Enforcement(
                "QueueAlarms.dead_letter_retention",
                when="standard DLQ: alarm at 75% of DLQ retention minus source retention",
            ),
        ),
    ),
    Fact(
        "sqs.metrics_period",
        "SQS queue metrics reach CloudWatch once a minute",
        "60 s",
        SQS_METRICS,
        "SQS CloudWatch metrics",
        kind="behaviour",
        minimum=60,
        unit="s",
        enforced_by=(
            Enforcement("QueueAlarms.max_message_age"),
            Enforcement("LambdaQueueConsumer.max_message_age"),
            Enforcement(
                "QueueWorkerFleet.scale_in_after",
                maximum=3600,
                why="whole minutes of this construct's choosing; an hour is its cap",
            ),
        ),
    ),
    Fact(
        "sqs.fifo_throughput",
        "SQS FIFO queue without high throughput: transactions per second per API action",
        "300/s; 3,000 messages/s in batches of 10",
        SQS_MESSAGE_QUOTAS,
        "SQS message quotas",
        kind="quota",
        maximum=300,
        unit="calls/s",
    ),
    # AWS Lambda
    Fact(
        "lambda.timeout",
        "Lambda function timeout",
        "1..900 s",
        LAMBDA_TIMEOUT,
        "Lambda: function timeout",
        minimum=1,
        maximum=900,
        unit="s",
        enforced_by=(
            Enforcement("LambdaQueueConsumer.timeout"),
            Enforcement("ScheduledQueueWorker.timeout"),
        ),
    ),
    Fact(
        "lambda.memory",
        "Lambda function memory",
        "128..10,240 MB",
        LAMBDA_QUOTAS,
        "Lambda quotas",
        minimum=128,
        maximum=10_240,
        unit="MB",
        note="new accounts start with a lower memory quota that AWS raises with usage.",
        enforced_by=(
            Enforcement("LambdaQueueConsumer.memory_size"),
            Enforcement("ScheduledQueueWorker.memory_size"),
        ),
    ),
    Fact(
        "lambda.concurrent_executions",
        "Lambda concurrent executions",
        "1,000 (can be raised to tens of thousands)",
        LAMBDA_QUOTAS,
        "Lambda quotas",
        kind="quota",
        maximum=1000,
        adjustable=True,
        region="per Region",
        note="new accounts start lower; AWS raises the quota with usage.",
    ),
    Fact(
        "lambda.sqs_batch_size",
        "Lambda SQS event source batch size, standard queue",
        "1..10,000",
        LAMBDA_SQS_PARAMETERS,
        "Lambda: SQS event source parameters",
        minimum=1,
        maximum=10_000,
        enforced_by=(Enforcement("LambdaQueueConsumer.batch_size", when="standard queue"),),
    ),
    Fact(
        "lambda.sqs_batch_size_fifo",
        "Lambda SQS event source batch size, FIFO queue",
        "1..10",
        LAMBDA_SQS_PARAMETERS,
        "Lambda: SQS event source parameters",
        minimum=1,
        maximum=10,
        enforced_by=(Enforcement("LambdaQueueConsumer.batch_size", when="FIFO queue"),),
    ),
    Fact(
        "lambda.sqs_batching_window",
        "Lambda batching window (MaximumBatchingWindowInSeconds)",
        "0..300 s; at least 1 s when the batch size is over 10",
        LAMBDA_ESM_API,
        "Lambda CreateEventSourceMapping",
        minimum=0,
        maximum=300,
        unit="s",
        enforced_by=(
            Enforcement("LambdaQueueConsumer.max_batching_window"),
            Enforcement("LambdaQueueConsumer.batch_size", when="over 10: a window of 1 s or more"),
        ),
    ),
    Fact(
        "lambda.sqs_batching_window_fifo",
        "Lambda batching window on a FIFO queue",
        "not supported",
        LAMBDA_SQS_PARAMETERS,
        "Lambda: SQS event source parameters",
        kind="behaviour",
        enforced_by=(Enforcement("LambdaQueueConsumer.max_batching_window", when="FIFO queue"),),
    ),
    Fact(
        "lambda.sqs_maximum_concurrency",
        "Lambda SQS event source maximum concurrency (ScalingConfig)",
        "2..1000",
        LAMBDA_SCALING_CONFIG,
        "Lambda ScalingConfig",
        minimum=2,
        maximum=1000,
        enforced_by=(Enforcement("LambdaQueueConsumer.max_concurrency"),),
    ),
    Fact(
        "lambda.sqs_visibility_timeout",
        "Queue visibility timeout for a Lambda consumer",
        "at least 6 x the function timeout",
        LAMBDA_SQS_CONFIGURE,
        "Lambda: configure an SQS event source",
        kind="recommendation",
        minimum=6,
        unit="x function timeout",
        enforced_by=(
            Enforcement(
                "LambdaQueueConsumer.visibility_timeout",
                when="the queue's, read from it or from queue_visibility_timeout",
                documented_on=(
                    "LambdaQueueConsumer.queue_visibility_timeout",
                    "LambdaQueueConsumer.timeout",
                ),
            ),
        ),
    ),
    Fact(
        "lambda.async_retries",
        "Lambda asynchronous invocation retries",
        "function errors: 2 retries; throttles: up to 6 hours by default",
        LAMBDA_ASYNC,
        "Lambda: asynchronous retries",
        kind="behaviour",
    ),
    # Amazon EventBridge
    Fact(
        "eventbridge.rate",
        "EventBridge rate expression: a positive whole number of minutes, hours or days",
        "1 minute or more, whole minutes; no maximum",
        EVENTBRIDGE_RATE,
        "EventBridge rate expressions",
        minimum=60,
        unit="s",
        enforced_by=(Enforcement("ScheduledQueueWorker.every"),),
    ),
    # Amazon RDS
    Fact(
        "rds.db_name_postgres",
        "RDS for PostgreSQL database name (DBName): letters, digits, '_', a letter first",
        "1..63 characters",
        RDS_CREATE_INSTANCE,
        "RDS CreateDBInstance",
        minimum=1,
        maximum=63,
        unit="characters",
        enforced_by=(Enforcement("PostgresDatabase.database_name"),),
    ),
    Fact(
        "rds.allocated_storage_gp3_postgres",
        "RDS for PostgreSQL gp3 storage (AllocatedStorage)",
        "20..65,536 GiB",
        RDS_CREATE_INSTANCE,
        "RDS CreateDBInstance",
        minimum=20,
        maximum=65_536,
        unit="GiB",
        enforced_by=(Enforcement("PostgresDatabase.allocated_storage_gib"),),
    ),
    Fact(
        "rds.backup_retention",
        "RDS automated backup retention (BackupRetentionPeriod)",
        "0..35 days (0 turns automated backups off)",
        RDS_CREATE_INSTANCE,
        "RDS CreateDBInstance",
        minimum=0,
        maximum=35,
        unit="days",
        enforced_by=(
            Enforcement(
                "PostgresDatabase.backup_retention",
                minimum=1,
                why="0 would turn off automated backups and point-in-time recovery",
            ),
        ),
    ),
    # Amazon Aurora
    Fact(
        "aurora.db_name_postgres",
        "Aurora PostgreSQL database name (DatabaseName): letters, digits, '_', a letter first",
        "1..63 characters",
        RDS_CREATE_CLUSTER,
        "RDS CreateDBCluster",
        minimum=1,
        maximum=63,
        unit="characters",
        enforced_by=(Enforcement("AuroraPostgresDatabase.database_name"),),
    ),
    Fact(
        "aurora.serverless_v2_min_capacity",
        "Aurora Serverless v2 minimum capacity per instance (MinCapacity), in steps of 0.5; 0 lets "
        "an idle instance pause (Aurora PostgreSQL 16.3+, 17.4+)",
        "0..256 ACUs",
        AURORA_CAPACITY,
        "Aurora Serverless v2: how it works",
        minimum=0,
        maximum=256,
        unit="ACUs",
        enforced_by=(Enforcement("AuroraPostgresDatabase.min_capacity"),),
    ),
    Fact(
        "aurora.serverless_v2_max_capacity",
        "Aurora Serverless v2 maximum capacity per instance (MaxCapacity), in steps of 0.5",
        "1..256 ACUs",
        AURORA_CAPACITY,
        "Aurora Serverless v2: how it works",
        minimum=1,
        maximum=256,
        unit="ACUs",
        enforced_by=(Enforcement("AuroraPostgresDatabase.max_capacity"),),
    ),
    Fact(
        "aurora.seconds_until_auto_pause",
        "Aurora Serverless v2: idle time before a 0-ACU instance pauses (SecondsUntilAutoPause)",
        "300..86,400 s (default 300)",
        AURORA_AUTO_PAUSE,
        "Aurora Serverless v2 auto-pause",
        minimum=300,
        maximum=86_400,
        unit="s",
        enforced_by=(Enforcement("AuroraPostgresDatabase.auto_pause_after"),),
    ),
    Fact(
        "aurora.replicas",
        "Aurora DB cluster: reader instances beside the writer",
        "0..15",
        RDS_CREATE_CLUSTER,
        "RDS CreateDBCluster",
        minimum=0,
        maximum=15,
        unit="readers",
        enforced_by=(Enforcement("AuroraPostgresDatabase.readers"),),
    ),
    Fact(
        "aurora.backup_retention",
        "Aurora automated backup retention (BackupRetentionPeriod)",
        "1..35 days",
        RDS_CREATE_CLUSTER,
        "RDS CreateDBCluster",
        minimum=1,
        maximum=35,
        unit="days",
        enforced_by=(Enforcement("AuroraPostgresDatabase.backup_retention"),),
    ),
    Fact(
        "rds.subnet_group_azs",
        "RDS DB subnet group: Availability Zones its subnets cover",
        "at least 2",
        RDS_SUBNET_GROUP,
        "RDS CreateDBSubnetGroup",
        minimum=2,
        unit="AZs",
        enforced_by=(
            Enforcement(
                "WorkerNetwork.max_azs",
                maximum=6,
                why="six is this construct's cap, not AWS's",
            ),
        ),
    ),
    # AWS WAF, API Gateway
    Fact(
        "wafv2.rate_limit",
        "AWS WAF rate-based rule limit, requests per evaluation window (5 minutes by default)",
        "10..2,000,000,000",
        WAF_RATE_BASED,
        "AWS WAF RateBasedStatement",
        minimum=10,
        maximum=2_000_000_000,
        enforced_by=(Enforcement("RestApiToQueue.waf_rate_limit_per_ip"),),
    ),
    Fact(
        "apigateway.model_schema",
        "API Gateway REST API models",
        "JSON Schema draft 4",
        APIGATEWAY_MODELS,
        "API Gateway: data models",
        kind="behaviour",
        enforced_by=(Enforcement("RestApiToQueue.request_schema"),),
    ),
    # CloudWatch Logs, KMS, SNS
    Fact(
        "logs.retention_days",
        "CloudWatch Logs retention (retentionInDays)",
        ", ".join(map(str, LOG_RETENTION_DAYS)) + " days",
        LOGS_RETENTION,
        "CloudWatch Logs PutRetentionPolicy",
        unit="days",
        enforced_by=(Enforcement("Profile.log_retention_days"),),
    ),
    Fact(
        "kms.pending_window",
        "KMS key deletion waiting period",
        "7..30 days (30 by default)",
        KMS_DELETION,
        "KMS: deleting keys",
        minimum=7,
        maximum=30,
        unit="days",
        note="AlarmTopic and the messaging keys use 7, the shortest.",
    ),
    Fact(
        "sns.fifo_topic_throughput",
        "SNS FIFO topic with topic-scoped deduplication",
        "3,000 messages/s, 20 MB/s",
        SNS_FIFO_SCOPE,
        "CDK FifoThroughputScope",
        kind="quota",
        maximum=3000,
        unit="messages/s",
    ),
    Fact(
        "sns.sqs_delivery_retries",
        "SNS retries to an SQS endpoint after server-side errors (client-side errors: none)",
        "100,015 attempts over 23 days",
        SNS_RETRIES,
        "SNS delivery retries",
        kind="behaviour",
    ),
    # Capacity: what tools/capacity.py plans with. Figures that differ by Region are given for
    # us-east-1, and the Region column says so.
    Fact(
        "sqs.standard_throughput",
        "SQS standard queue API calls per second, per action (SendMessage, ReceiveMessage, "
        "DeleteMessage)",
        "nearly unlimited",
        SQS_MESSAGE_QUOTAS,
        "SQS message quotas",
        kind="behaviour",
    ),
    Fact(
        "sqs.standard_in_flight",
        "SQS standard queue: messages in flight (received, not yet deleted), for most queues",
        "about 120,000",
        SQS_STANDARD_QUOTAS,
        "SQS standard queue quotas",
        kind="quota",
        maximum=120_000,
        unit="messages",
        adjustable=True,
        note="past it, long polling returns nothing and short polling OverLimit; more queues or "
        "an increase through AWS Support.",
    ),
    Fact(
        "sqs.fifo_in_flight",
        "SQS FIFO queue: messages in flight (received, not yet deleted)",
        "120,000",
        SQS_FIFO_QUOTAS,
        "SQS FIFO queue quotas",
        kind="quota",
        maximum=120_000,
        unit="messages",
        adjustable=True,
        note="older study pages say 20,000; the FIFO quotas page now says 120,000.",
    ),
    Fact(
        "sqs.fifo_high_throughput",
        "SQS FIFO queue in high throughput mode: transactions per second per API action, "
        "without batching",
        "70,000/s (up to 10 messages each in batches)",
        SQS_MESSAGE_QUOTAS,
        "SQS message quotas",
        kind="quota",
        maximum=70_000,
        unit="calls/s",
        region="us-east-1, us-west-2, eu-west-1 (lower elsewhere)",
    ),
    Fact(
        "sqs.batch_entries",
        "SQS batch request (SendMessageBatch, DeleteMessageBatch, ...): messages per request",
        "10",
        SQS_MESSAGE_QUOTAS,
        "SQS message quotas",
        maximum=10,
        unit="messages",
    ),
    Fact(
        "sqs.message_size",
        "SQS message body (and a whole SendMessageBatch request)",
        "1 MiB (1,048,576 bytes)",
        SQS_SEND_MESSAGE,
        "SQS SendMessage",
        maximum=1_048_576,
        unit="bytes",
        note="raised from 256 KiB; older pages still say 256 KB.",
    ),
    Fact(
        "lambda.sqs_initial_batches",
        "Lambda SQS event source, standard queue: concurrent batches when messages first appear",
        "5",
        LAMBDA_SQS_SCALING,
        "Lambda: SQS event source scaling",
        kind="behaviour",
        maximum=5,
        unit="batches",
    ),
    Fact(
        "lambda.sqs_scale_up_per_minute",
        "Lambda SQS event source, standard queue: batches added while messages remain",
        "up to 300 more a minute",
        LAMBDA_SQS_SCALING,
        "Lambda: SQS event source scaling",
        kind="behaviour",
        maximum=300,
        unit="batches/min",
    ),
    Fact(
        "lambda.sqs_max_batches",
        "Lambda SQS event source, standard queue: batches one mapping processes at once",
        "1,000",
        LAMBDA_SQS_SCALING,
        "Lambda: SQS event source scaling",
        kind="quota",
        maximum=1000,
        unit="batches",
        note="the same page says a mapping can reach 1,250 concurrent instances by default "
        "when the account quota is raised; AWS Support can raise it further.",
    ),
    Fact(
        "lambda.sqs_fifo_concurrency",
        "Lambda SQS event source, FIFO queue: concurrent invocations",
        "the number of message group IDs or the maximum concurrency, whichever is lower",
        LAMBDA_SQS_SCALING,
        "Lambda: SQS event source scaling",
        kind="behaviour",
    ),
    Fact(
        "lambda.scaling_rate",
        "Lambda concurrency scaling rate, per function",
        "1,000 execution environments every 10 seconds",
        LAMBDA_SCALING,
        "Lambda scaling behavior",
        kind="quota",
        maximum=1000,
        unit="environments/10 s",
        region="per Region",
    ),
    Fact(
        "lambda.sync_payload",
        "Lambda synchronous invocation payload (an SQS event source delivers each batch in one)",
        "6 MB",
        LAMBDA_INVOKE,
        "Lambda Invoke",
        maximum=6 * 1024 * 1024,
        unit="bytes",
    ),
    Fact(
        "apigateway.account_throttle",
        "API Gateway throttle per account, per Region, across REST, HTTP and WebSocket APIs",
        "10,000 requests/s (2,500 in 13 Regions the page lists)",
        APIGATEWAY_QUOTAS,
        "API Gateway quotas",
        kind="quota",
        maximum=10_000,
        unit="requests/s",
        adjustable=True,
        region="us-east-1 (per Region)",
    ),
    Fact(
        "apigateway.account_burst",
        "API Gateway burst (token bucket) per account, per Region",
        "5,000 requests (1,250 in 13 Regions the page lists)",
        APIGATEWAY_QUOTAS,
        "API Gateway quotas",
        kind="quota",
        maximum=5000,
        unit="requests",
        region="us-east-1 (per Region)",
        note="set by AWS from the account's rate quota, not requested separately.",
    ),
    Fact(
        "apigateway.stage_throttle",
        "API Gateway stage and method throttling (MethodSettings ThrottlingRateLimit/BurstLimit)",
        "targets, best effort, no higher than the account's limits",
        APIGATEWAY_THROTTLING,
        "API Gateway: throttle requests",
        kind="behaviour",
    ),
    Fact(
        "sns.publish_standard",
        "SNS Publish to standard topics, per account",
        "a per-Region quota that differs between Regions (see the page)",
        SNS_QUOTAS,
        "SNS endpoints and quotas",
        kind="quota",
        adjustable=True,
        region="per Region (differs)",
        note="not read into this table: the planner shows no number for it.",
    ),
    Fact(
        "sns.message_size",
        "SNS message (Publish)",
        "256 KB (262,144 bytes)",
        SNS_PUBLISH,
        "SNS Publish",
        maximum=262_144,
        unit="bytes",
    ),
    Fact(
        "dynamodb.on_demand_initial_writes",
        "DynamoDB new on-demand table: writes it sustains at once (then up to double its "
        "previous peak; more than double within 30 minutes may throttle)",
        "4,000 write request units/s",
        DYNAMODB_ON_DEMAND,
        "DynamoDB on-demand capacity mode",
        kind="quota",
        maximum=4000,
        unit="WRU/s",
    ),
    Fact(
        "dynamodb.on_demand_initial_reads",
        "DynamoDB new on-demand table: reads it sustains at once",
        "12,000 read request units/s",
        DYNAMODB_ON_DEMAND,
        "DynamoDB on-demand capacity mode",
        kind="quota",
        maximum=12_000,
        unit="RRU/s",
    ),
    Fact(
        "dynamodb.request_unit_sizes",
        "DynamoDB request units: a write unit per 1 KB written, a read unit per 4 KB read "
        "(strongly consistent)",
        "1 KB / 4 KB",
        DYNAMODB_ON_DEMAND,
        "DynamoDB on-demand capacity mode",
        kind="behaviour",
        maximum=1024,
        unit="bytes per write unit",
    ),
    Fact(
        "dynamodb.table_throughput",
        "DynamoDB table-level throughput quota, on-demand table",
        "40,000 read and 40,000 write request units/s",
        DYNAMODB_QUOTAS,
        "DynamoDB quotas",
        kind="quota",
        maximum=40_000,
        unit="request units/s",
        adjustable=True,
        region="per Region",
    ),
    Fact(
        "dynamodb.partition_throughput",
        "DynamoDB partition: the most one partition (one hot key) serves",
        "1,000 write units/s, 3,000 read units/s",
        DYNAMODB_WARM_THROUGHPUT,
        "DynamoDB warm throughput scenarios",
        kind="quota",
        maximum=1000,
        unit="WCU/s",
    ),
    Fact(
        "s3.prefix_put_rate",
        "S3 PUT/COPY/POST/DELETE requests per partitioned prefix",
        "at least 3,500/s",
        S3_PERFORMANCE,
        "S3 performance guidelines",
        kind="quota",
        maximum=3500,
        unit="requests/s",
        note="no limit on prefixes per bucket; S3 partitions a busy prefix in the background.",
    ),
    Fact(
        "s3.prefix_get_rate",
        "S3 GET/HEAD requests per partitioned prefix",
        "at least 5,500/s",
        S3_PERFORMANCE,
        "S3 performance guidelines",
        kind="quota",
        maximum=5500,
        unit="requests/s",
    ),
    Fact(
        "rds.postgres_max_connections",
        "RDS for PostgreSQL max_connections when the parameter group sets none",
        "LEAST({DBInstanceClassMemory/9531392}, 5000)",
        RDS_MAX_CONNECTIONS,
        "RDS: maximum database connections",
        kind="default",
        maximum=5000,
        unit="connections",
        note="DBInstanceClassMemory is the class's memory less what the OS and RDS keep, so "
        "the class's nominal memory gives an upper bound.",
        enforced_by=(
            Enforcement(
                "PostgresDatabase.allow_from",
                when="max_connections of every admitted peer, summed, within the limit",
            ),
        ),
    ),
    Fact(
        "rds.instance_class_memory",
        "RDS DB instance class memory, the classes PostgresDatabase knows",
        "db.t4g.micro 1, .small 2, .medium 4, .large 8; db.m7g.large 8, .xlarge 16 GiB",
        RDS_INSTANCE_CLASSES,
        "RDS DB instance class specifications",
        kind="behaviour",
        unit="GiB",
        note="PostgresDatabase.CLASS_MEMORY_GIB holds the same figures.",
    ),
    Fact(
        "autoscaling.default_instance_warmup",
        "EC2 Auto Scaling instance warm-up: a new instance counts toward the group's capacity "
        "when scaling out, toward its metrics only after the warm-up, and blocks scale-in until "
        "then",
        "0..3,600 s, off by default",
        ASG_WARMUP,
        "EC2 Auto Scaling default instance warmup",
        kind="behaviour",
        minimum=0,
        maximum=3600,
        unit="s",
    ),
)


def fact(key: str) -> Fact:
    """The fact called `key`."""
    return next(f for f in FACTS if f.key == key)


def facts_enforced_by(target: str) -> list[Fact]:
    """The facts whose rule `target` ("Construct.prop") enforces or documents."""
    return [
        f
        for f in FACTS
        if any(target == e.target or target in e.documented_on for e in f.enforced_by)
    ]


def _enforcement(e: Enforcement) -> str:
    bounds = []
    if e.minimum is not None:
        bounds.append(f"min {e.minimum:g}")
    if e.maximum is not None:
        bounds.append(f"max {e.maximum:g}")
    detail = "; ".join(x for x in (e.when, ", ".join(bounds), e.why) if x)
    return f"`{e.target}`" + (f" ({detail})" if detail else "")


def table() -> str:
    """The markdown table of every fact."""
    rows = [
        "| fact | value | kind | adjustable | Region | enforced by | source (checked) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in FACTS:
        subject = f.subject + (f"; {f.note}" if f.note else "")
        enforced = "<br>".join(_enforcement(e) for e in f.enforced_by) or "—"
        rows.append(
            f"| {subject} | {f.value} | {f.kind} | {'yes' if f.adjustable else 'no'} | "
            f"{f.region} | {enforced} | [{f.source_title}]({f.source}) ({f.checked}) |"
        )
    return "\n".join(rows)


def render(text: str) -> str:
    """`text` with its facts block rewritten from `FACTS`."""
    return BLOCK.sub(lambda _: f"<!-- facts -->\n{table()}\n<!-- /facts -->", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if a table is stale")
    options = parser.parse_args()
    stale = []
    for path in options.files:
        text = path.read_text()
        if render(text) != text:
            stale.append(str(path))
            if not options.check:
                path.write_text(render(text))
    if options.check and stale:
        print(
            f"stale facts table in {', '.join(stale)}: run python tools/aws_facts.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
