"""The receive -> write -> delete loops, with heartbeat, write shaping, backoff and drain.

Guarantees, each tested against moto's SQS server and a real PostgreSQL:
- A message is deleted only after its order is committed: a crash at any point leaves it in the
  queue, and the idempotent insert makes the redelivery harmless.
- A batch still being worked has its visibility extended (heartbeat), so it is not handed to a
  second worker just because the database was slow.
- A body that is not an order is logged and released at once; SQS's redrive policy moves it to
  the dead-letter queue after maxReceiveCount receives. It never holds up the rest of its batch.
- While the database is unreachable no new messages are received (so good orders do not burn
  their receive counts into the DLQ); the batch in hand is released; a probe with exponential
  backoff and full jitter decides when to resume.
- Stop (SIGTERM from systemd on scale-in): receiving ends, in-flight batches get the grace period
  to finish, whatever has not finished is released for another worker at once.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Sequence

import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from write_buffer_worker.config import WorkerConfig
from write_buffer_worker.metrics import Metrics
from write_buffer_worker.orders import InvalidOrder, parse_order
from write_buffer_worker.store import DatabaseUnavailable, OrderStore, Received, sent_at

log = logging.getLogger(__name__)


class RateLimiter:
    """Token bucket shared by all loops: at most `rate` rows a second reach the database."""

    def __init__(self, rate: float):
        self._rate = rate
        self._tokens = rate
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, count: int, stopping: threading.Event) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= count  # may go negative: this caller waits for the debt
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait:
            stopping.wait(wait)


class DatabaseGate:
    """Circuit breaker: open when the database fails, probed with jittered backoff until it answers."""

    def __init__(self, base: float = 0.5, cap: float = 30.0):
        self._base, self._cap = base, cap
        self._failures = 0
        self._lock = threading.Lock()
        self._probe = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._failures > 0

    def backoff(self) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^failures)]."""
        ceiling = min(self._cap, self._base * 2 ** min(self._failures, 16))
        return random.uniform(0, ceiling)  # noqa: S311 (jitter, not crypto)

    def fail(self) -> None:
        with self._lock:
            self._failures += 1

    def wait_and_probe(self, stopping: threading.Event, ping) -> None:
        """Sleep a jittered backoff, then let one loop probe; close the breaker if it answers."""
        stopping.wait(self.backoff())
        if stopping.is_set() or not self._probe.acquire(blocking=False):
            return
        try:
            ping()
        except DatabaseUnavailable as error:
            self.fail()
            log.warning("database still unavailable", extra={"fields": {"error": str(error)[:200]}})
        else:
            with self._lock:
                self._failures = 0
            log.info("database available again; receiving resumes")
        finally:
            self._probe.release()


class InFlight:
    """Messages being worked, by batch: the heartbeat extends them, a stop releases them."""

    def __init__(self):
        # token -> [time of receipt or last extension, messages]
        self._batches: dict[int, list] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def add(self, messages: list[dict]) -> int:
        token = next(self._ids)
        with self._lock:
            self._batches[token] = [time.monotonic(), messages]
        return token

    def remove(self, token: int) -> None:
        with self._lock:
            self._batches.pop(token, None)

    def due_for_extension(self, seconds: float) -> list[dict]:
        """Messages of batches not received or extended for `seconds`; marked extended now."""
        now = time.monotonic()
        due: list[dict] = []
        with self._lock:
            for batch in self._batches.values():
                if batch[0] <= now - seconds:
                    batch[0] = now
                    due.extend(batch[1])
        return due

    def everything(self) -> list[dict]:
        with self._lock:
            return [m for _, ms in self._batches.values() for m in ms]


class Consumer:
    """N receive loops and a heartbeat over one queue, one store and one rate limiter."""

    def __init__(self, config: WorkerConfig, sqs, store: OrderStore, metrics: Metrics):
        self.config = config
        self._sqs = sqs
        self._store = store
        self._metrics = metrics
        self._limiter = RateLimiter(config.max_writes_per_second)
        self._gate = DatabaseGate()
        self._inflight = InFlight()
        self._stopping = threading.Event()
        self._progress: dict[int, float] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for index in range(self.config.receive_loops):
            self._progress[index] = time.monotonic()
            thread = threading.Thread(
                target=self._loop, args=(index,), name=f"receive-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()

    def stop(self, grace: float) -> int:
        """Stop receiving, give in-flight batches `grace` seconds, release the rest. Returns
        how many messages were released unfinished."""
        self._stopping.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        unfinished = self._inflight.everything()
        if unfinished:
            self._release(unfinished, 0, reason="shutdown grace ran out")
        return len(unfinished)

    def healthy(self) -> bool:
        """Every loop made progress recently (an idle long poll counts as progress)."""
        limit = self.config.receive_wait_seconds + self.config.visibility_timeout_seconds + 30
        now = time.monotonic()
        return all(t.is_alive() for t in self._threads) and all(
            now - seen < limit for seen in self._progress.values()
        )

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self, index: int) -> None:
        while not self._stopping.is_set():
            self._progress[index] = time.monotonic()
            if self._gate.is_open:
                self._gate.wait_and_probe(self._stopping, self._store.ping)
                continue
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=self.config.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self.config.receive_wait_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                    MessageAttributeNames=["apiRequestId"],
                ).get("Messages", [])
            except (BotoCoreError, ClientError) as error:
                log.warning("receive failed", extra={"fields": {"error": str(error)[:200]}})
                self._stopping.wait(1 + random.random())  # noqa: S311
                continue
            if not messages:
                continue
            if self._stopping.is_set():
                self._release(messages, 0, reason="received while stopping")
                break
            self._process(messages)

    def _process(self, messages: list[dict]) -> None:
        started = time.monotonic()
        token = self._inflight.add(messages)
        try:
            good: list[tuple[Received, dict]] = []
            malformed: list[dict] = []
            for message in messages:
                try:
                    order = parse_order(message["Body"])
                except InvalidOrder as reason:
                    malformed.append(message)
                    log.error(
                        "malformed order message; released for the redrive policy",
                        extra={"fields": _describe(message, reason)},
                    )
                    continue
                attributes = message.get("Attributes", {})
                good.append((Received(order, message["MessageId"], sent_at(attributes)), message))
            if malformed:
                self._metrics.add("Malformed", len(malformed))
                self._release(malformed, 0, reason="malformed")
            if good:
                self._write_and_delete(good)
        finally:
            self._inflight.remove(token)
            self._metrics.add("Batches")
            self._metrics.batch_latency((time.monotonic() - started) * 1000)

    def _write_and_delete(self, good: list[tuple[Received, dict]]) -> None:
        self._limiter.acquire(len(good), self._stopping)
        try:
            inserted = self._store.write([received for received, _ in good])
            written = good
        except DatabaseUnavailable as error:
            self._gate.fail()
            log.warning(
                "database unavailable; batch released, receiving paused",
                extra={"fields": {"error": str(error)[:200], "messages": len(good)}},
            )
            self._release(
                [m for _, m in good], int(self._gate.backoff()) + 1, reason="database unavailable"
            )
            return
        except psycopg.Error as error:
            # The database refused the batch (not an outage): find the row it refuses, so one
            # bad order cannot take nine good ones to the dead-letter queue with it.
            log.warning(
                "batch refused; retrying orders one by one",
                extra={"fields": {"error": str(error)[:200]}},
            )
            inserted, written = self._write_one_by_one(good)
        self._delete([m for _, m in written])
        self._metrics.add("Processed", len(written))
        self._metrics.add("Duplicates", len(written) - inserted)

    def _write_one_by_one(self, good):
        inserted, written = 0, []
        for received, message in good:
            try:
                inserted += self._store.write([received])
                written.append((received, message))
            except DatabaseUnavailable:
                self._gate.fail()
                self._release([message], 1, reason="database unavailable")
            except psycopg.Error as error:
                log.error(
                    "order refused by the database; released for the redrive policy",
                    extra={"fields": _describe(message, error)},
                )
                self._release([message], 0, reason="refused")
        return inserted, written

    # -- SQS calls ---------------------------------------------------------------------------

    def _delete(self, messages: Sequence[dict]) -> None:
        if not messages:
            return
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        try:
            failed = self._sqs.delete_message_batch(
                QueueUrl=self.config.queue_url, Entries=entries
            ).get("Failed", [])
        except (BotoCoreError, ClientError) as error:
            failed = [{"Id": e["Id"], "Message": str(error)[:200]} for e in entries]
        if failed:
            # Harmless: the message comes back after its visibility timeout and the insert is
            # a no-op. Counted, because many of these mean the visibility timeout is too short.
            self._metrics.add("DeleteFailures", len(failed))
            log.warning(
                "delete failed; the committed orders will be redelivered and skipped",
                extra={"fields": {"failed": len(failed), "first": failed[0]}},
            )

    def _release(self, messages: Sequence[dict], delay: int, reason: str) -> None:
        """Make messages visible again after `delay` seconds (0: now)."""
        for chunk in (messages[i : i + 10] for i in range(0, len(messages), 10)):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": delay}
                for i, m in enumerate(chunk)
            ]
            try:
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.config.queue_url, Entries=entries
                )
            except (BotoCoreError, ClientError) as error:
                log.warning(
                    "release failed; messages return after their visibility timeout",
                    extra={"fields": {"error": str(error)[:200]}},
                )
        self._metrics.add("Released", len(messages))
        log.info(
            "messages released",
            extra={
                "fields": {"count": len(messages), "reason": reason, "visible_in_seconds": delay}
            },
        )

    def _heartbeat(self) -> None:
        """Extend the visibility of batches that have been in flight for a third of it."""
        third = self.config.visibility_timeout_seconds / 3
        while not self._stopping.wait(min(third / 3, 5.0)):
            slow = self._inflight.due_for_extension(third)
            for chunk in (slow[i : i + 10] for i in range(0, len(slow), 10)):
                entries = [
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.config.visibility_timeout_seconds,
                    }
                    for i, m in enumerate(chunk)
                ]
                try:
                    self._sqs.change_message_visibility_batch(
                        QueueUrl=self.config.queue_url, Entries=entries
                    )
                except (BotoCoreError, ClientError) as error:
                    log.warning("heartbeat failed", extra={"fields": {"error": str(error)[:200]}})


def _describe(message: dict, reason: object) -> dict:
    attributes = message.get("Attributes", {})
    request = message.get("MessageAttributes", {}).get("apiRequestId", {}).get("StringValue")
    return {
        "message_id": message["MessageId"],
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        "api_request_id": request,
        "reason": str(reason)[:300],
    }
