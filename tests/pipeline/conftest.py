"""Fixtures for the log pipeline's programs: a fresh log queue, DLQ and archive bucket per test.

The engine is the session's real moto server; isolation comes from new names for every test.
"""

from __future__ import annotations

import json
import uuid

import pytest
from pipeline_support import PipelineLab


@pytest.fixture
def pipeline(moto, request):
    """A log queue (visibility 30 s unless a test says otherwise) with a DLQ after 2 receives,
    and an empty archive bucket."""
    marker = request.node.get_closest_marker("queue")
    options = {"visibility": 30, "max_receives": 2, **(marker.kwargs if marker else {})}
    sqs, s3 = moto.client("sqs"), moto.client("s3")
    name = uuid.uuid4().hex[:10]
    dlq = sqs.create_queue(QueueName=f"logs-dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"logs-{name}",
        Attributes={
            "VisibilityTimeout": str(options["visibility"]),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": options["max_receives"]}
            ),
        },
    )["QueueUrl"]
    bucket = f"archive-{name}"
    s3.create_bucket(Bucket=bucket)
    return PipelineLab(moto, sqs, s3, queue, dlq, bucket)
