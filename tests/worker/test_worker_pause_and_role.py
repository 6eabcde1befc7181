"""A database that pauses when idle (Aurora Serverless v2 at 0 ACUs), and the worker's own role.

- An idle worker holds no session, so the database can pause: every pooled connection closes
  after DB_IDLE_SECONDS without work (pg_stat_activity shows none while the loops keep polling).
- The first orders after a pause find the database away while it resumes: the circuit breaker
  stops receiving, nothing is dead-lettered, everything is written once when it is back.
- The worker's role, made by the schema step, may insert and read orders and nothing else; with
  IAM authentication its connection string carries a token signed for that one user and asks
  libpq to verify the server's certificate.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from worker_support import consumer_in_process, wait_until
from write_buffer_worker.__main__ import conninfo_source
from write_buffer_worker.config import load_config
from write_buffer_worker.schema import prepare
from write_buffer_worker.store import APPLICATION_NAME, OrderStore, Received

pytestmark = pytest.mark.engines

IDLE_SECONDS = 0.3


def worker_sessions(postgres, database: str) -> int:
    with psycopg.connect(postgres.uri) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (database, APPLICATION_NAME),
        ).fetchone()[0]


def database_of(lab) -> str:
    return urlparse(lab.database_uri).path.lstrip("/")


def assert_each_order_once(lab, count: int) -> None:
    rows = [r[0] for r in lab.rows()]
    assert rows == [f"order-{n:06d}" for n in range(count)]


def test_an_idle_worker_holds_no_session_so_a_paused_database_stays_paused(lab, postgres):
    database = database_of(lab)
    with consumer_in_process(lab, DB_IDLE_SECONDS=IDLE_SECONDS):
        lab.send_orders(range(20))
        wait_until(lambda: len(lab.rows()) == 20, what="the orders to be written")
        assert worker_sessions(postgres, database) >= 1
        emptied = time.monotonic()
        # The pool drops one idle connection per period: both loops' connections go within
        # (pool size + 1) periods of the last write.
        wait_until(
            lambda: worker_sessions(postgres, database) == 0,
            timeout=10,
            interval=0.05,
            what="the idle worker's sessions to close",
        )
        closed_after = time.monotonic() - emptied
        # And none comes back while the loops keep long-polling the empty queue.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert worker_sessions(postgres, database) == 0
            time.sleep(0.1)
    assert closed_after < (2 + 1) * IDLE_SECONDS + 2


@pytest.mark.queue(visibility=1, max_receives=2)
def test_orders_sent_while_the_database_is_paused_are_written_once_when_it_resumes(lab, postgres):
    """The first connection to a paused database waits while it resumes (~15 s on Aurora);
    here the database is stopped for longer than visibility timeout x maxReceiveCount, so a
    consumer that kept receiving would have dead-lettered the lot."""
    database = database_of(lab)
    with consumer_in_process(lab, DB_IDLE_SECONDS=IDLE_SECONDS, DB_BACKOFF_MAX_SECONDS=1) as (
        _,
        _,
        metrics,
    ):
        # Idle since its start (the schema step's connection closed): nothing holds the database.
        wait_until(lambda: worker_sessions(postgres, database) == 0, timeout=10, interval=0.05)
        postgres.stop()  # paused: nobody connected, so it could
        try:
            lab.send_orders(range(40))
            time.sleep(2.5)  # > 1 s visibility x 2 receives: a consumer that kept receiving DLQs
        finally:
            postgres.start()
        resumed = time.monotonic()
        wait_until(lambda: lab.depth() == 0, timeout=30, what="the backlog to drain")
        drained_after = time.monotonic() - resumed
    assert_each_order_once(lab, 40)
    assert lab.dead_letters() == 0
    totals = metrics.totals()  # a message redelivered under load is a harmless duplicate
    assert totals["Processed"] - totals["Duplicates"] == 40
    # The breaker probes at least every DB_BACKOFF_MAX_SECONDS (1 s here); a connection attempt
    # gives up within the connect timeout instead of waiting on the pool's own retry schedule.
    assert drained_after < 1 + 5 + 2
    print(f"drained {drained_after:.2f} s after the database was back")


def test_the_worker_role_may_insert_and_read_orders_and_nothing_else(lab):
    writer, password = f"writer_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(lab.database_uri) as conn:
        prepare(conn, writer, password=password)
        prepare(conn, writer, password=password)  # a second boot changes nothing
    params = conninfo_to_dict(lab.database_uri) | {"user": writer, "password": password}
    as_writer = psycopg.conninfo.make_conninfo(**params)
    store = OrderStore(lambda: as_writer, 1)
    try:
        from write_buffer_worker.orders import parse_order

        order = parse_order(
            '{"orderId": "order-000001", "customerId": "c", '
            '"items": [{"sku": "A-1", "quantity": 1, "unitPriceCents": 5}]}'
        )
        other = parse_order(
            '{"orderId": "order-000001", "customerId": "c", '
            '"items": [{"sku": "A-1", "quantity": 2, "unitPriceCents": 5}]}'
        )
        assert store.write([Received(order, "m-1", None)]) == ["new"]
        assert store.write([Received(order, "m-2", None)]) == ["duplicate"]
        assert store.write([Received(other, "m-3", None)]) == ["conflict"]  # needs SELECT
    finally:
        store.close()
    for statement in (
        "UPDATE orders SET customer_id = 'x'",
        "DELETE FROM orders",
        "TRUNCATE orders",
        "CREATE TABLE other (id int)",
        "ALTER TABLE orders ADD COLUMN x int",
    ):
        with (
            psycopg.connect(as_writer) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement)


def test_with_iam_authentication_each_connection_carries_a_token_for_the_one_user(moto):
    config = load_config(
        {
            **moto.environment(),
            "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/orders",
            "DATABASE_IAM_USER": "order_writer",
            "DATABASE_HOST": "orders.cluster-abc.us-east-1.rds.amazonaws.com",
            "DATABASE_NAME": "orders",
            "DATABASE_CA_BUNDLE": "/opt/queue-worker/write-workers/rds-global-bundle.pem",
        }
    )
    import os

    saved = {k: os.environ.get(k) for k in moto.environment()}
    os.environ.update(moto.environment())
    try:
        source = conninfo_source(config)
        first, second = conninfo_to_dict(source()), conninfo_to_dict(source())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert first["user"] == "order_writer" and first["dbname"] == "orders"
    assert first["sslmode"] == "verify-full"
    assert first["sslrootcert"].endswith("rds-global-bundle.pem")
    # The password is a SigV4-presigned connect request for this host, port and user only
    # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html),
    # signed on the instance without a network call, valid 15 minutes.
    token = first["password"]
    assert token.startswith("orders.cluster-abc.us-east-1.rds.amazonaws.com:5432/?")
    query = parse_qs(token.split("?", 1)[1])
    assert query["Action"] == ["connect"] and query["DBUser"] == ["order_writer"]
    assert query["X-Amz-Expires"] == ["900"]
    assert "X-Amz-Signature" in query
    assert second["password"].startswith(token.split("?", 1)[0])
