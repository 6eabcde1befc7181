"""Lambda function consuming an SQS queue, with the settings the common mistakes get wrong.

Why a construct: the most asked questions about Lambda on SQS are answered here once, at synth:

- Partial batch failures: the event source reports `batchItemFailures`, so one bad record is
  retried (and dead-lettered) alone instead of failing its whole batch again.
- Visibility timeout: at least 6 x the function timeout (AWS's advice:
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html), so that a batch
  retried after a throttle is not delivered a second time while the first attempt still runs.
- Maximum concurrency on the event source (2..1000), so a burst cannot exhaust the account's
  concurrency or a downstream database; not reserved concurrency, which the event source does
  not account for, so it takes more messages than the function may run (https://repost.aws/knowledge-center/lambda-sqs-scaling).
- Combinations SQS and Lambda reject (a batching window on FIFO, batch sizes over the limits)
  fail synth with the rule, instead of failing `cdk deploy` twenty minutes later.
- A dead-letter queue is required (for a queue this app defines): without one, a record that
  always fails is retried until retention deletes it, and nobody is told. Its depth alarms.

The function is arm64, on a current Python runtime (no Docker bundling: the handler folder is a
plain asset), with a log group with retention, X-Ray, a role with only what the event source
needs, and alarms on errors, throttles, message age and dead letters. Powertools comes from the
layer you pass as `powertools_layer`: build it from the release your handlers are tested against
(this project's stacks do, see stacks/powertools_layer.py), or pass AWS's public layer by ARN at a
version you have checked. With None the construct adds no Powertools layer, and a handler that
imports Powertools must ship it in `code_path` or in `layers`.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_14
SQS_DEFAULT_VISIBILITY = Duration.seconds(30)
# Where AWS states the limits and advice enforced below (as of 2026-12-02).
LAMBDA_TIMEOUT = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
SQS_EVENT_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
SQS_EVENT_SOURCE_SETUP = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
EVENT_SOURCE_API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
SCALING_CONFIG = "https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html"
SQS_METRICS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-monitoring-using-cloudwatch.html"


class LambdaQueueConsumer(Construct):
    """A Lambda function wired to an SQS queue with partial batch responses and guard rails.

    Attributes: `function`, `role`, `event_source`, `log_group`, `alarms`.

    Props:
        queue: the queue to consume (a FIFO queue is detected from it).
        code_path: folder holding the handler module; shipped as-is, no bundling.
        handler: `module.function` inside `code_path`.
        queue_visibility_timeout: the queue's visibility timeout; read from the queue when this app defines it.
        environment: environment variables for the function.
        layers: extra layers (your shared code).
        powertools_layer: a Powertools layer for arm64 python3.14, e.g. built from your tested release; None: none.
        timeout: the function timeout; the queue's visibility must be at least 6x it.
        memory_size: MB of memory (128..10240); CPU grows with it.
        batch_size: records per invocation (1..10 FIFO, 1..10000 standard; >10 needs a batching window).
        max_batching_window: wait up to this long to fill a batch (standard queues only, 0..300 s).
        max_concurrency: concurrent invocations the event source may start (2..1000); None: no cap.
        service_name: POWERTOOLS_SERVICE_NAME, the `service` key of every log line.
        alarm_topic: SNS topic for the alarms; None creates them without actions.
        max_message_age: alarm when the oldest message waits longer than this (>= 60 s); None: no age alarm (QueueAlarms has one).
        dead_letter_alarm: alarm on the first message in the queue's DLQ; False when QueueAlarms already does.
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
        code_path: str,
        handler: str,
        queue_visibility_timeout: Duration | None = None,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        powertools_layer: lambda_.ILayerVersion | None = None,
        timeout: Duration = Duration.seconds(30),
        memory_size: int = 256,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = 10,
        service_name: str | None = None,
        alarm_topic: sns.ITopic | None = None,
        max_message_age: Duration | None = Duration.minutes(5),
        dead_letter_alarm: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        visibility = queue_visibility_timeout or _visibility_of(queue)
        dead_letter_queue = _dead_letter_queue_of(queue)
        _validate(
            fifo=bool(queue.fifo),
            visibility=visibility,
            code_path=code_path,
            handler=handler,
            timeout=timeout,
            memory_size=memory_size,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            max_message_age=max_message_age,
        )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=log_encryption_key,
            removal_policy=removal_policy,
        )
        # Its own role with only its own log group, instead of AWSLambdaBasicExecutionRole's
        # logs:CreateLogGroup, CreateLogStream and PutLogEvents on "*", every log group in the
        # account: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Consumes one queue; writes its own log group and X-Ray traces",
        )
        self.log_group.grant_write(self.role)
        all_layers = [powertools_layer, *layers] if powertools_layer else list(layers)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(code_path, exclude=["**/__pycache__", "*.pyc"]),
            handler=handler,
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            layers=all_layers,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name or id_,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        self.event_source = sources.SqsEventSource(
            queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
        self.function.add_event_source(self.event_source)
        Validations.of(self.role.node.find_child("DefaultPolicy")).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
                "permissions; every other statement names its resource",
            )
        )

        self.alarms = _alarms(self, queue, max_message_age)
        if dead_letter_alarm and dead_letter_queue is not None:
            self.alarms.append(_dead_letter_alarm(self, dead_letter_queue))
        if alarm_topic is not None:
            notify = actions.SnsAction(alarm_topic)  # one action object serves every alarm
            for alarm in self.alarms:
                alarm.add_alarm_action(notify)
                alarm.add_ok_action(notify)


def _dead_letter_queue_of(queue: sqs.IQueue) -> sqs.IQueue | None:
    """The DLQ of a queue this app defines (an error if it has none); None for an imported queue,
    whose redrive policy this app cannot see."""
    if not isinstance(queue, sqs.Queue):
        return None
    if queue.dead_letter_queue is None:
        raise ValueError(
            f"LambdaQueueConsumer.queue: {queue.node.path} has no dead-letter queue; a record "
            "that always fails would be retried until retention deletes it, unseen"
        )
    return queue.dead_letter_queue.queue


def _visibility_of(queue: sqs.IQueue) -> Duration:
    """The visibility timeout of a queue this app defines (SQS's 30 s default if unset)."""
    resource = queue.node.default_child if isinstance(queue, sqs.Queue) else None
    if not isinstance(resource, sqs.CfnQueue):
        raise ValueError(
            "LambdaQueueConsumer.queue_visibility_timeout: required for a queue defined outside "
            "this app; the 6x rule is checked against it"
        )
    seconds = resource.visibility_timeout
    return Duration.seconds(seconds) if seconds is not None else SQS_DEFAULT_VISIBILITY


def _validate(
    *,
    fifo,
    visibility,
    code_path,
    handler,
    timeout,
    memory_size,
    batch_size,
    max_batching_window,
    max_concurrency,
    max_message_age,
) -> None:
    """Fail synth with a message naming the prop, its value and the rule."""
    name = "LambdaQueueConsumer"
    if not 1 <= timeout.to_seconds() <= 900:
        raise ValueError(
            f"{name}.timeout: {timeout.to_seconds()}s is outside 1..900s (Lambda's limit: "
            f"{LAMBDA_TIMEOUT})"
        )
    if visibility.to_seconds() < 6 * timeout.to_seconds():
        raise ValueError(
            f"{name}.visibility_timeout: {visibility.to_seconds()}s is less than 6 x the function "
            f"timeout ({timeout.to_seconds()}s); AWS recommends at least 6x so that retries of a "
            f"throttled batch do not redeliver it early ({SQS_EVENT_SOURCE_SETUP})"
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
    limit = 10 if fifo else 10_000
    if not 1 <= batch_size <= limit:
        raise ValueError(
            f"{name}.batch_size: {batch_size} is outside 1..{limit}, the most a "
            f"{'FIFO' if fifo else 'standard'} queue event source accepts ({SQS_EVENT_SOURCE})"
        )
    window = max_batching_window.to_seconds() if max_batching_window is not None else None
    if fifo and window is not None:
        raise ValueError(
            f"{name}.max_batching_window: {window}s is set on a FIFO queue; Lambda supports no "
            f"batching window for FIFO queues ({SQS_EVENT_SOURCE})"
        )
    if window is not None and not 0 <= window <= 300:
        raise ValueError(
            f"{name}.max_batching_window: {window}s is outside 0..300s (the range Lambda "
            f"accepts: {EVENT_SOURCE_API})"
        )
    if batch_size > 10 and (window or 0) < 1:
        raise ValueError(
            f"{name}.batch_size: {batch_size} is over 10 without max_batching_window of at least "
            f"1s; Lambda requires a batching window for batches larger than 10 ({EVENT_SOURCE_API})"
        )
    if max_concurrency is not None and not 2 <= max_concurrency <= 1000:
        raise ValueError(
            f"{name}.max_concurrency: {max_concurrency} is outside 2..1000, the range an SQS "
            f"event source accepts ({SCALING_CONFIG})"
        )
    if max_message_age is not None and max_message_age.to_seconds() < 60:
        raise ValueError(
            f"{name}.max_message_age: {max_message_age.to_seconds()}s is under 60s; SQS "
            "publishes the queue's age metric once a minute, so a shorter threshold only makes "
            f"noise ({SQS_METRICS})"
        )


def _alarms(scope: LambdaQueueConsumer, queue: sqs.IQueue, max_age: Duration | None):
    minute = Duration.minutes(1)
    greater = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    quiet = cloudwatch.TreatMissingData.NOT_BREACHING
    function = scope.function
    alarms = [
        cloudwatch.Alarm(
            scope,
            "Errors",
            alarm_description="The consumer function failed invocations (not records): look at its logs",
            metric=function.metric_errors(period=minute, statistic="Sum"),
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=greater,
            treat_missing_data=quiet,
        ),
        cloudwatch.Alarm(
            scope,
            "Throttles",
            alarm_description="The consumer is throttled: raise account concurrency or lower max_concurrency",
            metric=function.metric_throttles(period=minute, statistic="Sum"),
            threshold=1,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            comparison_operator=greater,
            treat_missing_data=quiet,
        ),
    ]
    if max_age is not None:
        alarms.append(
            cloudwatch.Alarm(
                scope,
                "MessageAge",
                alarm_description=f"Messages wait over {max_age.to_human_string()}: the consumer is behind",
                metric=queue.metric_approximate_age_of_oldest_message(
                    period=minute, statistic="Maximum"
                ),
                threshold=max_age.to_seconds(),
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=greater,
                treat_missing_data=quiet,
            )
        )
    return alarms


def _dead_letter_alarm(scope: LambdaQueueConsumer, dead_letter_queue: sqs.IQueue):
    return cloudwatch.Alarm(
        scope,
        "DeadLetters",
        alarm_description="Records reached the dead-letter queue: inspect, fix, then redrive",
        metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        ),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
