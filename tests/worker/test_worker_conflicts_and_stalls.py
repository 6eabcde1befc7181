"""An orderId reused with other content is a conflict for a person, never a silent duplicate; a
database that stops answering holds no batch forever and loses or duplicates nothing."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from worker_support import (
    consumer_in_process,
    frozen_connections,
    frozen_postgres,
    order,
    wait_until,
)
from write_buffer_worker.orders import parse_order
from write_buffer_worker.store import OrderStore, Received

pytestmark = pytest.mark.engines


@pytest.mark.queue(visibility=5, max_receives=2)
def test_a_retry_with_different_content_is_dead_lettered_and_the_stored_order_kept(lab, caplog):
    original = order(1)
    changed = {**original, "items": [{**original["items"][0], "quantity": 99}]}
    lab.send(original)
    with consumer_in_process(lab) as (_, _, metrics):
        wait_until(lambda: len(lab.rows()) == 1, what="the original order")
        # The same order again, keys in another order and spaced: the same canonical content.
        lab.send(json.dumps(dict(reversed(list(original.items()))), indent=2))
        lab.send(changed)  # the same orderId, another quantity
        wait_until(lambda: lab.dead_letters() == 1, what="the conflicting retry in the DLQ")
        wait_until(lambda: lab.depth() == 0)
    [dead] = lab.sqs.receive_message(QueueUrl=lab.dlq_url)["Messages"]
    assert json.loads(dead["Body"]) == changed
    with psycopg.connect(lab.database_uri) as conn:
        [(items, digest)] = conn.execute("SELECT items, content_sha256 FROM orders").fetchall()
    assert items == original["items"] and len(digest) == 64
    totals = metrics.totals()
    assert totals["Duplicates"] == 1  # the harmless retry
    assert totals["Conflicts"] == 2  # once per receive, maxReceiveCount receives
    conflicts = [
        r.fields
        for r in caplog.records
        if r.levelname == "ERROR" and "different content" in r.getMessage()
    ]
    assert conflicts and conflicts[0]["order_id"] == "order-000001"
    assert {c["receive_count"] for c in conflicts} == {1, 2}


def test_one_orderid_twice_in_a_batch_is_written_once_and_other_content_conflicts(lab):
    store = OrderStore(lambda: lab.database_uri, 1)
    store.ensure_schema()
    try:
        first, again, other = (
            Received(parse_order(json.dumps(body)), f"message-{n}", None)
            for n, body in enumerate([order(3), order(3), order(3, customer="someone-else")])
        )
        assert store.write([first, again, other]) == ["new", "duplicate", "conflict"]
        assert store.write([other, first]) == ["conflict", "duplicate"]
    finally:
        store.close()
    assert lab.rows() == [("order-000003",)]


def test_rows_written_before_the_hash_column_are_compared_by_their_content(lab):
    store = OrderStore(lambda: lab.database_uri, 1)
    store.ensure_schema()
    try:
        first = Received(parse_order(json.dumps(order(4))), "message-1", None)
        store.write([first])
        lab.sql("UPDATE orders SET content_sha256 = NULL")  # as an earlier version wrote it
        other = Received(parse_order(json.dumps(order(4, customer="x"))), "message-2", None)
        assert store.write([first, other]) == ["duplicate", "conflict"]
    finally:
        store.close()


@pytest.mark.queue(visibility=2, max_receives=3)
def test_a_database_frozen_longer_than_the_visibility_timeout_duplicates_and_dead_letters_nothing(
    lab, postgres
):
    lab.send_orders(range(10))
    with consumer_in_process(
        lab, DB_STATEMENT_TIMEOUT_SECONDS=0.5, DB_CONNECT_TIMEOUT_SECONDS=2
    ) as (consumer, store, metrics):
        wait_until(lambda: len(lab.rows()) == 10, what="the first orders")
        with frozen_postgres(postgres):
            frozen_at = time.monotonic()
            lab.send_orders(range(10, 30))  # received while nothing answers
            wait_until(
                lambda: metrics.totals()["Released"] > 0, timeout=15, what="the batches back"
            )  # released, not held: the deadline ended the blocked calls
            assert store.connections_cut >= 1
            time.sleep(max(0.0, frozen_at + 2.5 - time.monotonic()))  # past the 2 s visibility
        thawed = time.monotonic()
        wait_until(lambda: lab.depth() == 0, timeout=40, what="the backlog to drain")
        recovered = time.monotonic() - thawed
        assert consumer.healthy()
    rows = [r[0] for r in lab.rows()]
    assert rows == [f"order-{n:06d}" for n in range(30)]  # each once
    assert lab.dead_letters() == 0
    assert metrics.totals()["Conflicts"] == 0
    print(f"drained {recovered:.1f} s after the database answered again")


@pytest.mark.queue(visibility=2, max_receives=3)
def test_connections_that_stop_answering_are_cut_and_the_orders_written_on_new_ones(lab, postgres):
    """The database is fine, but the worker's open connections get no reply (as after a
    failover, or behind a black-holed route): the deadline cuts them and new ones are made,
    without waiting for the old ones to come back."""
    lab.send_orders(range(10))
    with consumer_in_process(
        lab, DB_STATEMENT_TIMEOUT_SECONDS=0.5, DB_CONNECT_TIMEOUT_SECONDS=2
    ) as (_, store, _):
        wait_until(lambda: len(lab.rows()) == 10, what="the first orders")
        database = lab.database_uri.split("?")[0].rsplit("/", 1)[1]
        with frozen_connections(postgres, database) as frozen:
            assert frozen  # the pool's connections
            lab.send_orders(range(10, 20))
            wait_until(lambda: lab.depth() == 0, timeout=20, what="the orders, while frozen")
            assert store.connections_cut >= 1
    assert [r[0] for r in lab.rows()] == [f"order-{n:06d}" for n in range(20)]
    assert lab.dead_letters() == 0


@pytest.mark.queue(visibility=1, max_receives=5)
def test_a_batch_held_past_max_batch_seconds_is_released_for_another_worker(lab, caplog):
    """A stuck loop (here: write shaping at one row a second holds a batch of ten for ~9 s)
    keeps its batch only MAX_BATCH_SECONDS, then it is visible again for any other worker."""
    lab.send_orders(range(10))
    with consumer_in_process(
        lab, MAX_WRITES_PER_SECOND=1, MAX_BATCH_SECONDS=1, RECEIVE_LOOPS=1, RECEIVE_WAIT_SECONDS=0
    ):
        wait_until(
            lambda: "held past MAX_BATCH_SECONDS" in caplog.text,
            timeout=5,
            what="the heartbeat to give up the stuck batch",
        )
        visible = lab.sqs.get_queue_attributes(
            QueueUrl=lab.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        assert int(visible) > 0  # while the stuck loop still holds its copy
    # Stopping wakes the stuck loop: it writes what it held, once; nothing is dead-lettered.
    rows = [r[0] for r in lab.rows()]
    assert rows and len(rows) == len(set(rows)) and lab.dead_letters() == 0
