"""Helpers for the worker tests: one test's queue, DLQ and database, and ways to run workers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
from waiting import wait_until  # noqa: F401 (the worker tests import it from here)
from write_buffer_worker.config import load_config
from write_buffer_worker.consumer import Consumer
from write_buffer_worker.metrics import Metrics
from write_buffer_worker.store import OrderStore

WORKER_DIR = Path(__file__).resolve().parents[1] / "worker"


def order(n: int, customer: str = "cust-1") -> dict:
    return {
        "orderId": f"order-{n:06d}",
        "customerId": customer,
        "items": [{"sku": "BOOK-1", "quantity": 1 + n % 3, "unitPriceCents": 1250}],
    }


@dataclass
class Lab:
    """One test's queue, DLQ and database."""

    sqs: object
    queue_url: str
    dlq_url: str
    database_uri: str
    environment: dict

    def send(self, body) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)["MessageId"]

    def send_orders(self, numbers) -> None:
        numbers = list(numbers)
        for start in range(0, len(numbers), 10):
            self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "MessageBody": json.dumps(order(n))}
                    for n in numbers[start : start + 10]
                ],
            )

    def depth(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def dead_letters(self) -> int:
        return self.depth(self.dlq_url)

    def rows(self) -> list[tuple]:
        with psycopg.connect(self.database_uri) as conn:
            try:
                return conn.execute("SELECT order_id FROM orders ORDER BY order_id").fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def sql(self, statement: str) -> None:
        with psycopg.connect(self.database_uri) as conn:
            conn.execute(statement)


@contextlib.contextmanager
def consumer_in_process(lab: Lab, sqs_events: dict | None = None, **overrides):
    """A started Consumer in this process (threads), as `python -m write_buffer_worker` would
    run it; yields (consumer, store, metrics). `sqs_events` registers botocore event handlers
    on its SQS client ({"before-call.sqs.ReceiveMessage": handler}), to inject a fault into a
    real call."""
    import boto3

    env = {**lab.environment, **{k: str(v) for k, v in overrides.items()}}
    config = load_config(env)
    sqs = boto3.client(
        "sqs",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    for event, handler in (sqs_events or {}).items():
        sqs.meta.events.register(event, handler)
    store = OrderStore(
        lambda: config.database_url,
        config.db_pool_size,
        connect_timeout=config.db_connect_timeout_seconds,
        statement_timeout=config.db_statement_timeout_seconds,
        idle_seconds=config.db_idle_seconds,
    )
    store.ensure_schema()
    metrics = Metrics(config.metrics_namespace, stream=io.StringIO())
    consumer = Consumer(config, sqs, store, metrics)
    consumer.start()
    try:
        yield consumer, store, metrics
    finally:
        consumer.stop(config.shutdown_grace_seconds)
        store.close()


@contextlib.contextmanager
def worker_in_process(lab: Lab, **overrides):
    """A Consumer in this process (threads); yields its metrics."""
    with consumer_in_process(lab, **overrides) as (_, _, metrics):
        yield metrics


def start_worker_process(lab: Lab, **overrides) -> subprocess.Popen:
    """`python -m write_buffer_worker` as systemd would start it (its log goes to a pipe)."""
    env = {
        **os.environ,
        **lab.environment,
        **{k: str(v) for k, v in overrides.items()},
        "PYTHONPATH": str(WORKER_DIR),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "write_buffer_worker"],
        env=env,
        cwd=WORKER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def postgres_processes(data_dir: Path) -> list[int]:
    """The embedded PostgreSQL's postmaster and every process it started (its backends too)."""
    postmaster = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:  # field 4: parent pid
            children.append(int(entry.name))
    return [postmaster, *children]


@contextlib.contextmanager
def frozen_connections(postgres, database: str):
    """SIGSTOP the server processes of every open connection to `database`: those connections
    stop answering (as one behind a failed-over address or a black-holed route would), while
    the server accepts and serves new connections."""
    stopped = []
    try:
        for pid in postgres_processes(postgres.data_dir)[1:]:
            with contextlib.suppress(OSError):
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if f" {database} " in title:  # "postgres: <user> <database> [local] idle"
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
        yield stopped
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def frozen_postgres(postgres):
    """SIGSTOP the whole embedded server for the block: connections stay open and connecting
    still reaches the listen queue, but nothing answers (a hung server, not a refusing one).
    SIGCONT always follows, or the session's other tests would hang."""
    postmaster, *_ = postgres_processes(postgres.data_dir)
    os.kill(postmaster, signal.SIGSTOP)  # first: a stopped postmaster starts no new backends
    stopped = [postmaster]
    try:
        for pid in postgres_processes(postgres.data_dir)[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
