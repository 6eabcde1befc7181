"""The order event contract shared by the publisher and every consumer of the fan-out.

Shipped as a Lambda layer (this folder's `python/` is what Lambda puts on the path), so the
inventory, payment, shipping and audit consumers parse events the same way. The SNS message
attributes that subscription filter policies match on are derived here too, so a publisher and
the filters cannot disagree on their names.

Whatever the body, parsing gives an OrderEvent or InvalidEvent, never another exception (the JSON
parser's RecursionError and ValueError included), and what it accepts can be stored as it is:
text is valid Unicode without NUL, ids and timestamps are bounded strings. Property tests hold
this.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime

EVENT_TYPES = ("OrderPlaced", "OrderCancelled")
ORDER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
SKU = re.compile(r"[A-Z0-9-]{1,32}")


class InvalidEvent(ValueError):
    """The message is not an order event; retrying will not help."""


def _loads(text: str, what: str):
    """json.loads whose every failure is InvalidEvent (deep nesting raises RecursionError, an
    integer over Python's 4300-digit limit raises ValueError)."""
    try:
        return json.loads(text)
    except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
        raise InvalidEvent(f"body is not {what}: {str(error)[:120]}") from None
    except RecursionError:
        raise InvalidEvent(f"body is not {what}: nested too deep") from None


def _text(value, low: int, high: int) -> bool:
    """A string of low..high characters that DynamoDB and any UTF-8 store can hold as it is."""
    if not isinstance(value, str) or not low <= len(value) <= high or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from the JSON escape \ud800
        return False
    return True


def _shown(value) -> str:
    """`value` for an error message: short strings as they are, anything else by its type."""
    if isinstance(value, str) and len(value) <= 40:
        return repr(value)
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class OrderEvent:
    event_id: str
    event_type: str
    order_id: str
    customer_id: str
    items: tuple
    total_cents: int
    shippable: bool
    occurred_at: str

    def to_dict(self) -> dict:
        """The event as published: camelCase JSON."""
        data = asdict(self)
        return {
            "eventId": data["event_id"],
            "eventType": data["event_type"],
            "orderId": data["order_id"],
            "customerId": data["customer_id"],
            "items": list(data["items"]),
            "totalCents": data["total_cents"],
            "shippable": data["shippable"],
            "occurredAt": data["occurred_at"],
        }


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_event(body: str | dict) -> OrderEvent:
    """The event in `body`, or InvalidEvent naming the rule it breaks."""
    if isinstance(body, str):
        body = _loads(body, "JSON")
    if not isinstance(body, dict):
        raise InvalidEvent(f"body is a JSON {type(body).__name__}, not an object")
    fields = (
        "eventId",
        "eventType",
        "orderId",
        "customerId",
        "items",
        "totalCents",
        "shippable",
        "occurredAt",
    )
    missing = [f for f in fields if f not in body]
    if missing:
        raise InvalidEvent(f"missing {', '.join(missing)}")
    if not isinstance(body["eventType"], str) or body["eventType"] not in EVENT_TYPES:
        raise InvalidEvent(
            f"eventType {_shown(body['eventType'])} is not one of {', '.join(EVENT_TYPES)}"
        )
    if not isinstance(body["orderId"], str) or not ORDER_ID.fullmatch(body["orderId"]):
        raise InvalidEvent("orderId must be 8-64 letters, digits, '_' or '-'")
    if not _text(body["eventId"], 1, 128):
        raise InvalidEvent("eventId must be a string of 1-128 characters, without NUL")
    if not _text(body["customerId"], 1, 64):
        raise InvalidEvent("customerId must be a string of 1-64 characters, without NUL")
    items = body["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise InvalidEvent("items must be a list of 1-100 items")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"sku", "quantity", "unitPriceCents"}:
            raise InvalidEvent(f"items[{index}] must have exactly sku, quantity, unitPriceCents")
        if not isinstance(item["sku"], str) or not SKU.fullmatch(item["sku"]):
            raise InvalidEvent(f"items[{index}].sku must be 1-32 of A-Z, 0-9, '-'")
        if not _whole(item["quantity"], 1, 1000) or not _whole(item["unitPriceCents"], 0, 10**7):
            raise InvalidEvent(f"items[{index}] quantity must be 1-1000 and unitPriceCents 0-10^7")
    total = sum(i["quantity"] * i["unitPriceCents"] for i in items)
    if not _whole(body["totalCents"], total, total):
        raise InvalidEvent(
            f"totalCents {_shown(body['totalCents'])} is not the items' total {total}"
        )
    if not isinstance(body["shippable"], bool):
        raise InvalidEvent("shippable must be true or false")
    occurred_at = body["occurredAt"]
    try:
        if not _text(occurred_at, 1, 64):
            raise ValueError
        datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent("occurredAt must be an ISO 8601 timestamp string") from None
    return OrderEvent(
        event_id=body["eventId"],
        event_type=body["eventType"],
        order_id=body["orderId"],
        customer_id=body["customerId"],
        items=tuple(items),
        total_cents=total,
        shippable=body["shippable"],
        occurred_at=body["occurredAt"],
    )


def message_attributes(event: OrderEvent) -> dict:
    """SNS message attributes for `event`: what the subscription filter policies match on."""
    return {
        "eventType": {"DataType": "String", "StringValue": event.event_type},
        "amountCents": {"DataType": "Number", "StringValue": str(event.total_cents)},
        "shippable": {"DataType": "String", "StringValue": "true" if event.shippable else "false"},
    }


def from_sns_envelope(body: str) -> tuple[OrderEvent, dict]:
    """The event inside an SNS notification (a subscription without raw delivery), and the
    envelope (SNS message id, topic, timestamp) the audit trail keeps."""
    envelope = _loads(body, "an SNS notification")
    if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
        raise InvalidEvent("body is not an SNS notification (no Type: Notification)")
    if not isinstance(envelope.get("Message"), str):
        raise InvalidEvent("the SNS notification's Message is not a string")
    for field in ("MessageId", "TopicArn", "Timestamp"):
        if field in envelope and not _text(envelope[field], 0, 256):
            raise InvalidEvent(f"the SNS notification's {field} is not a string of 0-256")
    return parse_event(envelope["Message"]), envelope
