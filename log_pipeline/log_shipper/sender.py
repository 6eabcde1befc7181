"""SendMessageBatch done right: full requests, only the failed entries retried, backoff on throttling.

What SQS's SendMessageBatch API reference says (as of 2025-08, when the limit rose to 1 MiB), and
what this module does about it:

- A request carries at most 10 entries, and the sum of their sizes (bodies and message
  attributes) is at most 1 MiB: `batches` closes a request at whichever comes first.
- "The result of sending each message is reported individually in the response": an HTTP 200
  can carry `Failed` entries. Each has `SenderFault`: true when the entry itself is wrong (it
  would fail the same way again, so it is refused: handed to `on_refused`, never resent), false
  when SQS failed to store it (only those entries are sent again, after a backoff). The entries
  that succeeded are never sent twice.
- Some errors fail the whole request although one entry caused them (an entry over the queue's
  MaximumMessageSize, characters SQS does not accept): the request is then sent in halves, and
  halves of halves, so the bad entry is refused alone and the others still go.
- Every other error (throttling, 5xx, a dropped connection, a missing permission or a missing
  queue during a deploy) keeps the whole request and retries it with exponential backoff and
  full jitter, for as long as it takes: the caller's bounded buffer fills and the reader slows
  (backpressure), instead of dropping logs. After a stop, retries end at the deadline and the
  rest is reported to `on_unsent`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from pipeline_runtime.runtime import Backoff

log = logging.getLogger(__name__)

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 1_048_576

# Whole-request errors whose cause may be one entry: find it by sending the entries one by one.
ISOLATE = frozenset(
    {
        "BatchRequestTooLong",
        "BatchEntryIdsNotDistinct",
        "EmptyBatchRequest",
        "InvalidAttributeName",
        "InvalidAttributeValue",
        "InvalidBatchEntryId",
        "InvalidMessageContents",
        "InvalidParameterValue",
        "MissingParameter",
        "TooManyEntriesInBatchRequest",
    }
)
THROTTLING = frozenset(
    {"Throttling", "ThrottlingException", "RequestThrottled", "RequestLimitExceeded", "SlowDown"}
)


def error_code(error: ClientError) -> str:
    """`AWS.SimpleQueueService.BatchRequestTooLong` and `BatchRequestTooLong` alike, and
    `KMS.ThrottlingException` as `ThrottlingException`."""
    return str(error.response.get("Error", {}).get("Code", "")).rsplit(".", 1)[-1]


@dataclass
class Entry:
    """One message to send; `lines` is how many log lines its body carries (for the counts)."""

    body: str
    lines: int = 1
    attributes: dict | None = None
    delay_seconds: int | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.body.encode()) + sum(
            len(name.encode())
            + len(value.get("DataType", "").encode())
            + len(str(value.get("StringValue", "")).encode())
            + len(value.get("BinaryValue", b""))
            for name, value in (self.attributes or {}).items()
        )

    def request(self, id_: str) -> dict:
        entry = {"Id": id_, "MessageBody": self.body}
        if self.attributes:
            entry["MessageAttributes"] = self.attributes
        if self.delay_seconds is not None:
            entry["DelaySeconds"] = self.delay_seconds
        return entry


def batches(entries: Iterable[Entry], max_bytes: int = MAX_REQUEST_BYTES) -> Iterator[list[Entry]]:
    """Requests of at most 10 entries and at most `max_bytes`, in order."""
    batch: list[Entry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) == MAX_ENTRIES or size + entry.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


def retryable_failures(failed: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """Split a response's `Failed` entries into (send again, refuse): SenderFault decides."""
    again, refuse = [], []
    for failure in failed:
        (refuse if failure.get("SenderFault") else again).append(failure)
    return again, refuse


class BatchSender:
    """Delivers requests of entries to one queue; see the module docstring for the rules.

    `calls` counts SendMessageBatch requests made (every attempt), for the benchmark and metrics.
    """

    def __init__(
        self,
        sqs,
        queue_url: str,
        *,
        on_refused: Callable[[Entry, str, str], None],
        on_unsent: Callable[[list[Entry]], None] | None = None,
        on_sent: Callable[[list[Entry]], None] | None = None,
        on_throttled: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
    ):
        self._sqs = sqs
        self._queue_url = queue_url
        self._on_refused = on_refused
        self._on_unsent = on_unsent or (lambda entries: None)
        self._on_sent = on_sent or (lambda entries: None)
        self._on_throttled = on_throttled or (lambda: None)
        self._backoff = backoff or Backoff()
        self._deadline: float | None = None
        self._wake = threading.Event()
        self.calls = 0
        self.last_attempt = time.monotonic()

    def give_up_at(self, deadline: float) -> None:
        """After a stop: retry only until `deadline` (time.monotonic()), then report unsent."""
        self._deadline = deadline
        self._wake.set()

    def send(self, batch: list[Entry]) -> None:
        """Send one request's entries until each is stored, refused, or (after a stop) unsent."""
        pending = batch
        attempt = 0
        while pending:
            if attempt and self._deadline is not None and time.monotonic() >= self._deadline:
                self._on_unsent(pending)
                return
            self.calls += 1
            self.last_attempt = time.monotonic()
            try:
                response = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[entry.request(str(i)) for i, entry in enumerate(pending)],
                )
            except ClientError as error:
                code = error_code(error)
                if code in ISOLATE:
                    self._isolate(pending, code, str(error))
                    return
                self._wait(attempt, throttled=code in THROTTLING, reason=code)
                attempt += 1
                continue
            except BotoCoreError as error:  # connection refused, timeout, endpoint down
                self._wait(attempt, throttled=False, reason=type(error).__name__)
                attempt += 1
                continue
            failed = response.get("Failed", [])
            by_id = {str(i): entry for i, entry in enumerate(pending)}
            failed_ids = {f["Id"] for f in failed}
            self._on_sent([e for i, e in by_id.items() if i not in failed_ids])
            again, refuse = retryable_failures(failed)
            for failure in refuse:
                self._on_refused(
                    by_id[failure["Id"]], failure.get("Code", ""), failure.get("Message", "")
                )
            pending = [by_id[f["Id"]] for f in again]
            if pending:
                codes = {f.get("Code", "") for f in again}
                self._wait(attempt, throttled=bool(codes & THROTTLING), reason=",".join(codes))
                attempt += 1

    def _isolate(self, pending: list[Entry], code: str, message: str) -> None:
        if len(pending) == 1:
            self._on_refused(pending[0], code, message)
            return
        log.warning(
            "request refused whole; sending it in halves to find the entry that caused it",
            extra={"fields": {"code": code, "entries": len(pending)}},
        )
        middle = len(pending) // 2
        self.send(pending[:middle])
        self.send(pending[middle:])

    def _wait(self, attempt: int, *, throttled: bool, reason: str) -> None:
        if throttled:
            self._on_throttled()
        delay = self._backoff.delay(attempt)
        if self._deadline is not None:
            delay = min(delay, max(0.0, self._deadline - time.monotonic()))
        log.warning(
            "send failed; retrying after a backoff",
            extra={
                "fields": {
                    "reason": reason[:200],
                    "attempt": attempt + 1,
                    "delay_s": round(delay, 3),
                }
            },
        )
        self._wake.wait(delay)
