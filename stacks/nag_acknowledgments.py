"""cdk-nag AwsSolutions findings this project accepts: each on one resource, each with a reason.

Every acknowledgment names the exact finding (rule and, for IAM rules, the exact action or
resource) on the exact construct, so a new resource that trips the same rule still fails synth
until someone fixes it or writes its reason here. A reviewer reads every exception on one screen.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

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
    acknowledge_findings(
        stack,
        "Frontend/Api/CloudWatchRole",
        {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]": "The AWS-maintained policy API Gateway documents for its account-level logging "
            "role; it grants only CloudWatch Logs writes.",
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
        "Database/Instance",
        {
            "AwsSolutions-RDS11": "A non-default port is obscurity, not access control: the database is in isolated "
            "subnets and its security group admits only the workers' security group.",
        },
    )
    acknowledge_findings(
        stack,
        "Workers/InstanceRole",
        {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AmazonSSMManagedInstanceCore]": "Session Manager replaces SSH (no key pair, no inbound rule); this AWS-maintained "
            "policy is the documented minimum for the SSM agent and follows its API changes.",
        },
    )
    if profile.customer_managed_keys:
        acknowledge_findings(
            stack,
            "Frontend/SendRole/DefaultPolicy",
            {
                f"AwsSolutions-IAM5[Action::{action}]": "Scoped to the one data key that encrypts the queue: SQS needs a data key to "
                "encrypt each message API Gateway sends (Queue.grant_send_messages)."
                for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*")
            },
        )
    if not profile.web_application_firewall:
        acknowledge_findings(
            stack,
            "Frontend/Api/DeploymentStage.v1",
            {
                "AwsSolutions-APIG3": "Sandbox profile: a web ACL costs ~$5/month plus per-rule fees; IAM "
                "authorization and stage throttling still apply. Production attaches one.",
            },
        )
    if not profile.rotate_database_secret:
        acknowledge_findings(
            stack,
            "Database/Instance/Secret",
            {
                "AwsSolutions-SMG4": "Sandbox profile: rotation needs a rotation Lambda in subnets with a route to "
                "Secrets Manager (NAT), which the sandbox omits; production rotates every 30 days.",
            },
        )
    if not profile.multi_az:
        acknowledge_findings(
            stack,
            "Database/Instance",
            {
                "AwsSolutions-RDS3": "Sandbox profile: a single-AZ instance halves the cost of a stack that lives for "
                "hours; the queue buffers writes through an outage. Production is Multi-AZ.",
            },
        )
    if not profile.deletion_protection:
        acknowledge_findings(
            stack,
            "Database/Instance",
            {
                "AwsSolutions-RDS10": "Sandbox profile: `cdk destroy` must remove everything it created. Production "
                "enables deletion protection.",
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
    arn = f"<{stack.resolve(stack.get_logical_id(batches.node.default_child))}.Arn>"
    acknowledge_findings(
        stack,
        "Batcher/Role/DefaultPolicy",
        {
            f"AwsSolutions-IAM5[Resource::{arn}/usage/*]": "PutObject only, under usage/: each "
            "run writes a new object whose name holds its time and a random id.",
        },
    )
    if profile.customer_managed_keys:
        acknowledge_findings(
            stack,
            "UsageProducerPolicy",
            {
                f"AwsSolutions-IAM5[Action::{action}]": "Scoped to the one key that encrypts the "
                "usage queue: producers need data keys to send encrypted messages "
                "(Queue.grant_send_messages)."
                for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*")
            },
        )


def acknowledge_log_pipeline(stack: cdk.Stack, archive, profile: Profile) -> None:
    """The accepted findings of `LogPipelineStack`."""
    arn = f"<{stack.resolve(stack.get_logical_id(archive.node.default_child))}.Arn>"
    acknowledge_findings(
        stack,
        "Archivers/InstanceRole/DefaultPolicy",
        {
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
        for path, granted_by in (
            ("Shippers/InstanceRole/DefaultPolicy", "Queue.grant_send_messages"),
            ("Compaction/Role/DefaultPolicy", "the SqsSendMessage task"),
        ):
            acknowledge_findings(
                stack,
                path,
                {
                    f"AwsSolutions-IAM5[Action::{action}]": "Scoped to the one data key that "
                    "encrypts the queues: SQS needs a data key to encrypt each message sent "
                    f"({granted_by})."
                    for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*")
                    if not (action == "kms:ReEncrypt*" and path.startswith("Compaction"))
                },
            )
    for fleet in ("Shippers", "Archivers"):
        acknowledge_findings(
            stack,
            f"{fleet}/InstanceRole",
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "AmazonSSMManagedInstanceCore]": "Session Manager replaces SSH (no key pair, no "
                "inbound rule); this AWS-maintained policy is the documented minimum for the SSM "
                "agent and follows its API changes.",
            },
        )
