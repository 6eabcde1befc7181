"""`python -m write_buffer_worker`: configure, start the loops, serve until SIGTERM, drain.

Exit codes: 0 after a clean drain, 2 on a configuration error (systemd's restart will not fix a
typo, and the journal says which variable), 1 when a receive loop or the heartbeat died (a bug:
no message can do it). A process without its loops would otherwise live on consuming nothing;
exiting lets systemd restart it, and repeated failures mark the instance Unhealthy.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time

import boto3
from psycopg.conninfo import make_conninfo

from write_buffer_worker.config import ConfigError, WorkerConfig, load_config
from write_buffer_worker.consumer import Consumer, DatabaseGate
from write_buffer_worker.metrics import Metrics
from write_buffer_worker.store import DatabaseUnavailable, OrderStore
from write_buffer_worker.systemd import notify, watchdog_interval

log = logging.getLogger("write_buffer_worker")


class JsonLines(logging.Formatter):
    """One JSON object per log line: what CloudWatch Logs Insights queries best."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def tls_parameters(ca_bundle: str | None) -> dict[str, str]:
    """libpq TLS settings: verify the server against the RDS CA bundle when there is one
    (sslmode=verify-full: the certificate chain and the host name), else encrypt only."""
    if ca_bundle:
        return {"sslmode": "verify-full", "sslrootcert": ca_bundle}
    return {"sslmode": "require"}


def conninfo_source(config: WorkerConfig):
    """A callable giving a libpq connection string, called for each new connection: the
    configured URL; an IAM authentication token for the worker's own database user (signed
    locally with the instance role's credentials, valid 15 minutes, no password stored); or
    credentials read from a Secrets Manager secret (read again each time, so a rotated
    password is picked up)."""
    if config.database_url:
        return lambda: config.database_url

    tls = tls_parameters(config.database_ca_bundle)
    if config.database_iam_user:
        rds = boto3.client("rds")

        def with_token() -> str:
            token = rds.generate_db_auth_token(
                DBHostname=config.database_host,
                Port=config.database_port,
                DBUsername=config.database_iam_user,
            )
            return make_conninfo(
                host=config.database_host,
                port=config.database_port,
                dbname=config.database_name,
                user=config.database_iam_user,
                password=token,
                **tls,
            )

        return with_token

    secrets = boto3.client("secretsmanager")

    def from_secret() -> str:
        secret = json.loads(
            secrets.get_secret_value(SecretId=config.database_secret_arn)["SecretString"]
        )
        return make_conninfo(
            host=config.database_host or secret["host"],
            port=secret.get("port", config.database_port),
            dbname=config.database_name or secret.get("dbname", "postgres"),
            user=secret["username"],
            password=secret["password"],
            **tls,
        )

    return from_secret


def prepare_schema(
    store: OrderStore, stopping: threading.Event, backoff_max_seconds: float = 30.0
) -> bool:
    """Create the table, waiting out a database that is not up yet (a fleet may boot first)."""
    gate = DatabaseGate(cap=backoff_max_seconds)
    while not stopping.is_set():
        try:
            store.ensure_schema()
            return True
        except DatabaseUnavailable as error:
            gate.fail()
            log.warning(
                "database not reachable at start-up; retrying",
                extra={"fields": {"error": str(error)[:200]}},
            )
            stopping.wait(gate.backoff())
    return False


def main() -> int:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    try:
        config = load_config()
    except ConfigError as error:
        log.error("configuration error: %s", error)
        return 2

    stopping = threading.Event()

    def on_signal(number, _frame):
        log.info("stop requested", extra={"fields": {"signal": signal.Signals(number).name}})
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    metrics = Metrics(config.metrics_namespace)
    store = OrderStore(
        conninfo_source(config),
        config.db_pool_size,
        connect_timeout=config.db_connect_timeout_seconds,
        statement_timeout=config.db_statement_timeout_seconds,
        idle_seconds=config.db_idle_seconds,
    )
    # With IAM authentication the worker logs in as a role that may only insert and read
    # orders: the schema step (python -m write_buffer_worker.schema, before this service)
    # made the table. Otherwise the worker's own user makes it here.
    if config.database_iam_user is None and not prepare_schema(
        store, stopping, config.db_backoff_max_seconds
    ):
        store.close()
        return 0
    consumer = Consumer(config, boto3.client("sqs"), store, metrics)
    consumer.start()
    notify("READY=1")
    log.info(
        "worker started",
        extra={
            "fields": {
                "queue_url": config.queue_url,
                "receive_loops": config.receive_loops,
                "max_writes_per_second": config.max_writes_per_second,
            }
        },
    )
    tick = min(1.0, config.metrics_interval_seconds, watchdog_interval() or 1.0)
    next_flush = time.monotonic() + config.metrics_interval_seconds
    while not stopping.wait(tick):
        if consumer.failed():
            log.critical("a worker thread died; stopping with exit code 1 for a restart")
            break
        if consumer.healthy():
            notify("WATCHDOG=1")
        if time.monotonic() >= next_flush:
            metrics.flush()
            next_flush = time.monotonic() + config.metrics_interval_seconds

    notify("STOPPING=1")
    released = consumer.stop(config.shutdown_grace_seconds)
    metrics.flush()
    store.close()
    log.info(
        "worker stopped", extra={"fields": {"released_unfinished": released, **metrics.totals()}}
    )
    return 1 if consumer.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
