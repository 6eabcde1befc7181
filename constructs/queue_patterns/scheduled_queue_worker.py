"""A Lambda function that wakes on a schedule and drains a queue in one batch.

Why a construct: batching on a schedule (seed 001 pattern 7) trades latency for cost and I/O:
one invocation and one downstream write per interval instead of one per message. It only works
if three timings agree, and this construct refuses any that do not, at synth:

- the function must finish before the next run starts (timeout < schedule interval), and runs
  never overlap (reserved concurrency 1);
- a message received at the start of a run must stay hidden until that run deletes it
  (queue visibility timeout >= function timeout);
- messages wait up to one interval by design, so the backlog-age alarm threshold must be longer
  than interval + timeout, or it would fire on every quiet minute.

A run that never starts is no silent gap either: an invocation EventBridge could not deliver
(the target's dead-letter queue) and an asynchronous event Lambda gave up on (its on-failure
destination, with no retries: the next interval is the retry) both land in `missed_runs`, which
alarms on one message.

Powertools comes from the layer passed as `powertools_layer` (this project's stacks build it from
the release the handler tests run); with None the construct adds none.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# Where AWS states the limits enforced below (as of 2026-12-02).
EVENTBRIDGE_RATE = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html"
)
LAMBDA_TIMEOUT = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"


class ScheduledQueueWorker(Construct):
    """Schedule -> Lambda that receives, processes and deletes a queue's messages in batches.

    Attributes: `function`, `role`, `rule`, `missed_runs` (the schedule's dead-letter queue),
    `log_group`, `alarms`.

    Props:
        queue: the queue to drain; its URL reaches the function as QUEUE_URL.
        queue_visibility_timeout: the queue's visibility timeout (at least the function timeout).
        code_path: folder holding the handler module; shipped as-is, no bundling.
        handler: `module.function` inside `code_path`.
        every: the schedule interval, whole minutes.
        timeout: the function timeout; shorter than `every` so runs cannot overlap.
        memory_size: MB of memory (128..10240).
        environment: more environment variables for the function.
        layers: extra layers (your shared code).
        powertools_layer: a Powertools layer for arm64 python3.14, e.g. built from your tested release; None: none.
        alarm_topic: SNS topic for the alarms; None creates them without actions.
        max_message_age: backlog-age alarm threshold; longer than `every` + `timeout`.
        log_retention: the function's log retention.
        log_encryption_key: customer-managed KMS key for the log group; None: CloudWatch Logs' own encryption.
        removal_policy: what `cdk destroy` does to the log group.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.IQueue,
        queue_visibility_timeout: Duration,
        code_path: str,
        handler: str,
        every: Duration = Duration.minutes(5),
        timeout: Duration = Duration.minutes(2),
        memory_size: int = 512,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        powertools_layer: lambda_.ILayerVersion | None = None,
        alarm_topic: sns.ITopic | None = None,
        max_message_age: Duration = Duration.minutes(15),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        _validate(
            queue_visibility_timeout,
            code_path,
            handler,
            every,
            timeout,
            memory_size,
            max_message_age,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=log_encryption_key,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Drains one queue on a schedule; writes its own log group",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(code_path, exclude=["**/__pycache__", "*.pyc"]),
            handler=handler,
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            layers=[powertools_layer, *layers] if powertools_layer else list(layers),
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=1,  # one run at a time, whatever the schedule does
            environment={
                "QUEUE_URL": queue.queue_url,
                "POWERTOOLS_SERVICE_NAME": id_,
                **(environment or {}),
            },
        )
        queue.grant_consume_messages(self.role)
        Validations.of(self.role.node.find_child("DefaultPolicy")).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
                "permissions; every other statement names its resource",
            )
        )
        self.missed_runs = sqs.Queue(
            self,
            "MissedRuns",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=removal_policy,
        )
        Validations.of(self.missed_runs).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is a dead-letter queue: the schedule target's DeadLetterConfig "
                "and the function's on-failure destination (cdk-nag recognizes only SQS redrive "
                "policies). It alarms on one message.",
            )
        )
        # A missed run is superseded by the next one: no retries, and an event older than one
        # interval is given up (EventBridge keeps an event up to 24 h, Lambda up to 6 h:
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html,
        # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configure.html).
        give_up_after = Duration.seconds(min(every.to_seconds(), 6 * 3600))
        self.function.configure_async_invoke(
            retry_attempts=0,
            max_event_age=give_up_after,
            on_failure=destinations.SqsDestination(self.missed_runs),
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(every),
            description=f"Drain the queue every {every.to_human_string()}",
            targets=[
                targets.LambdaFunction(
                    self.function,
                    retry_attempts=0,
                    max_event_age=give_up_after,
                    dead_letter_queue=self.missed_runs,
                )
            ],
        )

        minute = Duration.minutes(1)
        greater = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self.alarms = [
            cloudwatch.Alarm(
                self,
                "Errors",
                alarm_description="A scheduled run failed: look at its logs",
                metric=self.function.metric_errors(period=minute, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=greater,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "BacklogAge",
                alarm_description=f"Messages wait over {max_message_age.to_human_string()}: runs "
                "are failing or cannot keep up",
                metric=queue.metric_approximate_age_of_oldest_message(
                    period=minute, statistic="Maximum"
                ),
                threshold=max_message_age.to_seconds(),
                evaluation_periods=2,
                comparison_operator=greater,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "MissedRun",
                alarm_description="A scheduled run never started (EventBridge could not invoke "
                "the function, or Lambda gave up on the event): look at the missed-runs queue",
                metric=self.missed_runs.metric_approximate_number_of_messages_visible(
                    period=minute, statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=greater,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        if alarm_topic is not None:
            notify = actions.SnsAction(alarm_topic)  # one action object serves every alarm
            for alarm in self.alarms:
                alarm.add_alarm_action(notify)
                alarm.add_ok_action(notify)


def _validate(visibility, code_path, handler, every, timeout, memory_size, max_age) -> None:
    """Fail synth with a message naming the prop, its value and the rule."""
    name = "ScheduledQueueWorker"
    every_s, timeout_s = every.to_seconds(), timeout.to_seconds()
    if every_s % 60 or every_s < 60:
        raise ValueError(
            f"{name}.every: {every_s}s must be whole minutes, at least 1 (an EventBridge rate "
            f"expression counts whole minutes, hours or days: {EVENTBRIDGE_RATE})"
        )
    if not 1 <= timeout_s < every_s or timeout_s > 900:
        raise ValueError(
            f"{name}.timeout: {timeout_s}s must be under every ({every_s}s), so that one run "
            f"ends before the next begins, and at most 900s, Lambda's limit ({LAMBDA_TIMEOUT})"
        )
    if visibility.to_seconds() < timeout_s:
        raise ValueError(
            f"{name}.queue_visibility_timeout: {visibility.to_seconds()}s is shorter than the "
            f"function timeout ({timeout_s}s); a message received early in a run would reappear "
            "before the run deletes it"
        )
    if max_age.to_seconds() <= every_s + timeout_s:
        raise ValueError(
            f"{name}.max_message_age: {max_age.to_seconds()}s is not longer than every + timeout "
            f"({every_s + timeout_s}s); messages wait up to one interval by design, so the alarm "
            "would fire between healthy runs"
        )
    module, _, function = handler.rpartition(".")
    if not module or not function.isidentifier():
        raise ValueError(f"{name}.handler: {handler!r} is not `module.function`")
    if not (Path(code_path) / f"{module.replace('.', '/')}.py").is_file():
        raise ValueError(
            f"{name}.code_path: {code_path!r} has no {module}.py for handler {handler!r}"
        )
    if not 128 <= memory_size <= 10_240:
        raise ValueError(
            f"{name}.memory_size: {memory_size} is outside 128..10240 MB (Lambda's limit: "
            f"{LAMBDA_QUOTAS})"
        )
