"""Fan-in and scheduled batching on moto: many producers, one queue, one S3 object per run."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from dataclasses import dataclass

import pytest

from labs.lambda_local import load_handler

pytestmark = pytest.mark.engines
MAX_RECEIVES = 2


@dataclass
class RunContext:
    """The Lambda context of one scheduled run (what the handler reads from it)."""

    remaining_ms: int = 60_000
    function_name: str = "usage-batcher"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:usage-batcher"
    aws_request_id: str = "run"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def metering(moto):
    """A usage queue (with DLQ) and a batches bucket; the handler pointed at them."""
    s3, sqs = moto.client("s3"), moto.client("sqs")
    name = uuid.uuid4().hex[:8]
    bucket = f"batches-{name}"
    s3.create_bucket(Bucket=bucket)
    dlq = sqs.create_queue(QueueName=f"usage-dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"usage-{name}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
            ),
        },
    )["QueueUrl"]
    os.environ.update(
        {
            **moto.environment(),
            "QUEUE_URL": queue,
            "BATCH_BUCKET": bucket,
            "MAX_MESSAGES": "5000",
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        }
    )
    batcher = load_handler("usage_batcher")
    batcher.SETTINGS = batcher.settings()
    return s3, sqs, bucket, queue, dlq, batcher


def usage(producer: str, customer: str, meter: str = "api-calls", quantity: float = 1) -> str:
    return json.dumps(
        {
            "eventId": str(uuid.uuid4()),
            "producer": producer,
            "customerId": customer,
            "meter": meter,
            "quantity": quantity,
        }
    )


def send(sqs, queue, bodies):
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
            ],
        )


def batch_lines(s3, bucket, key):
    return [
        json.loads(line)
        for line in gzip.decompress(
            s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        ).splitlines()
    ]


def test_events_from_many_producers_land_in_one_object_per_run(metering):
    s3, sqs, bucket, queue, _, batcher = metering
    bodies = [usage(f"service-{p}", f"customer-{c}") for p in range(3) for c in range(12)]
    bodies += [usage("service-0", "customer-0", "storage-gb-hours", 2.5)]
    send(sqs, queue, bodies)
    result = batcher.handler({}, RunContext())
    assert result["written"] == 37 and result["refused"] == 0 and result["deleteFailures"] == 0
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 1
    lines = batch_lines(s3, bucket, result["key"])
    assert len(lines) == 38 and {line["producer"] for line in lines[:-1]} == {
        "service-0",
        "service-1",
        "service-2",
    }
    summary = {(s["customerId"], s["meter"]): s["quantity"] for s in lines[-1]["summary"]}
    assert summary[("customer-0", "api-calls")] == 3
    assert summary[("customer-0", "storage-gb-hours")] == 2.5
    assert all("sqsMessageId" in line for line in lines[:-1])
    assert batcher.handler({}, RunContext()) == {"written": 0, "refused": 0}  # queue is empty


def test_a_bad_event_is_left_for_redrive_and_reaches_the_dlq_after_the_set_count(metering):
    s3, sqs, bucket, queue, dlq, batcher = metering
    send(sqs, queue, [usage("service-0", "customer-1"), '{"meter": "api-calls"}', "not json"])
    first = batcher.handler({}, RunContext())
    assert first["written"] == 1 and first["refused"] == 2
    import time

    for _ in range(MAX_RECEIVES):
        time.sleep(1.1)  # the visibility timeout of the refused messages runs out
        batcher.handler({}, RunContext())
    dead = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "2"


def test_a_run_stops_receiving_when_its_time_budget_is_spent(metering):
    _, sqs, _, queue, _, batcher = metering
    send(sqs, queue, [usage("service-0", "customer-1")] * 5)
    assert batcher.handler({}, RunContext(remaining_ms=1_000)) == {"written": 0, "refused": 0}


def test_a_run_stops_at_its_message_cap(metering):
    _, sqs, _, queue, _, batcher = metering
    send(sqs, queue, [usage("service-0", "customer-1") for _ in range(30)])
    batcher.SETTINGS = batcher.Settings(batcher.SETTINGS.queue_url, batcher.SETTINGS.bucket, 10)
    assert batcher.handler({}, RunContext())["written"] == 10
    batcher.SETTINGS = batcher.settings()
    assert batcher.handler({}, RunContext())["written"] == 20


HOSTILE_USAGE = [
    "[" * 50_000 + "]" * 50_000,  # RecursionError in the JSON parser
    '{"eventId": "e", "producer": "p", "customerId": "c", "meter": "api-calls", "quantity": '
    + "9" * 5_000
    + "}",  # ValueError: over Python's 4300-digit int limit
    json.dumps(  # a list as customerId: unhashable, it broke the per-customer summary
        {"eventId": "e", "producer": "p", "customerId": ["c"], "meter": "api-calls", "quantity": 1}
    ),
    '{"eventId": "e", "producer": "p", "customerId": "c", "meter": "api-calls", "quantity": NaN}',
    '{"eventId": "e", "producer": "p", "customerId": "c", "meter": "api-calls", "quantity": 1e308}',
]


def test_hostile_events_are_refused_alone_and_the_run_writes_the_good_ones(metering):
    """Each is left undeleted for the redrive policy (as any refused event: see the test above);
    a good event's line keeps the contract's fields only, whatever else its producer added."""
    s3, sqs, bucket, queue, _, batcher = metering
    good = [usage("service-0", f"customer-{n}") for n in range(4)]
    padded = {**json.loads(usage("service-0", "customer-4")), "note": [[["deep"]]] * 1000}
    hostile = [*HOSTILE_USAGE, usage("service-0", "customer-1", quantity=1e308)]
    send(sqs, queue, [*good, json.dumps(padded), *hostile])
    result = batcher.handler({}, RunContext())
    # (a refused event may be counted twice: its 1 s visibility can run out during the run)
    assert result["written"] == 5 and result["refused"] >= len(hostile)
    lines = batch_lines(s3, bucket, result["key"])
    assert sorted(line["customerId"] for line in lines[:-1]) == [f"customer-{n}" for n in range(5)]
    fields = {"eventId", "producer", "customerId", "meter", "quantity", "sqsMessageId"}
    assert all(set(line) == fields for line in lines[:-1])
    left = sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert sum(map(int, left.values())) == len(hostile)  # not deleted: left for the redrive
