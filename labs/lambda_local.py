"""Run this project's Lambda handlers locally the way the Lambda runtime and an SQS event source
mapping would: same import path, same event shape, same delete-or-retry outcome.

`lambda` is a Python keyword, so handlers live in `lambda/<function>/<function>.py`; the runtime
puts the function folder and each layer's `python/` folder on the path, and so does `load_handler`.
`deliver` plays the event source mapping against a real (moto) queue: invoke with a batch,
delete what succeeded, make what failed visible again until SQS's redrive policy moves it.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

LAMBDA = Path(__file__).resolve().parent.parent / "lambda"
LAYER = LAMBDA / "order_events_layer" / "python"


def load_handler(function: str):
    """Import `lambda/<function>/<function>.py` with the order_events layer on the path."""
    for folder in (LAYER, LAMBDA / function):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    return importlib.import_module(function)


@dataclass
class LambdaContext:
    """The fields of the Lambda runtime's context object that Powertools reads."""

    function_name: str = "local-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def sqs_record(
    body: str,
    *,
    message_id: str | None = None,
    group: str | None = None,
    receive_count: int = 1,
    receipt_handle: str | None = None,
) -> dict:
    """One record of an SQS event as the event source mapping delivers it."""
    attributes = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": "1700000000000",
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1700000000001",
    }
    if group:
        attributes.update(
            {
                "MessageGroupId": group,
                "MessageDeduplicationId": uuid.uuid4().hex,
                "SequenceNumber": "1",
            }
        )
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or f"handle-{uuid.uuid4().hex}",
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict) -> dict:
    return {"Records": list(records)}


def deliver(sqs, queue_url: str, module, *, rounds: int = 10) -> list[str]:
    """Feed a queue to a handler as an event source mapping does; return the failed message ids
    in the order they failed (a message failing twice appears twice)."""
    failures: list[str] = []
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            break
        event = sqs_event(
            *[
                sqs_record(m["Body"], message_id=m["MessageId"], receipt_handle=m["ReceiptHandle"])
                for m in messages
            ]
        )
        response = module.handler(event, LambdaContext(function_name=module.__name__))
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        failures += sorted(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        retry = [m for m in messages if m["MessageId"] in failed]
        if retry:  # the real mapping waits out the visibility timeout; locally, retry at once
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(retry)
                ],
            )
    return failures
