"""Batched, idempotent writes of orders to PostgreSQL, bounded in time.

One multi-row `INSERT ... ON CONFLICT (order_id) DO NOTHING` per batch, in one transaction:
ten orders cost one round trip and one commit instead of ten, and a redelivered message or a
producer's retry of the same order (same orderId, new message) writes nothing the second time.
Each row keeps the SHA-256 of its canonical order beside it, so an orderId that is already
there is told apart: the same content is a harmless duplicate, different content is a
conflict (someone reused the idempotency key), which the consumer sends to the dead-letter
queue for a person instead of dropping it.

A database that stops answering (a frozen server, a black-holed network: no reply, not a
refusal) must not hold a batch forever:
- connect_timeout bounds a new connection, statement_timeout bounds a statement the server
  can still cancel, idle_in_transaction_session_timeout frees the locks of a client that
  vanished mid-transaction, and TCP keepalives and tcp_user_timeout notice a peer that is gone;
- a server that is itself stuck enforces none of its own timeouts, so each transaction also
  has a client-side deadline (twice the statement timeout): past it, the connection's socket
  is shut down, the blocked call fails at once, and the batch is released for later.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import threading
import time
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
    written_at     timestamptz NOT NULL DEFAULT now(),
    content_sha256 text
);
-- Tables made before the hash existed get the column; their rows' hashes are computed on read.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS content_sha256 text;
"""
SCHEMA_LOCK = 4_700_001  # any number, the same in every worker
COLUMNS = "(order_id, customer_id, items, total_cents, sqs_message_id, sent_at, content_sha256)"

NEW, DUPLICATE, CONFLICT = "new", "duplicate", "conflict"

# A peer that is gone (host lost, network black-holed) is noticed after idle 10 s + 3 probes
# 5 s apart on an idle connection, or when sent data stays unacknowledged (tcp_user_timeout).
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
IDLE_IN_TRANSACTION_MS = 60_000
# How the worker's sessions show in pg_stat_activity.
APPLICATION_NAME = "write-buffer-worker"


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


class Deadlines:
    """Client-side deadlines for work on a connection, enforced from a watchdog thread.

    A stuck server cannot enforce its own statement_timeout, and libpq has no client-side query
    timeout; what does end a blocked read is the socket being shut down. Each guarded block
    holds a duplicate of its connection's descriptor, so the watchdog can never shut down a
    socket that was closed and whose number was reused meanwhile.
    """

    def __init__(self):
        self._due: dict[int, tuple[float, int, float]] = {}  # token -> (deadline, fd, seconds)
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.cut = 0  # connections cut so far (for tests and logs)
        threading.Thread(target=self._watch, name="db-deadlines", daemon=True).start()

    @contextlib.contextmanager
    def guard(self, conn: psycopg.Connection, seconds: float) -> Iterator[None]:
        fd = os.dup(conn.fileno())
        token = next(self._ids)
        with self._lock:
            self._due[token] = (time.monotonic() + seconds, fd, seconds)
        try:
            yield
        finally:
            with self._lock:
                self._due.pop(token, None)
            os.close(fd)

    def close(self) -> None:
        self._closed.set()

    def _watch(self) -> None:
        while not self._closed.wait(0.2):
            now = time.monotonic()
            with self._lock:
                for token, (deadline, fd, seconds) in list(self._due.items()):
                    if deadline <= now:
                        del self._due[token]
                        self._cut(fd, seconds)

    def _cut(self, fd: int, seconds: float) -> None:
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the peer: the blocked call has its error anyway
        finally:
            sock.detach()  # the guard closes its descriptor
        self.cut += 1
        log.warning(
            "database gave no answer within the deadline; connection cut",
            extra={"fields": {"deadline_seconds": seconds}},
        )


class OrderStore:
    """A bounded pool of connections and the one write this worker makes.

    `conninfo` is a callable, called for each new connection, so that a rotated secret or a new
    IAM token is used without a restart.
    """

    def __init__(
        self,
        conninfo: Callable[[], str],
        pool_size: int,
        connect_timeout: float = 5,
        statement_timeout: float = 10,
        idle_seconds: float = 60,
    ):
        self._conninfo = conninfo
        self._idle_seconds = idle_seconds
        self._pool_size = pool_size
        self._connect_timeout = max(2, int(connect_timeout))  # libpq's minimum is 2 s
        self._statement_timeout = statement_timeout
        self.transaction_deadline = 2 * statement_timeout
        self._deadlines = Deadlines()
        self._pool = self._new_pool()

    def _new_pool(self) -> ConnectionPool:
        options = (
            f"-c statement_timeout={int(self._statement_timeout * 1000)} "
            f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
        )
        pool = ConnectionPool(
            # Called for each new connection: a rotated secret or a fresh IAM token every time.
            self._conninfo,
            # None kept open for its own sake: with nothing to write, every connection closes
            # after idle_seconds (the pool drops one per period), so an idle worker holds no
            # session and a database that pauses when none is open (Aurora Serverless v2 at
            # 0 ACUs) can pause.
            min_size=0,
            max_size=self._pool_size,
            max_idle=self._idle_seconds,
            timeout=self._connect_timeout,
            # A failed connection is not retried on the pool's own schedule (1, 2, 4 ... s for
            # up to 5 minutes, during which no new attempt starts): the attempt gives up within
            # the connect timeout, and the consumer's circuit breaker decides when to try again
            # (DB_BACKOFF_MAX_SECONDS), so a database back after a pause or an outage is found
            # within that, however long it was away.
            reconnect_timeout=self._connect_timeout,
            kwargs={
                "connect_timeout": self._connect_timeout,
                "options": options,
                "tcp_user_timeout": int(self.transaction_deadline * 1000),
                "application_name": APPLICATION_NAME,
                **KEEPALIVES,
            },
            check=self._check,  # drop connections a restart broke, without hanging on a frozen one
            open=False,
            name="orders",
        )
        pool.open(wait=False)
        return pool

    def _check(self, conn: psycopg.Connection) -> None:
        """The pool's check of a connection it hands out: one empty round trip."""
        with self._deadlines.guard(conn, min(self._connect_timeout, self.transaction_deadline)):
            ConnectionPool.check_connection(conn)

    @property
    def connections_cut(self) -> int:
        return self._deadlines.cut

    def close(self) -> None:
        self._pool.close(timeout=self._connect_timeout)
        self._deadlines.close()

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

    def write(self, batch: Sequence[Received]) -> list[str]:
        """Insert the batch in one transaction; return each order's outcome, in batch order:
        NEW, DUPLICATE (its orderId is there with the same content) or CONFLICT (its orderId is
        there with different content; nothing is written for it)."""
        if not batch:
            return []
        first: dict[str, Received] = {}
        for received in batch:
            first.setdefault(received.order.order_id, received)
        rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(first))
        params: list = []
        for r in first.values():
            params += [
                r.order.order_id,
                r.order.customer_id,
                json.dumps(r.order.items),
                r.order.total_cents,
                r.message_id,
                r.sent_at,
                r.order.content_sha256,
            ]
        sql = (
            f"INSERT INTO orders {COLUMNS} VALUES {rows} "  # noqa: S608 (placeholders only)
            "ON CONFLICT (order_id) DO NOTHING RETURNING order_id"
        )
        with self._connection() as conn:
            inserted = {row[0] for row in conn.execute(sql, params).fetchall()}
            there_before = [order_id for order_id in first if order_id not in inserted]
            stored = self._stored_hashes(conn, there_before) if there_before else {}
        for order_id in inserted:
            stored[order_id] = first[order_id].order.content_sha256
        outcomes = []
        for received in batch:
            order_id = received.order.order_id
            if order_id in inserted and first[order_id] is received:
                outcomes.append(NEW)
            elif stored.get(order_id) == received.order.content_sha256:
                outcomes.append(DUPLICATE)
            else:
                outcomes.append(CONFLICT)
        return outcomes

    @staticmethod
    def _stored_hashes(conn: psycopg.Connection, order_ids: list[str]) -> dict[str, str]:
        """The content hash of each stored order (computed for rows written before the column)."""
        found = conn.execute(
            "SELECT order_id, content_sha256, customer_id, items FROM orders "
            "WHERE order_id = ANY(%s)",
            (order_ids,),
        ).fetchall()
        return {
            order_id: digest or Order(order_id, customer_id, tuple(items)).content_sha256
            for order_id, digest, customer_id, items in found
        }

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction (commit on success, rollback on error) that
        must finish within the transaction deadline; trouble reaching the database becomes
        DatabaseUnavailable."""
        try:
            with (
                self._pool.connection() as conn,
                self._deadlines.guard(conn, self.transaction_deadline),
            ):
                try:
                    yield conn
                except BaseException:
                    with contextlib.suppress(psycopg.Error):
                        conn.rollback()
                    raise
                conn.commit()
        except PoolTimeout as error:
            raise DatabaseUnavailable(f"no database connection: {error}") from error
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            self._after_failure(error)
            raise DatabaseUnavailable(str(error).strip()) from error

    def _after_failure(self, error: psycopg.Error) -> None:
        # A rotated password: the next connection reads the secret again (conninfo is called
        # for each one); say so once per failure.
        if "password authentication failed" in str(error):
            log.warning("database authentication failed; the next connection re-reads credentials")
