"""Redrive: move dead letters back to the queue they came from, once the fault is fixed.

A dead-letter queue is a parking lot, not a grave: after the bug that poisoned the messages is
fixed, they must go back through the normal path. SQS has a server-side move task
(StartMessageMoveTask); where the endpoint lacks it (moto, some local emulators) or `--manual`
is given, this moves the messages itself:

  receive a batch from the DLQ -> send it to the destination (same body, message attributes,
  and for FIFO the same message group id) -> delete from the DLQ only the ones that were sent.

A crash between send and delete re-sends a message, never loses one: redrive is at-least-once,
like SQS itself, and the consumers are idempotent. The destination defaults to the DLQ's one
source queue (ListDeadLetterSourceQueues).

    python tools/redrive.py --dlq https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq
    python tools/redrive.py --dlq URL --to URL --max 100 --manual
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

# Error codes meaning "this endpoint has no server-side move task", not "you may not".
NOT_IMPLEMENTED = {"500", "501", "InvalidAction", "UnsupportedOperation", "NotImplemented"}


@dataclass
class RedriveResult:
    moved: int
    method: str  # "sqs-move-task" or "manual"
    task_handle: str | None = None


def source_of(sqs, dlq_url: str) -> str:
    """The one queue whose redrive policy points at `dlq_url`."""
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise SystemExit(
            f"redrive: {dlq_url} is the DLQ of {len(sources)} queues ({', '.join(sources) or 'none'});"
            " name the destination with --to"
        )
    return sources[0]


def move_messages(
    sqs,
    dlq_url: str,
    destination_url: str,
    max_messages: int | None = None,
    log=print,
    wait_seconds: int = 1,
) -> int:
    """Move messages one batch at a time; delete each only after its send succeeded."""
    fifo = destination_url.endswith(".fifo")
    moved = 0
    while max_messages is None or moved < max_messages:
        batch_size = 10 if max_messages is None else min(10, max_messages - moved)
        received = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
        ).get("Messages", [])
        if not received:
            break
        entries = []
        for index, message in enumerate(received):
            entry = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            if fifo:
                attributes = message.get("Attributes", {})
                entry["MessageGroupId"] = attributes.get("MessageGroupId", "redrive")
                # A fresh id: the original may still be inside the 5-minute deduplication window.
                entry["MessageDeduplicationId"] = uuid.uuid4().hex
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
        for failure in sent.get("Failed", []):
            log(
                f"redrive: not moved (stays in the DLQ): {failure.get('Code')}: {failure.get('Message')}"
            )
        done = [received[int(ok["Id"])] for ok in sent.get("Successful", [])]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        moved += len(done)
        log(f"redrive: moved {moved}")
    return moved


def redrive(
    sqs,
    dlq_url: str,
    destination_url: str | None = None,
    *,
    max_messages: int | None = None,
    manual: bool = False,
    max_per_second: int | None = None,
    log=print,
    wait_seconds: int = 1,
) -> RedriveResult:
    """Move dead letters from `dlq_url` back to `destination_url` (default: the DLQ's source)."""
    destination_url = destination_url or source_of(sqs, dlq_url)
    if not manual and max_messages is None:
        arn = lambda url: sqs.get_queue_attributes(  # noqa: E731
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        task = {"SourceArn": arn(dlq_url), "DestinationArn": arn(destination_url)}
        if max_per_second:
            task["MaxNumberOfMessagesPerSecond"] = max_per_second
        try:
            handle = sqs.start_message_move_task(**task)["TaskHandle"]
        except ClientError as error:
            if error.response["Error"]["Code"] not in NOT_IMPLEMENTED:
                raise
            log("redrive: this endpoint has no StartMessageMoveTask; moving messages directly")
        else:
            log(f"redrive: SQS move task started ({handle}); it runs server-side")
            return RedriveResult(moved=0, method="sqs-move-task", task_handle=handle)
    moved = move_messages(
        sqs, dlq_url, destination_url, max_messages, log=log, wait_seconds=wait_seconds
    )
    return RedriveResult(moved=moved, method="manual")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dlq", required=True, help="URL of the dead-letter queue to empty")
    parser.add_argument("--to", help="destination queue URL (default: the DLQ's source queue)")
    parser.add_argument("--max", type=int, help="move at most this many (implies --manual)")
    parser.add_argument("--manual", action="store_true", help="move messages here, not via SQS")
    parser.add_argument("--rate", type=int, help="SQS move task: messages per second at most")
    options = parser.parse_args(argv)
    if options.max is not None and options.max < 1:
        parser.error(f"--max: {options.max} must be 1 or more")
    started = time.monotonic()
    result = redrive(
        boto3.client("sqs"),
        options.dlq,
        options.to,
        max_messages=options.max,
        manual=options.manual,
        max_per_second=options.rate,
    )
    if result.method == "manual":
        print(f"redrive: {result.moved} messages moved in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
