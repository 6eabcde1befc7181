"""Fixtures for the worker tests: a fresh queue, DLQ and database per test.

The engines are the session's real ones (moto server, embedded PostgreSQL); isolation comes from
a new queue pair and database for every test.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import psycopg
import pytest
from worker_support import Lab


@pytest.fixture
def lab(moto, postgres, request):
    """A queue (visibility 3 s) with a DLQ (maxReceiveCount 3) and an empty database."""
    marker = request.node.get_closest_marker("queue")
    options = {"visibility": 3, "max_receives": 3, **(marker.kwargs if marker else {})}
    sqs = moto.client("sqs")
    name = uuid.uuid4().hex[:12]
    dlq = sqs.create_queue(QueueName=f"orders-dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"orders-{name}",
        Attributes={
            "VisibilityTimeout": str(options["visibility"]),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": options["max_receives"]}
            ),
        },
    )["QueueUrl"]
    database = f"orders_{name}"
    with psycopg.connect(postgres.uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    uri = postgres.uri.replace("/postgres?", f"/{database}?")
    environment = {
        **moto.environment(),
        "QUEUE_URL": queue,
        "DATABASE_URL": uri,
        "RECEIVE_WAIT_SECONDS": "1",
        "VISIBILITY_TIMEOUT_SECONDS": str(options["visibility"]),
        "RECEIVE_LOOPS": "2",
        "SHUTDOWN_GRACE_SECONDS": "5",
        "METRICS_INTERVAL_SECONDS": "1",
        # Probe a database that is down at least every 2 s, so an outage test ends soon after
        # the database is back (30 s in production).
        "DB_BACKOFF_MAX_SECONDS": "2",
    }
    yield Lab(sqs, queue, dlq, uri, environment)
    with contextlib.suppress(psycopg.Error), psycopg.connect(postgres.uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
