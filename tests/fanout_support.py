"""Helpers for the fan-out tests: load a handler from lambda/, build SQS events, make events.

`lambda` is a Python keyword, so handlers live in `lambda/<function>/<function>.py` and are
imported by putting that folder (and the shared `order_events` layer) on the path, which is what
the Lambda runtime does with the function's code and layers.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

LAMBDA = Path(__file__).resolve().parents[1] / "lambda"
LAYER = LAMBDA / "order_events_layer" / "python"


def load_handler(function: str):
    """Import `lambda/<function>/<function>.py` as the runtime would (layer on the path)."""
    for folder in (LAYER, LAMBDA / function):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    return importlib.import_module(function)


@dataclass
class LambdaContext:
    """The fields of the Lambda runtime's context object that Powertools reads."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def sqs_record(
    body: str, *, message_id: str | None = None, group: str | None = None, receive_count: int = 1
) -> dict:
    """One record of an SQS event as Lambda's event source mapping delivers it."""
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
        "receiptHandle": f"handle-{uuid.uuid4().hex}",
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


def sqs_event_from_messages(messages: list[dict]) -> dict:
    """An SQS event built from messages really received from (moto's) SQS."""
    return sqs_event(
        *[
            {
                **sqs_record(m["Body"], message_id=m["MessageId"]),
                "receiptHandle": m["ReceiptHandle"],
            }
            for m in messages
        ]
    )


def order_event(
    order_id: str,
    event_type: str = "OrderPlaced",
    *,
    shippable: bool = True,
    items: list[dict] | None = None,
) -> dict:
    items = items or [{"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 1500}]
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "orderId": order_id,
        "customerId": "customer-1",
        "items": items,
        "totalCents": sum(i["quantity"] * i["unitPriceCents"] for i in items),
        "shippable": shippable,
        "occurredAt": "2026-11-24T12:00:00+00:00",
    }


def new_order_id() -> str:
    return f"order-{uuid.uuid4().hex[:12]}"


def failed_ids(response: dict) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def dumps(value) -> str:
    return json.dumps(value)
