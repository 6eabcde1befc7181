"""Batched, idempotent writes of orders to PostgreSQL.

One multi-row `INSERT ... ON CONFLICT (order_id) DO NOTHING` per batch, in one transaction:
ten orders cost one round trip and one commit instead of ten, and a redelivered message or a
producer's retry of the same order (same orderId, new message) writes nothing the second time.
`RETURNING` says which rows were new, so duplicates are counted, not guessed.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from write_buffer_worker.orders import Order

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id       text PRIMARY KEY,
    customer_id    text NOT NULL,
    items          jsonb NOT NULL,
    total_cents    bigint NOT NULL,
    sqs_message_id text NOT NULL,
    sent_at        timestamptz,
    written_at     timestamptz NOT NULL DEFAULT now()
)
"""
SCHEMA_LOCK = 4_700_001  # any number, the same in every worker
COLUMNS = "(order_id, customer_id, items, total_cents, sqs_message_id, sent_at)"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached now; the batch should be retried later, not dead-lettered."""


@dataclass(frozen=True)
class Received:
    """An order with the SQS facts worth keeping beside it."""

    order: Order
    message_id: str
    sent_at: datetime | None


def sent_at(attributes: dict) -> datetime | None:
    """SQS's SentTimestamp (epoch milliseconds) as a UTC datetime."""
    millis = attributes.get("SentTimestamp")
    return datetime.fromtimestamp(int(millis) / 1000, tz=UTC) if millis else None


class OrderStore:
    """A bounded pool of connections and the one write this worker makes.

    `conninfo` is a callable so that a rotated secret is re-read when authentication fails.
    """

    def __init__(self, conninfo: Callable[[], str], pool_size: int, connect_timeout: float = 5):
        self._conninfo = conninfo
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._pool = self._new_pool()

    def _new_pool(self) -> ConnectionPool:
        pool = ConnectionPool(
            self._conninfo(),
            min_size=1,
            max_size=self._pool_size,
            timeout=self._connect_timeout,
            kwargs={"connect_timeout": int(self._connect_timeout)},
            check=ConnectionPool.check_connection,  # drop connections a restart broke
            open=False,
            name="orders",
        )
        pool.open(wait=False)
        return pool

    def close(self) -> None:
        self._pool.close()

    def ensure_schema(self) -> None:
        """Create the table if needed. A fleet boots at once, and concurrent CREATE TABLE IF
        NOT EXISTS can fail on PostgreSQL's catalog, so creators take turns on an advisory lock."""
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(SCHEMA)

    def ping(self) -> None:
        """Raise DatabaseUnavailable unless a query round-trips."""
        with self._connection() as conn:
            conn.execute("SELECT 1")

    def write(self, batch: Sequence[Received]) -> int:
        """Insert the batch in one transaction; return how many orders were new."""
        if not batch:
            return 0
        rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
        params: list = []
        for r in batch:
            params += [
                r.order.order_id,
                r.order.customer_id,
                json.dumps(r.order.items),
                r.order.total_cents,
                r.message_id,
                r.sent_at,
            ]
        sql = (
            f"INSERT INTO orders {COLUMNS} VALUES {rows} "  # noqa: S608 (placeholders only)
            "ON CONFLICT (order_id) DO NOTHING RETURNING order_id"
        )
        with self._connection() as conn:
            return len(conn.execute(sql, params).fetchall())

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction (commit on success, rollback on error);
        trouble reaching the database becomes DatabaseUnavailable."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as error:
            raise DatabaseUnavailable(f"no database connection: {error}") from error
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            self._after_failure(error)
            raise DatabaseUnavailable(str(error).strip()) from error

    def _after_failure(self, error: psycopg.Error) -> None:
        # A rotated password: re-read the secret and start a fresh pool.
        if "password authentication failed" in str(error):
            log.warning("database authentication failed; re-reading credentials")
            old, self._pool = self._pool, self._new_pool()
            old.close(timeout=0)
