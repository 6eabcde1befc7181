"""Pack log lines into messages, messages into full SendMessageBatch requests, and send them.

A message is a JSON envelope `{"shipper": id, "seq": n, "lines": [...]}` of up to
`max_message_bytes` (64 KiB by default: SQS bills each 64 KiB of payload as one request, so a full
message costs what a one-line message costs). `(shipper, seq)` names a message uniquely, so the
archive can drop the duplicates at-least-once delivery makes. JSON's escaping (ASCII only) keeps
every body inside the characters SQS accepts.

A message closes when it is full or its first line has waited `linger_seconds`; a request goes
when it holds 10 messages, would pass `max_request_bytes`, or its first message has waited
`linger_seconds`. So at a trickle a line waits at most about twice the linger, and at a flood
every request is full. Lines come through a bounded buffer: while SQS is slow or refusing, the
buffer fills and the reader waits, so a burst costs memory up to `buffer_lines`, never lines.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable

from pipeline_runtime.runtime import Metrics

from log_shipper.config import ShipperConfig
from log_shipper.sender import MAX_ENTRIES, BatchSender, Entry

log = logging.getLogger(__name__)

COUNTERS = ("Lines", "Messages", "Requests", "Retries", "Throttled", "Refused", "Unsent")
_END = object()


class Shipper:
    """Reads lines from `lines` (a thread), ships them (`run`), drains on `stop`."""

    def __init__(self, config: ShipperConfig, sqs, metrics: Metrics, *, max_message_size: int):
        self.config = config
        self._metrics = metrics
        # A message may not pass the queue's MaximumMessageSize, whatever the configuration says.
        self._max_message = min(config.max_message_bytes, max_message_size)
        self._buffer: queue.Queue = queue.Queue(maxsize=config.buffer_lines)
        self._stopping = threading.Event()
        self._failed = threading.Event()
        self._seq = 0
        self.sender = BatchSender(
            sqs,
            config.queue_url,
            on_refused=self._refused,
            on_unsent=self._unsent,
            on_sent=self._sent,
            on_throttled=lambda: metrics.add("Throttled"),
        )
        self._calls_seen = 0
        # `seq` restarts with the process, so the name carries a run id: `(shipper, seq)` must
        # never name two different messages, or the archive would drop one as a duplicate.
        self.shipper_id = f"{config.shipper_id}/{uuid.uuid4().hex[:8]}"
        self._prefix = f'{{"shipper":{json.dumps(self.shipper_id)},"seq":'
        self.last_progress = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------

    def read(self, lines: Iterable[str]) -> threading.Thread:
        """Start a thread feeding `lines` into the buffer; it blocks while the buffer is full."""

        def feed():
            try:
                for line in lines:
                    while not self._offer(line):
                        if self._stopping.is_set():
                            return
            except Exception:
                # What was read is still shipped; the exit code then asks systemd to restart.
                log.exception("reading the source failed; shipping what was read, then exiting 1")
                self._failed.set()
            finally:
                self._buffer.put(_END)

        thread = threading.Thread(target=feed, name="reader", daemon=True)
        thread.start()
        return thread

    def _offer(self, line: str) -> bool:
        try:
            self._buffer.put(line, timeout=0.5)
            return True
        except queue.Full:
            return False

    def stop(self) -> None:
        """Stop reading; `run` sends what was read within the grace period, then returns."""
        self._stopping.set()
        self.sender.give_up_at(time.monotonic() + self.config.shutdown_grace_seconds)

    def failed(self) -> bool:
        """Reading or shipping ended on an error no branch expected (the program exits 1)."""
        return self._failed.is_set()

    def healthy(self, within: float = 60.0) -> bool:
        return time.monotonic() - max(self.last_progress, self.sender.last_attempt) < within

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Pack and send until the reader ends (its source ran out, or a stop)."""
        try:
            self._pack_and_send()
        except Exception:
            log.critical("the shipping loop died; exiting 1 for a restart", exc_info=True)
            self._failed.set()

    def _pack_and_send(self) -> None:
        linger = self.config.linger_seconds
        lines: list[str] = []
        size = 0
        message_started = 0.0
        batch: list[Entry] = []
        batch_size = 0
        batch_started = 0.0
        ended = False
        while not ended or lines or batch:
            self.last_progress = now = time.monotonic()
            deadlines = [
                t + linger for t, live in ((message_started, lines), (batch_started, batch)) if live
            ]
            item = None
            if not ended:
                try:
                    item = self._buffer.get(
                        timeout=max(0.0, min(deadlines, default=now + 0.2) - now)
                    )
                except queue.Empty:
                    item = None
                if item is _END:
                    ended, item = True, None
            if item is not None:
                encoded = json.dumps(item)
                if self._envelope(len(encoded)) > self._max_message:
                    self._too_long(item)
                else:
                    if lines and self._envelope(size + 1 + len(encoded)) > self._max_message:
                        batch, batch_size, batch_started = self._close(
                            lines, batch, batch_size, batch_started
                        )
                        lines, size = [], 0
                    if not lines:
                        message_started = time.monotonic()
                        size = len(encoded)
                    else:
                        size += 1 + len(encoded)
                    lines.append(encoded)
            now = time.monotonic()
            if lines and (ended or now - message_started >= linger):
                batch, batch_size, batch_started = self._close(
                    lines, batch, batch_size, batch_started
                )
                lines, size = [], 0
            if batch and (ended or len(batch) == MAX_ENTRIES or now - batch_started >= linger):
                self._send(batch)
                batch, batch_size = [], 0

    def _envelope(self, lines_size: int) -> int:
        """Bytes of a message whose joined lines take `lines_size`: prefix, seq, brackets."""
        return len(self._prefix) + 20 + len(',"lines":[]}') + lines_size

    def _close(self, lines, batch, batch_size, batch_started):
        """Seal the current lines into an entry; send the batch first if the entry would not fit."""
        entry = Entry(f'{self._prefix}{self._seq},"lines":[{",".join(lines)}]}}', lines=len(lines))
        self._seq += 1
        if batch and batch_size + entry.size > self.config.max_request_bytes:
            self._send(batch)
            batch, batch_size = [], 0
        if not batch:
            batch_started = time.monotonic()
        batch.append(entry)
        return batch, batch_size + entry.size, batch_started

    def _send(self, batch: list[Entry]) -> None:
        before = self.sender.calls
        self.sender.send(batch)
        calls = self.sender.calls - before
        self._metrics.add("Requests", calls)
        self._metrics.add("Retries", max(0, calls - 1))

    # -- outcomes ----------------------------------------------------------------------------

    def _sent(self, entries: list[Entry]) -> None:
        self._metrics.add("Messages", len(entries))
        self._metrics.add("Lines", sum(e.lines for e in entries))

    def _refused(self, entry: Entry, code: str, message: str) -> None:
        self._metrics.add("Refused", entry.lines)
        log.error(
            "message refused by SQS; not resent",
            extra={
                "fields": {
                    "code": code,
                    "reason": message[:300],
                    "lines": entry.lines,
                    "bytes": entry.size,
                }
            },
        )
        if self.config.refused_path:
            with open(self.config.refused_path, "a", encoding="utf-8") as spill:
                spill.write(
                    json.dumps({"code": code, "reason": message[:300], "body": entry.body}) + "\n"
                )

    def _too_long(self, line: str) -> None:
        self._refused(
            Entry(json.dumps({"shipper": self.shipper_id, "seq": None, "lines": [line]})),
            "LineTooLong",
            f"one line takes more than the {self._max_message} bytes a message may hold",
        )

    def _unsent(self, entries: list[Entry]) -> None:
        lines = sum(e.lines for e in entries)
        self._metrics.add("Unsent", lines)
        log.error("shutdown grace ran out; lines not sent", extra={"fields": {"lines": lines}})
