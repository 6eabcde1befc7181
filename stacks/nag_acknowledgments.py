"""cdk-nag AwsSolutions findings this project accepts: each on one resource, each with a reason.

Every acknowledgment names the exact finding (rule and, for IAM rules, the exact action or
resource) on the exact construct, so a new resource that trips the same rule still fails synth
until someone fixes it or writes its reason here. A reviewer reads every exception on one screen.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct
from queue_patterns import acknowledge_queue_rule

from stacks.profiles import Profile


def acknowledge_findings(scope: Construct, path: str, findings: dict[str, str]) -> None:
    """Acknowledge `{finding id: reason}` on the construct at `path` below `scope`."""
    target = scope
    for part in path.split("/"):
        target = target.node.find_child(part)
    for finding, reason in findings.items():
        cdk.Validations.of(target).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def singleton_id(stack: cdk.Stack, prefix: str) -> str:
    """The id of one of CDK's singleton functions (BucketNotificationsHandler, ...):
    a fixed prefix followed by a hash."""
    return next(c.node.id for c in stack.node.children if c.node.id.startswith(prefix))


def acknowledge_write_buffer(stack: cdk.Stack, profile: Profile) -> None:
    """The accepted findings of `WriteBufferStack`."""
    database = (
        "Database/Cluster"
        if profile.database_engine == "aurora-serverless"
        else "Database/Instance"
    )
    acknowledge_findings(
        stack,
        "Frontend/Api/CloudWatchRole",
        {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]": "The AWS-maintained policy that API Gateway "
            "documents for its account-wide logging role (https://docs.aws.amazon.com/apigateway/"
            "latest/developerguide/set-up-logging.html). It is not only writes: it also reads and "
            "lists log groups, streams and events (DescribeLogGroups, DescribeLogStreams, "
            "GetLogEvents, FilterLogEvents) on every log group; only API Gateway can assume the role.",
        },
    )
    acknowledge_findings(
        stack,
        "Frontend/Api/Default/orders/POST",
        {
            "AwsSolutions-COG4": "The method uses IAM (SigV4) authorization: its callers are frontends and services "
            "holding AWS credentials, not end users with Cognito tokens.",
        },
    )
    acknowledge_findings(
        stack,
        database,
        {
            "AwsSolutions-RDS11": "A non-default port is obscurity, not access control: the database is in isolated "
            "subnets and its security group admits only the workers' security group.",
        },
    )
    if profile.database_monitoring_seconds:
        acknowledge_findings(
            stack,
            "Database/Instance/MonitoringRole",
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]": "The AWS-maintained policy RDS documents for "
                "Enhanced Monitoring (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                "USER_Monitoring.OS.Enabling.html): it creates and writes only log groups named "
                "RDS* (RDSOSMetrics), and only RDS can assume the role.",
            },
        )
    if not profile.web_application_firewall:
        acknowledge_findings(
            stack,
            "Frontend/Api/DeploymentStage.v1",
            {
                "AwsSolutions-APIG3": profile.trade_offs["no web ACL"],
            },
        )
    if not profile.multi_az:
        acknowledge_findings(
            stack,
            database,
            {
                "AwsSolutions-RDS3": profile.trade_offs["single-AZ database"],
            },
        )
    if not profile.deletion_protection:
        acknowledge_findings(
            stack,
            database,
            {
                "AwsSolutions-RDS10": profile.trade_offs["no deletion protection"],
            },
        )


def acknowledge_kms_grants(stack: cdk.Stack, consumer_paths: list[str]) -> None:
    """Production tables share the stack's customer-managed key; their grants use wildcards."""
    for path in consumer_paths:
        acknowledge_findings(
            stack,
            f"{path}/Role/DefaultPolicy",
            {
                f"AwsSolutions-IAM5[Action::{action}]": "Scoped to the one customer-managed key "
                "that encrypts this consumer's queue and table, as Table.grant_read_write_data "
                "generates it; DynamoDB needs data keys to read and write the encrypted items."
                for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*")
            },
        )


def acknowledge_subscription_dead_letter(stack: cdk.Stack) -> None:
    """The SNS subscriptions' dead-letter queue of a fan-out stack."""
    acknowledge_findings(
        stack,
        "SubscriptionDeadLetter",
        {
            "AwsSolutions-SQS3": "This queue is a dead-letter queue: the SNS subscriptions' "
            "RedrivePolicy targets it (cdk-nag recognizes only SQS redrive policies). It is "
            "alarmed like every other DLQ.",
        },
    )


def acknowledge_fan_out(stack: cdk.Stack, consumers: list[str], profile: Profile) -> None:
    """The accepted findings of `OrderFanOutStack`."""
    if profile.customer_managed_keys:
        acknowledge_kms_grants(stack, [f"{unit}Consumer" for unit in consumers])


def acknowledge_payment_ledger(stack: cdk.Stack, profile: Profile) -> None:
    """The accepted findings of `PaymentLedgerStack`."""
    if profile.customer_managed_keys:
        acknowledge_kms_grants(stack, ["LedgerConsumer"])


def acknowledge_upload_processing(stack: cdk.Stack, uploads, processed) -> None:
    """The accepted findings of `UploadProcessingStack`."""

    def arn(bucket) -> str:
        return f"<{stack.resolve(stack.get_logical_id(bucket.node.default_child))}.Arn>"

    acknowledge_findings(
        stack,
        "Processor/Role/DefaultPolicy",
        {
            f"AwsSolutions-IAM5[Resource::{arn(uploads)}/incoming/*]": "GetObject only, on "
            "objects under incoming/: upload keys are user file names, unknown at deploy time.",
            f"AwsSolutions-IAM5[Resource::{arn(processed)}/processed/*]": "PutObject only, "
            "on objects under processed/: output keys follow the upload keys.",
        },
    )
    notifications = singleton_id(stack, "BucketNotificationsHandler")
    acknowledge_findings(
        stack,
        f"{notifications}/Role",
        {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": "CDK's own handler that writes the bucket's "
            "notification configuration at deploy time; it needs only to write its logs.",
        },
    )


def acknowledge_usage_metering(stack: cdk.Stack, batches, profile: Profile) -> None:
    """The accepted findings of `UsageMeteringStack`."""
    acknowledge_queue_rule(
        stack.node.find_child("UsageEvents").node.find_child("Queue"),
        "QR5",
        "Read by one scheduled run every 5 minutes, not by an event source mapping: no throttled "
        "or concurrent poller receives a message without processing it. Three failed runs (15 "
        "minutes) tell a poison event from a transient fault, and the batcher's Errors alarm "
        "fires on the first failed run.",
    )
    arn = f"<{stack.resolve(stack.get_logical_id(batches.node.default_child))}.Arn>"
    acknowledge_findings(
        stack,
        "Batcher/Role/DefaultPolicy",
        {
            f"AwsSolutions-IAM5[Resource::{arn}/usage/*]": "PutObject only, under usage/: each "
            "run writes a new object whose name holds its time and a random id.",
        },
    )


def acknowledge_log_pipeline(stack: cdk.Stack, archive, profile: Profile) -> None:
    """The accepted findings of `LogPipelineStack`."""
    acknowledge_queue_rule(
        stack.node.find_child("CompactionJobs").node.find_child("Queue"),
        "QR5",
        "Not read by an event source mapping: one job a hour, received by an archiver that "
        "heartbeats to Step Functions. A job no archiver finishes is sent again as a new "
        "message by the state machine's retry, so three receives of one message already mean "
        "three archivers failed it, and the CompactionFailed alarm fires.",
    )
    arn = f"<{stack.resolve(stack.get_logical_id(archive.node.default_child))}.Arn>"
    acknowledge_findings(
        stack,
        "Archivers/InstanceRole/DefaultPolicy",
        {
            "AwsSolutions-IAM5[Resource::*]": "Two groups of actions that support no resource-level "
            "permission and so must name *: Session Manager's (ssmmessages channels, "
            "ssm:UpdateInstanceInformation, as AWS's minimal instance policy grants them) and the "
            "task-token answers states:SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat "
            "(the Service Authorization Reference lists no resource type for them); a worker can "
            "answer only the tasks whose tokens it received from the jobs queue.",
            f"AwsSolutions-IAM5[Resource::{arn}/raw/*]": "PutObject and GetObject only, on "
            "objects under raw/: each flush writes a new object whose name holds its time, "
            "instance and a random id, and compaction reads them back.",
            f"AwsSolutions-IAM5[Resource::{arn}/hourly/*]": "PutObject and AbortMultipartUpload "
            "only, on objects under hourly/: one object per compacted hour, named by its date and "
            "hour, uploaded in parts when it is large.",
        },
    )
    acknowledge_findings(
        stack,
        "Compaction/Role/DefaultPolicy",
        {
            "AwsSolutions-IAM5[Resource::*]": "Two groups of actions that take no resource ARN: "
            "CloudWatch Logs' log-delivery actions, which Step Functions needs to write execution "
            "logs (its documented logging policy uses *), and X-Ray's PutTraceSegments, "
            "PutTelemetryRecords and sampling calls. Every other statement names its resource.",
        },
    )
    if profile.customer_managed_keys:
        acknowledge_findings(
            stack,
            "Compaction/Role/DefaultPolicy",
            {
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "Scoped to the one data key "
                "that encrypts the jobs queue: SQS needs a data key to encrypt each message the "
                "SqsSendMessage task sends, and CDK's task grants the GenerateDataKey* family.",
            },
        )
