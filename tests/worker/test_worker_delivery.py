"""The worker writes every order exactly once: happy path, redelivery, retries, bad input."""

from __future__ import annotations

import json
import time

import pytest
from worker_support import order, wait_until, worker_in_process
from write_buffer_worker.store import OrderStore, Received

pytestmark = pytest.mark.engines


def test_every_order_is_written_once_and_its_message_deleted(lab):
    lab.send_orders(range(30))
    with worker_in_process(lab) as metrics:
        wait_until(lambda: lab.depth() == 0, what="the queue to drain")
    assert [r[0] for r in lab.rows()] == [f"order-{n:06d}" for n in range(30)]
    assert metrics.totals()["Processed"] == 30
    assert lab.dead_letters() == 0


def test_rows_keep_the_order_and_its_sqs_facts(lab):
    message_id = lab.send(order(7))
    with worker_in_process(lab):
        wait_until(lambda: lab.depth() == 0)
    import psycopg

    with psycopg.connect(lab.database_uri) as conn:
        row = conn.execute(
            "SELECT customer_id, items, total_cents, sqs_message_id, sent_at FROM orders"
        ).fetchone()
    assert row[0] == "cust-1" and row[1] == order(7)["items"]
    assert row[2] == 2 * 1250 and row[3] == message_id and row[4] is not None


def test_a_committed_but_undeleted_message_is_redelivered_and_written_no_second_time(lab):
    """The crash window: commit done, delete not. SQS redelivers; the insert is a no-op."""
    lab.send(order(1))
    [message] = lab.sqs.receive_message(
        QueueUrl=lab.queue_url, VisibilityTimeout=1, MessageSystemAttributeNames=["All"]
    )["Messages"]
    store = OrderStore(lambda: lab.database_uri, 1)
    store.ensure_schema()
    assert store.write(
        [Received(order=_parsed(message), message_id=message["MessageId"], sent_at=None)]
    ) == ["new"]
    store.close()
    time.sleep(1.2)  # the visibility timeout runs out: SQS hands the message out again
    with worker_in_process(lab) as metrics:
        wait_until(lambda: lab.depth() == 0)
    assert lab.rows() == [("order-000001",)]
    assert metrics.totals()["Duplicates"] == 1


def test_a_producer_retry_of_the_same_order_writes_one_row(lab):
    lab.send(order(5))
    lab.send(order(5))  # the client timed out and POSTed again: new message, same orderId
    with worker_in_process(lab) as metrics:
        wait_until(lambda: lab.depth() == 0)
    assert lab.rows() == [("order-000005",)]
    assert metrics.totals()["Processed"] == 2 and metrics.totals()["Duplicates"] == 1


@pytest.mark.queue(max_receives=2)
def test_malformed_messages_reach_the_dlq_and_never_block_their_batch(lab, caplog):
    lab.send("this is not json")
    lab.send({**order(1), "items": []})  # JSON, but not an order
    lab.send_orders(range(2, 10))
    with worker_in_process(lab) as metrics:
        wait_until(lambda: lab.dead_letters() == 2, what="both bad messages in the DLQ")
        wait_until(lambda: lab.depth() == 0)
    assert len(lab.rows()) == 8
    assert metrics.totals()["Malformed"] >= 2
    reasons = [
        r.fields["reason"]
        for r in caplog.records
        if hasattr(r, "fields") and "reason" in r.fields and r.levelname == "ERROR"
    ]
    assert any("body is not JSON" in reason for reason in reasons)
    assert any("items must be a list of 1-100 items" in reason for reason in reasons)
    dead = lab.sqs.receive_message(QueueUrl=lab.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert {m["Body"] for m in dead} >= {"this is not json"}


@pytest.mark.queue(max_receives=2)
def test_an_order_the_database_refuses_does_not_take_its_batch_down(lab):
    """A valid order that a database rule rejects is isolated; the other nine are written."""
    with worker_in_process(lab):  # creates the table
        pass
    lab.sql("ALTER TABLE orders ADD CONSTRAINT no_blocked CHECK (customer_id <> 'blocked')")
    lab.send_orders(range(9))
    lab.send(order(99, customer="blocked"))
    with worker_in_process(lab):
        wait_until(lambda: lab.dead_letters() == 1, what="the refused order in the DLQ")
        wait_until(lambda: lab.depth() == 0)
    assert len(lab.rows()) == 9


def _parsed(message):
    from write_buffer_worker.orders import parse_order

    return parse_order(message["Body"])


def test_bodies_are_json_objects_not_other_json(lab):
    lab.send(json.dumps([order(1)]))
    with worker_in_process(lab) as metrics:
        wait_until(lambda: metrics.totals()["Malformed"] >= 1)
    assert lab.rows() == []
