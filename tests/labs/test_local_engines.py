"""The moto server this project runs behaves as SQS does where the tests depend on it."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

pytestmark = pytest.mark.engines


def drain_concurrently(moto, url: str, threads: int, **receive) -> list[dict]:
    """`threads` consumers receive until the queue looks empty; every message they got."""
    got: list[dict] = []
    lock = threading.Lock()

    def consume():
        sqs = moto.client("sqs")
        while messages := sqs.receive_message(QueueUrl=url, **receive).get("Messages", []):
            with lock:
                got.extend(messages)

    workers = [threading.Thread(target=consume) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return got


def test_concurrent_receives_never_hand_out_one_message_twice(moto):
    """moto's own ReceiveMessage does (labs/moto_atomic_receive.py); SQS does not within the
    visibility timeout, and the worker and archiver tests count duplicates."""
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="atomic-receive", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    for start in range(0, 80, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)],
        )
    got = drain_concurrently(moto, url, threads=8, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    assert Counter(m["Body"] for m in got) == Counter(str(n) for n in range(80))


def test_concurrent_receives_on_a_fifo_queue_hand_out_one_group_at_a_time(moto):
    sqs = moto.client("sqs")
    url = sqs.create_queue(
        QueueName="atomic-receive.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"},
    )["QueueUrl"]
    for n in range(60):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=str(n),
            MessageGroupId=f"g{n % 3}",
            MessageDeduplicationId=str(n),
        )
    got = drain_concurrently(moto, url, threads=6, MaxNumberOfMessages=1, WaitTimeSeconds=0)
    # Nothing deleted: each group's first message is in flight, so only three come out.
    assert sorted(m["Body"] for m in got) == ["0", "1", "2"]


def test_a_long_poll_does_not_block_other_queues(moto):
    sqs = moto.client("sqs")
    idle = sqs.create_queue(QueueName="long-poll-idle")["QueueUrl"]
    busy = sqs.create_queue(QueueName="long-poll-busy")["QueueUrl"]
    sqs.send_message(QueueUrl=busy, MessageBody="here")
    poll = threading.Thread(
        target=lambda: moto.client("sqs").receive_message(QueueUrl=idle, WaitTimeSeconds=3)
    )
    poll.start()
    time.sleep(0.3)
    started = time.monotonic()
    [message] = sqs.receive_message(QueueUrl=busy, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "here" and time.monotonic() - started < 1
    sqs.send_message(QueueUrl=idle, MessageBody="late")
    poll.join(timeout=5)
    assert not poll.is_alive()  # the long poll ended when its message came
