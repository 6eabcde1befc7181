"""Redrive moves every dead letter back to its source, with its attributes, losing none."""

from __future__ import annotations

import json
import uuid

import pytest

from tools.redrive import main, redrive

pytestmark = pytest.mark.engines


def quiet(line: str) -> None:
    """Progress lines are for people; tests assert on results."""


def make_pair(sqs, fifo=False):
    """A source queue and its DLQ (maxReceiveCount 1), uniquely named."""
    suffix = ".fifo" if fifo else ""
    name = uuid.uuid4().hex[:12]
    attrs = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"dlq-{name}{suffix}", Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive_policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    source = sqs.create_queue(
        QueueName=f"src-{name}{suffix}", Attributes={**attrs, "RedrivePolicy": redrive_policy}
    )["QueueUrl"]
    return source, dlq


def drain(sqs, url):
    out = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["MessageGroupId"],
    ).get("Messages", []):
        out.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return out


def test_dead_letters_go_back_to_their_source_with_their_attributes(moto):
    sqs = moto.client("sqs")
    source, dlq = make_pair(sqs)
    for n in range(23):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=json.dumps({"n": n}),
            MessageAttributes={"apiRequestId": {"DataType": "String", "StringValue": f"req-{n}"}},
        )
    result = redrive(sqs, dlq, log=quiet, wait_seconds=0)
    assert result.method == "manual" and result.moved == 23
    moved = drain(sqs, source)
    assert sorted(json.loads(m["Body"])["n"] for m in moved) == list(range(23))
    assert {m["MessageAttributes"]["apiRequestId"]["StringValue"] for m in moved} == {
        f"req-{n}" for n in range(23)
    }
    assert drain(sqs, dlq) == []


def test_messages_that_failed_for_real_reach_the_dlq_and_come_back(moto):
    sqs = moto.client("sqs")
    source, dlq = make_pair(sqs)
    sqs.send_message(QueueUrl=source, MessageBody="poison until the fix")
    for _ in range(2):  # received once without a delete: the second receive dead-letters it
        for m in sqs.receive_message(QueueUrl=source, VisibilityTimeout=0).get("Messages", []):
            assert m["Body"] == "poison until the fix"
    assert (
        int(
            sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        == 1
    )
    assert redrive(sqs, dlq, log=quiet, wait_seconds=0).moved == 1
    assert [m["Body"] for m in drain(sqs, source)] == ["poison until the fix"]


def test_fifo_dead_letters_keep_their_group_and_order_within_it(moto):
    sqs = moto.client("sqs")
    source, dlq = make_pair(sqs, fifo=True)
    for step in range(5):
        for order in ("A", "B"):
            sqs.send_message(
                QueueUrl=dlq,
                MessageBody=f"{order}{step}",
                MessageGroupId=order,
                MessageDeduplicationId=f"{order}{step}",
            )
    assert redrive(sqs, dlq, log=quiet, wait_seconds=0).moved == 10
    moved = drain(sqs, source)
    for order in ("A", "B"):
        bodies = [m["Body"] for m in moved if m["Attributes"]["MessageGroupId"] == order]
        assert bodies == [f"{order}{step}" for step in range(5)]


def test_max_moves_only_that_many(moto):
    sqs = moto.client("sqs")
    source, dlq = make_pair(sqs)
    for n in range(12):
        sqs.send_message(QueueUrl=dlq, MessageBody=str(n))
    assert redrive(sqs, dlq, source, max_messages=5, log=quiet, wait_seconds=0).moved == 5
    assert len(drain(sqs, source)) == 5 and len(drain(sqs, dlq)) == 7


def test_a_dlq_with_no_single_source_needs_an_explicit_destination(moto):
    sqs = moto.client("sqs")
    lonely = sqs.create_queue(QueueName=f"lonely-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with pytest.raises(SystemExit, match="is the DLQ of 0 queues"):
        redrive(sqs, lonely, log=quiet, wait_seconds=0)


def test_cli_rejects_a_non_positive_max(capsys):
    with pytest.raises(SystemExit):
        main(["--dlq", "https://example.invalid/q", "--max", "0"])
    assert "--max: 0 must be 1 or more" in capsys.readouterr().err


def test_cli_moves_messages_against_the_configured_endpoint(moto, monkeypatch, capsys):
    for key, value in moto.environment().items():
        monkeypatch.setenv(key, value)
    sqs = moto.client("sqs")
    source, dlq = make_pair(sqs)
    sqs.send_message(QueueUrl=dlq, MessageBody="x")
    assert main(["--dlq", dlq]) == 0
    assert "1 messages moved" in capsys.readouterr().out
    assert [m["Body"] for m in drain(sqs, source)] == ["x"]
