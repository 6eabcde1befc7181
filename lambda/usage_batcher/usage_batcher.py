"""Usage batcher: a scheduled worker that drains the usage queue and writes one batch per run.

Seed 001 patterns 5 (fan-in) and 7 (batch processing via scheduled workers): many producers send
small usage events to one queue; instead of one invocation per message, a schedule wakes this
function every few minutes, and it

  drains   - receives up to MAX_MESSAGES (10 per call) while its time budget lasts;
  checks   - each event against the usage contract; a bad one is left undeleted, so SQS
             redelivers it on a later run and, after maxReceiveCount, moves it to the DLQ.
             "Bad" is whatever checking it raises: no body can fail the run, and what passes
             is safe to sum and to write (bounded strings, finite quantities);
  writes   - ONE gzip'd JSON-lines object to S3 for the whole run (each event's contract
             fields and its SQS message id) plus a per-customer, per-meter summary line;
  deletes  - the written messages, 10 per DeleteMessageBatch, only after the object is stored.

At-least-once, like SQS: a crash between the write and the deletes puts the same events in a
later batch too, so readers deduplicate on eventId (every line carries it). Fewer invocations
and one S3 object per run instead of thousands is the point: cost and I/O efficiency.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
from aws_lambda_powertools import Logger

METERS = ("api-calls", "storage-gb-hours", "messages")
FIELDS = ("eventId", "customerId", "meter", "quantity", "producer")
MAX_QUANTITY = 1e15  # one event's; a run's sum of at most MAX_MESSAGES of them stays finite
SAFETY_MARGIN_MS = 5_000  # stop receiving while there is still time to write and delete


@dataclass(frozen=True)
class Settings:
    queue_url: str
    bucket: str
    max_messages: int


def settings() -> Settings:
    return Settings(
        queue_url=os.environ["QUEUE_URL"],
        bucket=os.environ["BATCH_BUCKET"],
        max_messages=int(os.environ.get("MAX_MESSAGES", "5000")),
    )


SETTINGS = settings()
logger = Logger()
sqs = boto3.client("sqs")
s3 = boto3.client("s3")


class InvalidUsage(ValueError):
    """Not a usage event; it will not become one on a later run."""


def _text(value) -> bool:
    """A string of 1-256 characters that encodes as UTF-8 (no lone surrogate) without NUL."""
    if not isinstance(value, str) or not 1 <= len(value) <= 256 or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_usage(body: str) -> dict:
    """The usage event in `body` (its contract fields only), or InvalidUsage."""
    try:
        event = json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidUsage(f"not JSON: {error.msg}") from None
    except (ValueError, TypeError, RecursionError) as error:  # huge integers, deep nesting
        raise InvalidUsage(f"not JSON this batcher reads: {type(error).__name__}") from None
    if not isinstance(event, dict):
        raise InvalidUsage("not a JSON object")
    for field in FIELDS:
        if field not in event:
            raise InvalidUsage(f"missing {field}")
    for field in ("eventId", "customerId", "producer"):
        if not _text(event[field]):
            raise InvalidUsage(f"{field} must be a string of 1-256 characters, without NUL")
    if not isinstance(event["meter"], str) or event["meter"] not in METERS:
        raise InvalidUsage(f"meter is not one of {', '.join(METERS)}")
    quantity = event["quantity"]
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        raise InvalidUsage("quantity must be a number")
    # Compared, never converted (float() of an integer past 1e308 raises OverflowError); NaN
    # and infinities fail the comparison too.
    if not 0 <= quantity <= MAX_QUANTITY:
        raise InvalidUsage(f"quantity must be from 0 to {MAX_QUANTITY:g}")
    return {field: event[field] for field in FIELDS}


def drain(context) -> tuple[list[tuple[dict, dict]], int]:
    """Receive until the cap, an empty queue, or the time budget; return (valid, refused)."""
    valid: list[tuple[dict, dict]] = []
    refused = 0
    while len(valid) + refused < SETTINGS.max_messages:
        if context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS:
            break
        messages = sqs.receive_message(
            QueueUrl=SETTINGS.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                valid.append((parse_usage(message["Body"]), message))
            except Exception as error:  # InvalidUsage, or whatever else a body can cause
                refused += 1
                logger.error(
                    "usage event refused; left for the redrive policy",
                    message_id=message["MessageId"],
                    reason=str(error)[:300],
                    error_type=type(error).__name__,
                    receive_count=message.get("Attributes", {}).get("ApproximateReceiveCount"),
                )
    return valid, refused


@logger.inject_lambda_context
def handler(event, context):
    started = datetime.now(UTC)
    valid, refused = drain(context)
    if not valid:
        logger.info("nothing to batch", refused=refused)
        return {"written": 0, "refused": refused}
    totals = Counter()
    lines = []
    for usage, message in valid:
        totals[(usage["customerId"], usage["meter"])] += usage["quantity"]
        lines.append(json.dumps({**usage, "sqsMessageId": message["MessageId"]}))
    summary = [{"customerId": c, "meter": m, "quantity": q} for (c, m), q in sorted(totals.items())]
    lines.append(json.dumps({"summary": summary, "events": len(valid)}))
    # A fresh name per run: Lambda retries an async invocation with the same request id, and a
    # retry must never overwrite a batch whose messages the first attempt already deleted.
    key = (
        f"usage/dt={started:%Y-%m-%d}/hour={started:%H}/"
        f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}.jsonl.gz"
    )
    s3.put_object(
        Bucket=SETTINGS.bucket,
        Key=key,
        ContentType="application/gzip",
        Body=gzip.compress("\n".join(lines).encode(), mtime=0),
    )
    failed = 0
    for start in range(0, len(valid), 10):
        chunk = valid[start : start + 10]
        response = sqs.delete_message_batch(
            QueueUrl=SETTINGS.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, (_, m) in enumerate(chunk)
            ],
        )
        failed += len(response.get("Failed", []))
    logger.info(
        "batch written",
        key=key,
        events=len(valid),
        refused=refused,
        delete_failures=failed,
        producers=len({u["producer"] for u, _ in valid}),
    )
    return {"written": len(valid), "refused": refused, "key": key, "deleteFailures": failed}
