"""Why-queue lab (seeds 000 and 003): the same burst straight to PostgreSQL, then through a queue;
and a consumer outage longer than the queue's retention period.

Part 1, on the embedded PostgreSQL and moto. A flash sale: `--burst` orders arrive within
`--spread` seconds, all for one product, so every order decrements the same stock row. The
database gives this application `--connection-limit` connections (a role CONNECTION LIMIT, as a
small instance's max_connections would), and each order's transaction holds the stock row for
`--work` seconds.

- Straight to the database: every request opens its own connection (as a fleet of functions or
  app servers without a pooler would), retries a refused connection with exponential backoff,
  and gives up when its `--request-timeout` has passed. Refused connections, timeouts and lost
  orders are counted.
- Through the queue: the same orders are sent to SQS (every one accepted), and `--consumers`
  workers, one connection each, write them ten to a transaction at the pace the database takes.

Part 2, a model with a simulated clock (the lab cannot wait days, and moto does not expire
messages the way SQS does): producers keep sending while the consumer is down for
`--outage-days`; SQS deletes every message older than `--retention-days`.

    python -m labs why-queue [--burst 200] [--connection-limit 10] [--outage-days 5]
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated

import typer

from labs.engines import Engines, depth, make_queue
from labs.registry import lab
from labs.story import Story
from labs.teaching import play

SKU = "FLASH-1"
DAY_HOURS = 24


@dataclass
class DirectResult:
    written: int = 0
    refused_attempts: int = 0
    refused: int = 0
    timed_out: int = 0
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return self.refused + self.timed_out


@dataclass
class QueuedResult:
    accepted: int = 0
    written: int = 0
    seconds: float = 0.0
    connections: int = 0


@dataclass
class RetentionResult:
    sent: int = 0
    expired: int = 0
    delivered: int = 0
    timeline: list[tuple[float, int, int, int]] = field(default_factory=list)


@dataclass
class WhyQueueObservation:
    burst: int
    direct: DirectResult
    queued: QueuedResult
    retention: RetentionResult

    @property
    def headline(self) -> str:
        d, q, r = self.direct, self.queued, self.retention
        return (
            f"straight to PostgreSQL: {d.written} of {self.burst} written, {d.refused_attempts} "
            f"connections refused, {d.timed_out} timed out, {d.lost} orders lost; through the "
            f"queue: {q.accepted} accepted, {q.written} written in {q.seconds:.1f} s "
            f"({q.written / max(q.seconds, 1e-9):.0f}/s), none lost; outage longer than "
            f"retention: {r.expired} of {r.sent} orders expired unread"
        )


def database(postgres, limit: int) -> tuple[str, callable]:
    """A database and a login role limited to `limit` connections; returns its URI and a
    cleanup function."""
    import psycopg

    name = f"whyqueue_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.uri, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN CONNECTION LIMIT {limit}")
        admin.execute(f"CREATE DATABASE {name} OWNER {name}")
    uri = postgres.uri.replace("postgres:@/postgres?", f"{name}:@/{name}?")
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE orders (order_id text PRIMARY KEY, sku text NOT NULL, "
            "placed_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute("CREATE TABLE stock (sku text PRIMARY KEY, available integer NOT NULL)")
        conn.execute("INSERT INTO stock VALUES (%s, 1000000)", (SKU,))

    def cleanup() -> None:
        with psycopg.connect(postgres.uri, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {name}")

    return uri, cleanup


def rows(uri: str) -> int:
    import psycopg

    with psycopg.connect(uri) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]


def direct_request(uri, order_id, work, timeout, result, lock) -> None:
    """One request handled straight against the database."""
    import psycopg

    started = time.monotonic()
    conn = None
    backoff = 0.05
    while conn is None and time.monotonic() - started < timeout:
        try:
            conn = psycopg.connect(uri, connect_timeout=max(1, int(timeout)))
        except psycopg.OperationalError:
            with lock:
                result.refused_attempts += 1
            # retry with exponential backoff and jitter, as a client library would
            time.sleep(min(backoff * random.uniform(0.5, 1.5), 0.5))
            backoff *= 2
    if conn is None:
        with lock:
            result.refused += 1
        return
    left_ms = int((timeout - (time.monotonic() - started)) * 1000)
    try:
        with conn:
            if left_ms <= 0:
                raise psycopg.errors.QueryCanceled("request timeout before the query")
            conn.execute(f"SET lock_timeout = {left_ms}")
            conn.execute("UPDATE stock SET available = available - 1 WHERE sku = %s", (SKU,))
            conn.execute("SELECT pg_sleep(%s)", (work,))  # the rest of the request's work
            conn.execute("INSERT INTO orders (order_id, sku) VALUES (%s, %s)", (order_id, SKU))
        with lock:
            result.written += 1
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        with lock:
            result.timed_out += 1
    finally:
        conn.close()


def queue_consumer(moto, url, uri, work, stop) -> None:
    """One worker with one connection: ten orders a transaction, deleted after COMMIT."""
    import psycopg

    sqs = moto.client("sqs")
    with psycopg.connect(uri) as conn:
        while not stop.is_set():
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not messages:
                continue
            ids = [json.loads(m["Body"])["orderId"] for m in messages]
            with conn.transaction():
                conn.execute(
                    "UPDATE stock SET available = available - %s WHERE sku = %s", (len(ids), SKU)
                )
                conn.execute("SELECT pg_sleep(%s)", (work,))
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO orders (order_id, sku) VALUES (%s, %s) "
                        "ON CONFLICT (order_id) DO NOTHING",
                        [(i, SKU) for i in ids],
                    )
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )


def retention_model(
    story: Story, retention_days: float, outage_days: float, per_hour: int
) -> RetentionResult:
    """Hour by hour: producers send, nobody consumes, SQS deletes what is older than retention."""
    result = RetentionResult()
    waiting: list[int] = []  # hour each waiting message was sent
    retention_hours = retention_days * DAY_HOURS
    for hour in range(int(outage_days * DAY_HOURS)):
        waiting += [hour] * per_hour
        result.sent += per_hour
        kept = [h for h in waiting if hour + 1 - h <= retention_hours]
        result.expired += len(waiting) - len(kept)
        waiting = kept
        if (hour + 1) % DAY_HOURS == 0:
            result.timeline.append(
                ((hour + 1) / DAY_HOURS, result.sent, len(waiting), result.expired)
            )
    result.delivered = len(waiting)
    return result


def run(
    story: Story,
    engines: Engines,
    *,
    burst: int = 200,
    spread: float = 0.5,
    connection_limit: int = 10,
    work: float = 0.1,
    request_timeout: float = 1.0,
    consumers: int = 2,
    retention_days: float = 4,
    outage_days: float = 5,
    orders_per_hour: int = 40,
) -> WhyQueueObservation:
    moto, postgres = engines.moto, engines.postgres
    story.step(
        f"a flash sale: {burst} orders for {SKU} within {spread:g} s; the database allows this "
        f"application {connection_limit} connections, each order holds the stock row for "
        f"{work:g} s, a request gives up after {request_timeout:g} s"
    )
    direct = DirectResult()
    uri, cleanup = database(postgres, connection_limit)
    try:
        story.step("straight to PostgreSQL: one connection per request")
        lock = threading.Lock()
        started = time.monotonic()
        threads = []
        for n in range(burst):
            thread = threading.Thread(
                target=direct_request,
                args=(uri, f"direct-{n:05d}", work, request_timeout, direct, lock),
                daemon=True,
            )
            threads.append(thread)
            thread.start()
            time.sleep(max(0.0, started + (n + 1) * spread / burst - time.monotonic()))
        for thread in threads:
            thread.join(timeout=request_timeout + 30)
        direct.seconds = time.monotonic() - started
        story.table(
            "",
            [
                "written",
                "connection attempts refused",
                "gave up: refused",
                "gave up: timed out",
                "lost",
            ],
            [
                [
                    direct.written,
                    direct.refused_attempts,
                    direct.refused,
                    direct.timed_out,
                    direct.lost,
                ]
            ],
        )
        story.notice(
            "the database was not down: it was full. Every request past its connection limit "
            "was refused, and the ones let in queued on the stock row until their time ran out"
        )

        story.step(f"through the queue: the same orders to SQS, {consumers} workers drain it")
        sqs = moto.client("sqs")
        url = make_queue(sqs, "flash-sale", attributes={"VisibilityTimeout": "30"}).url
        queued = QueuedResult(connections=consumers)
        before = rows(uri)
        started = time.monotonic()
        for start in range(0, burst, 10):
            sent = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps({"orderId": f"queued-{n:05d}"})}
                    for i, n in enumerate(range(start, min(start + 10, burst)))
                ],
            )
            queued.accepted += len(sent.get("Successful", []))
        stop = threading.Event()
        workers = [
            threading.Thread(target=queue_consumer, args=(moto, url, uri, work, stop), daemon=True)
            for _ in range(consumers)
        ]
        for worker in workers:
            worker.start()
        with story.progress() as bars:
            task = bars.add_task("orders written", total=burst, note="")
            deadline = time.monotonic() + 10 + burst * work
            while time.monotonic() < deadline:
                queued.written = rows(uri) - before
                bars.update(task, completed=queued.written, note=f"waiting {depth(sqs, url)[0]}")
                if queued.written >= burst:
                    break
                time.sleep(0.1)
        queued.seconds = time.monotonic() - started
        stop.set()
        for worker in workers:
            worker.join(timeout=5)
        story.table(
            "",
            ["accepted", "written", "lost", "drain time", "rate", "connections used"],
            [
                [
                    queued.accepted,
                    queued.written,
                    burst - queued.written,
                    f"{queued.seconds:.1f} s",
                    f"{queued.written / max(queued.seconds, 1e-9):.0f}/s",
                    consumers,
                ]
            ],
        )
        story.notice(
            "the queue took the whole burst at once; the workers wrote it at their own pace, "
            "with a number of connections you choose, and ten orders to a transaction (one "
            "stock update for ten), which a connection per request cannot do. The price: the "
            "order is written seconds later, not while the client waits."
        )
        story.moto(
            "here the pace is moto's: its ReceiveMessage slows as the queue deepens (well over "
            "half a second a call with a few hundred messages waiting), while each ten-order "
            f"transaction takes about {work:g} s. On SQS the database would set the pace."
        )
    finally:
        cleanup()

    story.step(
        f"a consumer outage of {outage_days:g} days against a retention period of "
        f"{retention_days:g} days ({orders_per_hour} orders an hour; simulated clock)"
    )
    retention = retention_model(story, retention_days, outage_days, orders_per_hour)
    story.table(
        "",
        ["day of the outage", "sent so far", "waiting in the queue", "expired (deleted by SQS)"],
        [
            [f"{day:g}", sent, waiting, expired]
            for day, sent, waiting, expired in retention.timeline
        ],
    )
    story.notice(
        f"when the consumer comes back, {retention.delivered} orders are waiting and "
        f"{retention.expired} are gone: SQS deleted them, unread, when they turned "
        f"{retention_days:g} days old. Decoupling in failure is bounded by retention; an alarm on "
        "ApproximateAgeOfOldestMessage would have fired within minutes of the outage."
    )
    story.moto(
        "this part is a model: AWS's shortest retention is 60 s, and moto neither refuses "
        "shorter ones nor expires like SQS (it hides an expired message from receives but still "
        "counts it in ApproximateNumberOfMessages)"
    )
    return WhyQueueObservation(burst, direct, queued, retention)


def command(
    burst: Annotated[int, typer.Option(min=10, max=2000, help="Orders in the burst.")] = 200,
    connection_limit: Annotated[
        int, typer.Option(min=1, max=90, help="Connections the database allows the app.")
    ] = 10,
    work: Annotated[
        float, typer.Option(min=0.001, max=2, help="Seconds each transaction holds the row.")
    ] = 0.1,
    request_timeout: Annotated[
        float, typer.Option(min=0.1, max=30, help="Seconds a client waits before giving up.")
    ] = 1.0,
    consumers: Annotated[int, typer.Option(min=1, max=20, help="Queue workers.")] = 2,
    retention_days: Annotated[
        float, typer.Option(min=1 / 1440, max=14, help="Queue retention, days.")
    ] = 4,
    outage_days: Annotated[
        float, typer.Option(min=0.1, max=30, help="How long the consumer is down, days.")
    ] = 5,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """The same burst straight to PostgreSQL and through a queue; an outage beyond retention."""
    raise typer.Exit(
        play(
            lab("why-queue"),
            lambda story, engines: run(
                story,
                engines,
                burst=burst,
                connection_limit=connection_limit,
                work=work,
                request_timeout=request_timeout,
                consumers=consumers,
                retention_days=retention_days,
                outage_days=outage_days,
            ),
            quiz=quiz,
        )
    )
