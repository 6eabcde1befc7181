"""Producer fleet -> SQS -> consumer fleet, and Step Functions waiting on a queue.

Seed 001 pattern 4 ("producer EC2s ingest logs to SQS; consumer EC2s scale in/out based on how
backed up the queue is") and two rows of its integration table: EC2 Auto Scaling groups as
producers and consumers, and Step Functions that "can wait for messages from SQS".

    shippers (ASG, scaled on CPU) --SendMessageBatch, 64 KiB messages--> log queue --> DLQ
        --> archivers (ASG, backlog per instance) --one gzip object per flush--> archive bucket
            raw/dt=YYYY-MM-DD/hour=HH/*.jsonl.gz
    every hour at :10: state machine --sendMessage.waitForTaskToken--> compaction jobs queue
        --> an archiver merges the hour, heartbeating --> SendTaskSuccess --> the state machine
            goes on (hourly/dt=.../hour=HH/logs.jsonl.gz)

This stack only wires constructs together; every sandbox/production difference comes in
through `Profile`.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct
from queue_patterns import (
    QueueAlarms,
    QueueDashboard,
    QueueWithDeadLetter,
    QueueWorkerFleet,
    WorkerNetwork,
)

from stacks.keys import alarm_topic, logs_key, messaging_key
from stacks.nag_acknowledgments import acknowledge_log_pipeline
from stacks.private_buckets import PrivateBuckets
from stacks.profiles import Profile
from stacks.profiles import log_retention as profile_log_retention

PIPELINE_CODE = Path(__file__).resolve().parent.parent / "log_pipeline"

# An archiver holds a message in its buffer for up to FLUSH; the message must stay hidden until
# its object is written and it is deleted, with room for one slow write: three flushes.
FLUSH = Duration.seconds(60)
LOG_VISIBILITY = Duration.seconds(FLUSH.to_seconds() * 3)
# Backlog per instance target = acceptable latency / seconds per message. A message carries up
# to 64 KiB of lines; an archiver parses, compresses and writes one in well under 50 ms, and a
# line may wait five minutes: 300 s / 0.05 s = 6,000 messages per archiver.
ACCEPTABLE_LATENCY = Duration.minutes(5)
SECONDS_PER_MESSAGE = 0.05
MAX_LINE_AGE = Duration.minutes(10)
DEAD_LETTER_RETENTION = Duration.days(14)
# Raw objects are the compaction's input; a week lets an hour be compacted again after a fix.
RAW_EXPIRY = Duration.days(7)
# The compaction task: Step Functions declares the worker dead after HEARTBEAT without a
# heartbeat (the worker sends one every third of it), and gives up after TASK_TIMEOUT. The
# heartbeat also covers the wait in the jobs queue, so it allows for an archiver being replaced.
HEARTBEAT = Duration.minutes(5)
TASK_TIMEOUT = Duration.minutes(30)
JOBS_VISIBILITY = Duration.minutes(2)


class LogPipelineStack(cdk.Stack):
    """The producer fleet -> queue -> consumer fleet pattern, with its hourly compaction."""

    def __init__(self, scope: Construct, id_: str, *, profile: Profile, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY
        log_retention = profile_log_retention(profile)
        data_key = log_key = None
        if profile.customer_managed_keys:
            data_key = messaging_key(
                self, "DataKey", "log lines at rest: log queue, jobs queue, archive", removal
            )
            log_key = logs_key(self, "LogsKey", removal)

        network = WorkerNetwork(
            self,
            "Network",
            max_azs=profile.max_azs,
            nat_gateways=profile.nat_gateways,
            cidr="10.41.0.0/16",
            flow_log_retention=log_retention,
            log_encryption_key=log_key,
            removal_policy=removal,
        )
        # Both fleets report launches and terminations here, through Auto Scaling's
        # service-linked role, which must be let into the topic's key.
        alarms = alarm_topic(self, "Alarms", profile, removal, auto_scaling_notifications=True)

        self.log_lines = QueueWithDeadLetter(
            self,
            "LogLines",
            visibility_timeout=LOG_VISIBILITY,
            dead_letter_retention_period=DEAD_LETTER_RETENTION,
            encryption_key=data_key,
            removal_policy=removal,
        )
        QueueAlarms(
            self,
            "LogLinesAlarms",
            queue=self.log_lines.queue,
            dead_letter_queue=self.log_lines.dead_letter_queue,
            alarm_topic=alarms.topic,
            max_message_age=MAX_LINE_AGE,
            dead_letter_retention=DEAD_LETTER_RETENTION,
        )
        buckets = PrivateBuckets(self, "Buckets", profile=profile, key=data_key)
        self.archive = buckets.bucket(
            "Archive",
            lifecycle_rules=[
                s3.LifecycleRule(id="RawParts", prefix="raw/", expiration=RAW_EXPIRY),
                s3.LifecycleRule(
                    id="HourlyLogs",
                    prefix="hourly/",
                    expiration=Duration.days(profile.log_retention_days),
                ),
            ],
        )

        fleet = dict(
            vpc=network.vpc,
            vpc_subnets=network.worker_subnets,
            queue=self.log_lines.queue,
            code_path=str(PIPELINE_CODE),
            instance_type=ec2.InstanceType(profile.worker_instance_type),
            min_capacity=profile.pipeline_min_capacity,
            max_capacity=profile.worker_max_capacity,
            notifications_topic=alarms.topic,
            log_retention=log_retention,
            log_encryption_key=log_key,
            removal_policy=removal,
        )
        self.shippers = QueueWorkerFleet(
            self,
            "Shippers",
            module="log_shipper",
            queue_access="send",
            scaling=profile.pipeline_shippers_scaling,
            environment={
                "LOG_SOURCE": profile.log_source,
                "GENERATE_LINES_PER_SECOND": str(profile.log_lines_per_second),
                "REFUSED_PATH": "/var/log/shippers/refused.jsonl",
            },
            **fleet,
        )

        self.jobs = QueueWithDeadLetter(
            self,
            "CompactionJobs",
            visibility_timeout=JOBS_VISIBILITY,
            max_receive_count=3,
            dead_letter_retention_period=DEAD_LETTER_RETENTION,
            encryption_key=data_key,
            removal_policy=removal,
        )
        QueueAlarms(
            self,
            "CompactionJobsAlarms",
            queue=self.jobs.queue,
            dead_letter_queue=self.jobs.dead_letter_queue,
            alarm_topic=alarms.topic,
            max_message_age=Duration.minutes(5),  # no archiver took the hour's job
            dead_letter_retention=DEAD_LETTER_RETENTION,
        )
        self.archivers = QueueWorkerFleet(
            self,
            "Archivers",
            module="log_archiver",
            scaling=profile.pipeline_archivers_scaling,
            target_backlog_per_instance=int(ACCEPTABLE_LATENCY.to_seconds() / SECONDS_PER_MESSAGE),
            environment={
                "ARCHIVE_BUCKET": self.archive.bucket_name,
                "VISIBILITY_TIMEOUT_SECONDS": str(int(LOG_VISIBILITY.to_seconds())),
                "FLUSH_SECONDS": str(int(FLUSH.to_seconds())),
                "JOBS_QUEUE_URL": self.jobs.queue.queue_url,
                "JOBS_VISIBILITY_TIMEOUT_SECONDS": str(int(JOBS_VISIBILITY.to_seconds())),
                "TASK_HEARTBEAT_SECONDS": str(int(HEARTBEAT.to_seconds())),
            },
            **fleet,
        )
        self._grant_archive(self.archivers.role, data_key)
        self.jobs.queue.grant_consume_messages(self.archivers.role)

        self.compaction = self._compaction(log_retention, log_key, removal)
        # The task-token actions support no resource-level permission: the Service
        # Authorization Reference lists no resource type for them, so a statement naming the
        # state machine (what CDK's grant_task_response writes) matches no request
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html).
        # The token is the capability: a worker can only answer tasks whose tokens it received.
        self.archivers.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "states:SendTaskSuccess",
                    "states:SendTaskFailure",
                    "states:SendTaskHeartbeat",
                ],
                resources=["*"],
            )
        )
        failed = cloudwatch.Alarm(
            self,
            "CompactionFailed",
            alarm_description="An hourly compaction failed or timed out: read its execution history",
            metric=cloudwatch.MathExpression(
                expression="failed + timedOut + aborted",
                using_metrics={
                    "failed": self.compaction.metric_failed(period=Duration.minutes(5)),
                    "timedOut": self.compaction.metric_timed_out(period=Duration.minutes(5)),
                    "aborted": self.compaction.metric_aborted(period=Duration.minutes(5)),
                },
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify = cw_actions.SnsAction(alarms.topic)
        failed.add_alarm_action(notify)
        failed.add_ok_action(notify)

        dashboard = QueueDashboard(
            self,
            "Dashboard",
            queue=self.log_lines.queue,
            dead_letter_queue=self.log_lines.dead_letter_queue,
            consumer_group=self.archivers.auto_scaling_group,
        )
        for name, value, description in (
            ("LogQueueUrl", self.log_lines.queue.queue_url, "Where the shippers send"),
            (
                "LogDeadLetterQueueUrl",
                self.log_lines.dead_letter_queue.queue_url,
                "Malformed log messages",
            ),
            ("ArchiveBucketName", self.archive.bucket_name, "raw/ and hourly/ gzip'd JSON lines"),
            (
                "CompactionStateMachineArn",
                self.compaction.state_machine_arn,
                "Start one to compact an hour",
            ),
            ("CompactionJobsQueueUrl", self.jobs.queue.queue_url, "Where Step Functions waits"),
            ("AlarmTopicArn", alarms.topic.topic_arn, "Subscribe to get alarms"),
            ("DashboardUrl", dashboard.url, "Backlog, age, dead letters, archivers"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)

        acknowledge_log_pipeline(self, self.archive, profile)

    def _grant_archive(self, role: iam.IRole, key: kms.IKey | None) -> None:
        """Write raw and hourly objects, read raw ones, list only the raw prefix. An hourly
        object over 8 MB is uploaded in parts, which a failed upload must be able to abort."""
        archive = self.archive
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[archive.arn_for_objects("raw/*"), archive.arn_for_objects("hourly/*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload"], resources=[archive.arn_for_objects("hourly/*")]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[archive.arn_for_objects("raw/*")]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[archive.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["raw/*"]}},
            )
        )
        if key is not None:
            key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")

    def _compaction(self, log_retention, log_key, removal) -> sfn.StateMachine:
        """Send the hour's job with a task token; wait for the worker's answer; act on it."""
        compact = tasks.SqsSendMessage(
            self,
            "CompactHour",
            queue=self.jobs.queue,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            message_body=sfn.TaskInput.from_object(
                {"taskToken": sfn.JsonPath.task_token, "input": sfn.JsonPath.entire_payload}
            ),
            heartbeat_timeout=sfn.Timeout.duration(HEARTBEAT),
            task_timeout=sfn.Timeout.duration(TASK_TIMEOUT),
            result_path="$.compaction",
        )
        # A dead worker (no heartbeat) or a failed merge: try again with a new message and token.
        compact.add_retry(
            errors=["States.HeartbeatTimeout", "States.Timeout", "Compaction.Failed"],
            interval=Duration.minutes(1),
            max_attempts=2,
            backoff_rate=2,
        )
        compact.add_catch(
            sfn.Fail(
                self, "CompactionFailedState", comment="The alarm says so; the history says why"
            ),
            errors=["States.ALL"],
        )
        decide = (
            sfn.Choice(self, "AnythingCompacted")
            .when(
                sfn.Condition.number_equals("$.compaction.parts", 0),
                sfn.Succeed(self, "NothingToCompact"),
            )
            .otherwise(sfn.Succeed(self, "HourCompacted"))
        )
        log_group = logs.LogGroup(
            self,
            "CompactionLogs",
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=removal,
        )
        machine = sfn.StateMachine(
            self,
            "Compaction",
            definition_body=sfn.DefinitionBody.from_chainable(compact.next(decide)),
            timeout=Duration.hours(1),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
        )
        events.Rule(
            self,
            "HourlyCompaction",
            description="At ten past each hour, compact the hour before",
            schedule=events.Schedule.cron(minute="10"),
            targets=[
                targets.SfnStateMachine(
                    machine,
                    input=events.RuleTargetInput.from_object(
                        {"requestedAt": events.EventField.time}
                    ),
                    retry_attempts=4,
                    max_event_age=Duration.minutes(30),
                )
            ],
        )
        return machine
