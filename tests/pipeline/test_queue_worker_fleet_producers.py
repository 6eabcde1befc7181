"""QueueWorkerFleet on the producer side: send-only, scaled on CPU, and the combinations refused."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from queue_patterns import QueueWorkerFleet

PIPELINE_CODE = Path(__file__).resolve().parents[2] / "log_pipeline"


@pytest.fixture(scope="module")
def network():
    app = cdk.App()
    stack = cdk.Stack(app, "Network")
    return app, ec2.Vpc(stack, "Vpc", nat_gateways=0)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"queue_access": "send", "scaling": "step"},
            r"QueueWorkerFleet.scaling: 'step' with queue_access='send' would scale producers on "
            r"the backlog they create",
        ),
        (
            {"queue_access": "send", "scaling": "backlog_per_instance", "min_capacity": 1},
            r"scaling: 'backlog_per_instance' with queue_access='send'",
        ),
        ({"queue_access": "publish"}, r"queue_access: 'publish' is not one of consume, send"),
        (
            {"queue_access": "send", "scaling": "cpu", "min_capacity": 0},
            r"min_capacity: 0 with scaling='cpu' cannot work",
        ),
        (
            {
                "queue_access": "send",
                "scaling": "cpu",
                "min_capacity": 1,
                "target_cpu_utilization": 95,
            },
            r"target_cpu_utilization: 95 is outside 10..90 percent",
        ),
    ],
)
def test_a_producer_fleet_that_cannot_work_fails_synth(network, props, message):
    app, vpc = network
    stack = cdk.Stack(app, f"Fleet{abs(hash(message))}")
    queue = sqs.Queue(stack, "Queue")
    with pytest.raises(ValueError, match=message):
        QueueWorkerFleet(
            stack,
            "Shippers",
            vpc=vpc,
            queue=queue,
            code_path=str(PIPELINE_CODE),
            module="log_shipper",
            **props,
        )
