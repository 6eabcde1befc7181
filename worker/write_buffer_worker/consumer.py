"""The receive -> write -> delete loops, with heartbeat, write shaping, backoff and drain.

Guarantees, each tested against moto's SQS server and a real PostgreSQL:
- A message is deleted only after its order is committed: a crash at any point leaves it in the
  queue, and the idempotent insert makes the redelivery harmless.
- A batch still being worked has its visibility extended (heartbeat), so it is not handed to a
  second worker just because the database was slow.
- A body that is not an order is logged and released at once; SQS's redrive policy moves it to
  the dead-letter queue after maxReceiveCount receives. It never holds up the rest of its batch.
  "Not an order" is whatever parsing it raises, not only the parser's own InvalidOrder: no body
  can stop a receive loop.
- An orderId already written with different content is a conflict: logged, counted
  (`Conflicts`) and released like a malformed body, so it reaches the DLQ for a person. Never
  deleted, never counted as a duplicate.
- The heartbeat stops extending a batch held longer than MAX_BATCH_SECONDS and releases it for
  another worker: a stuck loop cannot hide messages forever.
- An unexpected error outside a message's handling is logged and the loop goes on after a pause;
  a loop or heartbeat that dies anyway makes `failed()` true, and the process exits non-zero so
  that systemd restarts it.
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

from botocore.exceptions import BotoCoreError, ClientError

from write_buffer_worker.config import WorkerConfig
from write_buffer_worker.metrics import Metrics
from write_buffer_worker.orders import InvalidOrder, parse_order
from write_buffer_worker.store import (
    CONFLICT,
    DUPLICATE,
    DatabaseUnavailable,
    OrderStore,
    Received,
    sent_at,
)

log = logging.getLogger(__name__)

HANDED_BACK = "_handed_back"  # set on a message the heartbeat released: no later release of it
# After an unexpected error a loop waits this long (plus as much jitter) before going on, so that
# a fault that persists costs a log line a second or two, not a busy loop.
UNEXPECTED_ERROR_PAUSE = 1.0


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
        # token -> [time of receipt, time of receipt or last extension, messages]
        self._batches: dict[int, list] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def add(self, messages: list[dict]) -> int:
        token = next(self._ids)
        now = time.monotonic()
        with self._lock:
            self._batches[token] = [now, now, messages]
        return token

    def remove(self, token: int) -> None:
        with self._lock:
            self._batches.pop(token, None)

    def due(self, extend_after: float, give_up_after: float) -> tuple[list[dict], list[dict]]:
        """(messages of batches not received or extended for `extend_after` seconds, marked
        extended now; messages of batches held over `give_up_after` seconds, no longer tracked)."""
        now = time.monotonic()
        extend: list[dict] = []
        overdue: list[dict] = []
        with self._lock:
            for token, batch in list(self._batches.items()):
                if batch[0] <= now - give_up_after:
                    overdue.extend(batch[2])
                    del self._batches[token]
                elif batch[1] <= now - extend_after:
                    batch[1] = now
                    extend.extend(batch[2])
        return extend, overdue

    def everything(self) -> list[dict]:
        with self._lock:
            return [m for _, _, ms in self._batches.values() for m in ms]


class Consumer:
    """N receive loops and a heartbeat over one queue, one store and one rate limiter."""

    def __init__(self, config: WorkerConfig, sqs, store: OrderStore, metrics: Metrics):
        self.config = config
        self._sqs = sqs
        self._store = store
        self._metrics = metrics
        self._limiter = RateLimiter(config.max_writes_per_second)
        self._gate = DatabaseGate(cap=config.db_backoff_max_seconds)
        self._inflight = InFlight()
        self._stopping = threading.Event()
        self._failed = threading.Event()
        self._progress: dict[int, float] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for index in range(self.config.receive_loops):
            self._progress[index] = time.monotonic()
            self._start_thread(f"receive-{index}", self._loop, index)
        self._start_thread("heartbeat", self._heartbeat)

    def _start_thread(self, name: str, target, *args) -> None:
        thread = threading.Thread(
            target=self._supervised, args=(target, *args), name=name, daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _supervised(self, target, *args) -> None:
        """Run a loop; if anything still escapes it, say so and mark the consumer failed."""
        try:
            target(*args)
        except BaseException:
            self._failed.set()
            log.critical(
                "a worker thread died; the process should exit so that systemd restarts it",
                exc_info=True,
                extra={"fields": {"thread": threading.current_thread().name}},
            )

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

    def failed(self) -> bool:
        """A receive loop or the heartbeat died: a bug, not a message (no message can do it)."""
        return self._failed.is_set()

    def healthy(self) -> bool:
        """No thread died and every loop made progress recently (an idle long poll counts as
        progress; a loop stuck in a call that does not return does not)."""
        limit = self.config.receive_wait_seconds + self.config.visibility_timeout_seconds + 30
        now = time.monotonic()
        return (
            not self.failed()
            and all(t.is_alive() for t in self._threads)
            and all(now - seen < limit for seen in self._progress.values())
        )

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self, index: int) -> None:
        while not self._stopping.is_set():
            self._progress[index] = time.monotonic()
            try:
                if self._gate.is_open:
                    self._gate.wait_and_probe(self._stopping, self._store.ping)
                    continue
                self._receive_and_process()
            except Exception:
                # A bug or a failure no branch expected. Not a message's doing (each message's
                # handling is contained below), so the loop lives on, after a pause so that a
                # persistent fault does not spin.
                log.exception("unexpected error in a receive loop; going on after a pause")
                self._stopping.wait(UNEXPECTED_ERROR_PAUSE * (1 + random.random()))  # noqa: S311

    def _receive_and_process(self) -> None:
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
            return
        if not messages:
            return
        if self._stopping.is_set():
            self._release(messages, 0, reason="received while stopping")
            return
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
                    attributes = message.get("Attributes", {})
                    received = Received(order, message["MessageId"], sent_at(attributes))
                except Exception as error:  # InvalidOrder, or whatever else a body can cause
                    reason = error if isinstance(error, InvalidOrder) else _unexpected(error)
                    malformed.append(message)
                    log.error(
                        "malformed order message; released for the redrive policy",
                        extra={"fields": _describe(message, reason)},
                    )
                    continue
                good.append((received, message))
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
            outcomes = list(
                zip(good, self._store.write([received for received, _ in good]), strict=True)
            )
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
        except Exception as error:
            # The database (or the driver, before sending) refused the batch: not an outage.
            # Find the order it refuses, so one bad order cannot take nine good ones to the
            # dead-letter queue with it.
            log.warning(
                "batch refused; retrying orders one by one",
                extra={"fields": {"error": _unexpected(error)}},
            )
            outcomes = self._write_one_by_one(good)
        written = [m for (_, m), outcome in outcomes if outcome != CONFLICT]
        self._delete(written)
        self._metrics.add("Processed", len(written))
        self._metrics.add("Duplicates", sum(outcome == DUPLICATE for _, outcome in outcomes))
        conflicts = [(r, m) for (r, m), outcome in outcomes if outcome == CONFLICT]
        if conflicts:
            self._conflicts(conflicts)

    def _write_one_by_one(self, good):
        """[((received, message), outcome)] of the orders written or found in conflict; an order
        the database refuses is released toward the DLQ, and an outage releases the rest."""
        outcomes = []
        for position, (received, message) in enumerate(good):
            try:
                [outcome] = self._store.write([received])
            except DatabaseUnavailable:
                self._gate.fail()
                rest = [m for _, m in good[position:]]
                self._release(rest, int(self._gate.backoff()) + 1, reason="database unavailable")
                break
            except Exception as error:
                log.error(
                    "order refused by the database; released for the redrive policy",
                    extra={"fields": _describe(message, _unexpected(error))},
                )
                self._release([message], 0, reason="refused")
                continue
            outcomes.append(((received, message), outcome))
        return outcomes

    def _conflicts(self, conflicts: list[tuple[Received, dict]]) -> None:
        """Same orderId, different content: a reused idempotency key. Released at once, so the
        redrive policy moves it to the DLQ after maxReceiveCount receives for a person to
        decide; the stored order is left as it is."""
        for received, message in conflicts:
            log.error(
                "orderId already written with different content; released for the redrive policy",
                extra={
                    "fields": {
                        **_describe(message, "conflict"),
                        "order_id": received.order.order_id,
                        "content_sha256": received.order.content_sha256,
                    }
                },
            )
        self._metrics.add("Conflicts", len(conflicts))
        self._release([m for _, m in conflicts], 0, reason="conflict")

    # -- SQS calls ---------------------------------------------------------------------------

    def _delete(self, messages: Sequence[dict]) -> None:
        if not messages:
            return
        for chunk in (messages[i : i + 10] for i in range(0, len(messages), 10)):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
            ]
            try:
                failed = self._sqs.delete_message_batch(
                    QueueUrl=self.config.queue_url, Entries=entries
                ).get("Failed", [])
            except (BotoCoreError, ClientError) as error:
                failed = [{"Id": e["Id"], "Message": str(error)[:200]} for e in entries]
            if failed:
                # Harmless: the message comes back after its visibility timeout and the insert
                # is a no-op. Counted, because many of these mean the visibility timeout is too
                # short.
                self._metrics.add("DeleteFailures", len(failed))
                log.warning(
                    "delete failed; the committed orders will be redelivered and skipped",
                    extra={"fields": {"failed": len(failed), "first": failed[0]}},
                )

    def _release(self, messages: Sequence[dict], delay: int, reason: str) -> None:
        """Make messages visible again after `delay` seconds (0: now), except those the
        heartbeat already handed back (another worker may hold them now)."""
        messages = [m for m in messages if not m.get(HANDED_BACK)]
        if not messages:
            return
        self._change_visibility(messages, delay, "release failed")
        self._metrics.add("Released", len(messages))
        log.info(
            "messages released",
            extra={
                "fields": {"count": len(messages), "reason": reason, "visible_in_seconds": delay}
            },
        )

    def _change_visibility(self, messages: Sequence[dict], seconds: int, failure: str) -> None:
        for chunk in (messages[i : i + 10] for i in range(0, len(messages), 10)):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
                for i, m in enumerate(chunk)
            ]
            try:
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.config.queue_url, Entries=entries
                )
            except (BotoCoreError, ClientError) as error:
                log.warning(failure, extra={"fields": {"error": str(error)[:200]}})

    def _heartbeat(self) -> None:
        """Extend the visibility of batches in flight for a third of it; release batches held
        longer than MAX_BATCH_SECONDS (their loop is stuck: let another worker have them)."""
        third = self.config.visibility_timeout_seconds / 3
        while not self._stopping.wait(min(third / 3, 5.0)):
            try:
                extend, overdue = self._inflight.due(third, self.config.max_batch_seconds)
                if overdue:
                    log.warning(
                        "batch held past MAX_BATCH_SECONDS; released for another worker",
                        extra={
                            "fields": {
                                "messages": len(overdue),
                                "max_batch_seconds": self.config.max_batch_seconds,
                            }
                        },
                    )
                    self._release(overdue, 0, reason="held past MAX_BATCH_SECONDS")
                    for message in overdue:
                        message[HANDED_BACK] = True
                self._change_visibility(
                    extend, self.config.visibility_timeout_seconds, "heartbeat failed"
                )
            except Exception:
                log.exception("unexpected error in the heartbeat; going on")


def _unexpected(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


def _describe(message: dict, reason: object) -> dict:
    attributes = message.get("Attributes", {})
    request = message.get("MessageAttributes", {}).get("apiRequestId", {}).get("StringValue")
    return {
        "message_id": message["MessageId"],
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        "api_request_id": request[:100] if isinstance(request, str) else None,
        "reason": str(reason)[:300],
    }
