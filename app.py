#!/usr/bin/env python3
"""The CDK app: every queue pattern of this project, for one deployment profile.

    npx cdk synth --all -c profile=sandbox      # or production
    npx cdk deploy WriteBuffer -c profile=sandbox

cdk-nag's AwsSolutions pack and this project's queue rules (QueueRules) run on every synth: an
unacknowledged error fails it and `cdk.out/validation-report.json` says why.

CDK's built-in CloudFormation validation (resource schemas and CDK's default rules) is off by
default here: it took about 45% of each synth (13.5 s -> 7.3 s for this app on the CI machine)
and found nothing in these templates. cfn-lint checks every template of both profiles in the
test suite, and the suite also synthesizes the app with the built-in validation on and requires
it to find nothing. Turn it on for a synth with `-c cfn_validate=true` (cdk.json's
`validateAgainstDefaultRules` flag then makes a finding fail the synth).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# `constructs/` is a namespace folder so that it cannot shadow the pip package `constructs`;
# the reusable package inside it, `queue_patterns`, is reached through this path entry.
sys.path.insert(0, str(Path(__file__).resolve().parent / "constructs"))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from queue_patterns import QueueRules  # noqa: E402

from stacks.log_pipeline_stack import LogPipelineStack  # noqa: E402
from stacks.order_fan_out_stack import OrderFanOutStack  # noqa: E402
from stacks.payment_ledger_stack import PaymentLedgerStack  # noqa: E402
from stacks.profiles import profile_named  # noqa: E402
from stacks.upload_processing_stack import UploadProcessingStack  # noqa: E402
from stacks.usage_metering_stack import UsageMeteringStack  # noqa: E402
from stacks.write_buffer_stack import WriteBufferStack  # noqa: E402


def build_app(app: cdk.App | None = None, *, nag: bool = True) -> cdk.App:
    """Add every stack to `app` (a new one by default), configured by its context."""
    app = app or cdk.App(builtin_cloud_formation_validation=False)
    profile = profile_named(app.node.try_get_context("profile"))
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    tags = {"project": "queue-patterns", "profile": profile.name}

    WriteBufferStack(
        app,
        "WriteBuffer",
        stack_name=f"queue-patterns-write-buffer-{profile.name}",
        description="Write buffering: API -> SQS -> EC2 Auto Scaling workers -> RDS PostgreSQL",
        profile=profile,
        worker_scaling=app.node.try_get_context("worker_scaling") or "step",
        env=env,
        tags=tags,
    )

    OrderFanOutStack(
        app,
        "OrderFanOut",
        stack_name=f"queue-patterns-order-fan-out-{profile.name}",
        description="SNS fan-out: orders topic -> inventory, payment, shipping, audit queues -> Lambda",
        profile=profile,
        env=env,
        tags=tags,
    )
    PaymentLedgerStack(
        app,
        "PaymentLedger",
        stack_name=f"queue-patterns-payment-ledger-{profile.name}",
        description="Ordered fan-out: SNS FIFO -> SQS FIFO -> payment ledger Lambda",
        profile=profile,
        env=env,
        tags=tags,
    )

    UploadProcessingStack(
        app,
        "UploadProcessing",
        stack_name=f"queue-patterns-upload-processing-{profile.name}",
        description="Async task offload: S3 upload -> SQS -> Lambda validate, compress, store",
        profile=profile,
        env=env,
        tags=tags,
    )

    accounts = app.node.try_get_context("usage_producer_accounts") or ""
    UsageMeteringStack(
        app,
        "UsageMetering",
        stack_name=f"queue-patterns-usage-metering-{profile.name}",
        description="Fan-in and scheduled batching: producers -> usage queue -> batcher -> S3",
        profile=profile,
        producer_accounts=[a for a in str(accounts).split(",") if a],
        env=env,
        tags=tags,
    )

    LogPipelineStack(
        app,
        "LogPipeline",
        stack_name=f"queue-patterns-log-pipeline-{profile.name}",
        description="Producer fleet -> SQS -> consumer fleet -> S3; Step Functions waits on a queue",
        profile=profile,
        env=env,
        tags=tags,
    )

    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), QueueRules())
    if str(app.node.try_get_context("cfn_validate")).lower() == "true":
        cdk.Validations.of(app).add_plugins(cdk.CloudFormationValidatePlugin())
    return app


if __name__ == "__main__":
    build_app().synth()
