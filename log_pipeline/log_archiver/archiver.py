"""Receive log messages, buffer them, write one gzip'd JSON-lines object per flush, then delete.

Guarantees, each tested against moto's SQS and S3:
- A message is deleted only after the object holding its lines is stored: a crash at any point
  leaves it in the queue, and its redelivery lands in a later object. The archive is
  at-least-once; the hourly compaction drops the duplicates (every line carries the message's
  `(shipper, seq)` name).
- Objects are partitioned by the time they are written, `raw/dt=YYYY-MM-DD/hour=HH/`, so an hour
  is complete once it has passed and the compaction of hour H can run at H+1:10.
- A body that is not a shipper's envelope is logged and released at once; SQS's redrive policy
  moves it to the dead-letter queue after maxReceiveCount receives.
- While S3 refuses a write, the buffer is kept, its messages stay hidden (their visibility is
  extended), the write is retried with backoff, and receiving pauses once the buffer is full.
- Stop (SIGTERM on scale-in): receiving ends, the buffer is written and deleted within the grace
  period; anything received after that is released for another archiver at once.
- No message and no unexpected error stops a loop: an error nothing expected is logged with its
  traceback and the loop goes on after a pause; a write that fails that way releases its
  messages, so a persistent fault walks them to the DLQ instead of hiding them. A thread that
  dies anyway is reported by `failed()`, and the program exits 1 for systemd to restart it.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from pipeline_runtime.runtime import Backoff, Metrics, run_steps

from log_archiver.config import ArchiverConfig

log = logging.getLogger(__name__)

COUNTERS = (
    "Messages",
    "Lines",
    "Objects",
    "Malformed",
    "Released",
    "DeleteFailures",
    "WriteFailures",
    "Jobs",
    "JobFailures",
)


class Malformed(ValueError):
    """Not a shipper's envelope; it will not become one on a later receive."""


@dataclass(frozen=True)
class Envelope:
    shipper: str
    seq: int
    lines: list[str]


def parse_envelope(body: str) -> Envelope:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise Malformed(f"not JSON: {error.msg}") from None
    except (ValueError, RecursionError) as error:
        # Valid JSON Python will not load: an integer past 4,300 digits, nesting past the
        # recursion limit. Left uncaught, one such body stopped a receive loop's batch.
        raise Malformed(f"not loadable JSON: {type(error).__name__}") from None
    if not isinstance(data, dict):
        raise Malformed("not a JSON object")
    shipper, seq, lines = data.get("shipper"), data.get("seq"), data.get("lines")
    if not isinstance(shipper, str) or not shipper:
        raise Malformed("shipper must be a non-empty string")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise Malformed("seq must be a whole number of 0 or more")
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise Malformed("lines must be a list of strings")
    return Envelope(shipper, seq, lines)


def raw_key(prefix: str, at: datetime, instance: str) -> str:
    """`raw/dt=2025-01-31/hour=09/20250131T091502Z-<instance>-<random>.jsonl.gz`: the write time
    partitions, and the random part keeps two flushes in one second apart."""
    return (
        f"{prefix}dt={at:%Y-%m-%d}/hour={at:%H}/"
        f"{at:%Y%m%dT%H%M%SZ}-{instance}-{uuid.uuid4().hex[:8]}.jsonl.gz"
    )


def archive_lines(envelope: Envelope) -> list[bytes]:
    """One JSON line per log line, naming its message, so readers and compaction can deduplicate."""
    return [
        json.dumps(
            {"shipper": envelope.shipper, "seq": envelope.seq, "i": i, "line": line}
        ).encode()
        + b"\n"
        for i, line in enumerate(envelope.lines)
    ]


class Buffer:
    """Messages received and not yet written, with their archive lines."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.lines: list[bytes] = []
        self.size = 0
        self.started = 0.0

    def add(self, message: dict, lines: list[bytes]) -> None:
        with self.lock:
            if not self.messages:
                self.started = time.monotonic()
            self.messages.append(message)
            self.lines.extend(lines)
            self.size += sum(len(line) for line in lines)

    def take(self) -> tuple[list[dict], list[bytes]]:
        with self.lock:
            taken = self.messages, self.lines
            self.messages, self.lines, self.size = [], [], 0
            return taken


class Archiver:
    """N receive loops and one flusher over one queue and one bucket."""

    def __init__(self, config: ArchiverConfig, sqs, s3, metrics: Metrics):
        self.config = config
        self._sqs = sqs
        self._s3 = s3
        self._metrics = metrics
        self._buffer = Buffer()
        self._stopping = threading.Event()
        self._flushed = threading.Event()
        self._flush_lock = threading.Lock()
        self._backoff = Backoff(base=0.5, cap=config.write_backoff_max_seconds)
        self._threads: list[threading.Thread] = []
        self._progress: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for index in range(self.config.receive_loops):
            self._spawn(f"receive-{index}", self._receive_once)
        self._spawn("flusher", self._flush_when_due)

    def _spawn(self, name: str, step) -> None:
        self._progress[name] = time.monotonic()
        thread = threading.Thread(
            target=run_steps,
            args=(
                name,
                step,
                self._stopping,
                functools.partial(self._beat, name),
            ),
            name=name,
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def _beat(self, name: str) -> None:
        self._progress[name] = time.monotonic()

    def stop(self, grace: float) -> None:
        """Stop receiving, write and delete what is buffered, within `grace` seconds."""
        deadline = time.monotonic() + grace
        self._stopping.set()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.flush(deadline=deadline)

    def failed(self) -> bool:
        """A loop's thread ended while not stopping: it died, a bug (no message and no AWS
        error can do it). A loop ends by itself only once stopping."""
        return not self._stopping.is_set() and not all(t.is_alive() for t in self._threads)

    def healthy(self) -> bool:
        limit = self.config.receive_wait_seconds + self.config.flush_seconds + 60
        now = time.monotonic()
        return all(t.is_alive() for t in self._threads) and all(
            now - seen < limit for seen in self._progress.values()
        )

    # -- receiving ---------------------------------------------------------------------------

    def _receive_once(self) -> bool:
        """One receive and the parsing of what came; False once the loop should end."""
        if len(self._buffer.messages) >= self.config.flush_messages:
            self._flushed.wait(0.5)  # full: wait for the flusher (backpressure)
            return True
        try:
            messages = self._sqs.receive_message(
                QueueUrl=self.config.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=self.config.receive_wait_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        except (BotoCoreError, ClientError) as error:
            log.warning("receive failed", extra={"fields": {"error": str(error)[:200]}})
            self._stopping.wait(1.0)
            return True
        if messages and self._stopping.is_set():
            self._release(messages, reason="received while stopping")
            return False
        if not messages and not self.config.receive_wait_seconds:
            self._stopping.wait(0.1)  # short polling: pause instead of spinning on an empty queue
        malformed = []
        for message in messages:
            try:
                envelope = parse_envelope(message["Body"])
            except Malformed as reason:
                malformed.append(message)
                log.error(
                    "malformed log message; released for the redrive policy",
                    extra={
                        "fields": {
                            "message_id": message["MessageId"],
                            "receive_count": message.get("Attributes", {}).get(
                                "ApproximateReceiveCount"
                            ),
                            "reason": str(reason),
                        }
                    },
                )
                continue
            self._buffer.add(message, archive_lines(envelope))
        if malformed:
            self._metrics.add("Malformed", len(malformed))
            self._release(malformed, reason="malformed")
        return True

    # -- writing -----------------------------------------------------------------------------

    def _flush_when_due(self) -> bool:
        """Every 0.2 s: write the buffer once it is old, large or long enough."""
        if self._stopping.wait(0.2):
            return False
        buffer = self._buffer
        if buffer.messages and (
            time.monotonic() - buffer.started >= self.config.flush_seconds
            or buffer.size >= self.config.flush_bytes
            or len(buffer.messages) >= self.config.flush_messages
        ):
            self.flush()
        return True

    def flush(self, deadline: float | None = None) -> str | None:
        """Write the buffer as one object, then delete its messages; return the object's key."""
        with self._flush_lock:
            messages, lines = self._buffer.take()
            self._flushed.set()
            self._flushed.clear()
            if not messages:
                return None
            try:
                return self._write_and_delete(messages, lines, deadline)
            except Exception:
                # Not an S3 refusal (those are retried below): a bug or a fault nothing expected.
                # The messages go back to the queue now; should the fault persist, their receive
                # counts walk them to the DLQ, where they are seen, rather than waiting hidden.
                log.exception("unexpected error writing an archive object; messages released")
                self._release(messages, reason="unexpected write error")
                return None

    def _write_and_delete(
        self, messages: list[dict], lines: list[bytes], deadline: float | None
    ) -> str | None:
        """Store the object (retrying what S3 refuses), then delete its messages."""
        key = raw_key(self.config.raw_prefix, datetime.now(UTC), self.config.instance_id)
        body = gzip.compress(b"".join(lines), mtime=0)
        attempt = 0
        while True:
            try:
                self._s3.put_object(
                    Bucket=self.config.bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/gzip",
                )
                break
            except (BotoCoreError, ClientError) as error:
                self._metrics.add("WriteFailures")
                log.warning(
                    "archive write failed; keeping the buffer and retrying",
                    extra={"fields": {"error": str(error)[:200], "messages": len(messages)}},
                )
                if deadline is not None and time.monotonic() >= deadline:
                    # Not deleted: they come back after their visibility timeout.
                    log.error("shutdown grace ran out before the write; messages left in the queue")
                    return None
                self._extend(messages)
                wait = self._backoff.delay(attempt)
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                time.sleep(wait)
                attempt += 1
        self._delete(messages)
        self._metrics.add("Objects")
        self._metrics.add("Messages", len(messages))
        self._metrics.add("Lines", len(lines))
        log.info(
            "archive object written",
            extra={
                "fields": {
                    "key": key,
                    "messages": len(messages),
                    "lines": len(lines),
                    "bytes": len(body),
                }
            },
        )
        return key

    # -- SQS calls ---------------------------------------------------------------------------

    def _delete(self, messages: list[dict]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
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
                # Harmless: the message comes back and lands in a later object; compaction drops
                # the duplicate. Counted, because many mean the visibility timeout is too short.
                self._metrics.add("DeleteFailures", len(failed))
                log.warning(
                    "delete failed; those lines will be archived twice",
                    extra={"fields": {"failed": len(failed)}},
                )

    def _change_visibility(self, messages: list[dict], seconds: int) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            try:
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.config.queue_url,
                    Entries=[
                        {
                            "Id": str(i),
                            "ReceiptHandle": m["ReceiptHandle"],
                            "VisibilityTimeout": seconds,
                        }
                        for i, m in enumerate(chunk)
                    ],
                )
            except (BotoCoreError, ClientError) as error:
                log.warning(
                    "visibility change failed", extra={"fields": {"error": str(error)[:200]}}
                )

    def _release(self, messages: list[dict], reason: str) -> None:
        self._change_visibility(messages, 0)
        self._metrics.add("Released", len(messages))
        log.info("messages released", extra={"fields": {"count": len(messages), "reason": reason}})

    def _extend(self, messages: list[dict]) -> None:
        self._change_visibility(messages, self.config.visibility_timeout_seconds)
