"""Parse and validate one order message, agreeing with schemas/order.schema.json.

The API validates bodies with that schema before they reach the queue, but a queue has other
doors (a producer with SendMessage rights, a redrive, a test): the worker checks again, without
a schema library on the instance, and says exactly what is wrong. A test holds the two in step.

Whatever the body, the outcome is an Order or InvalidOrder, never another exception: the JSON
parser's RecursionError (deep nesting) and ValueError (an integer over Python's digit limit) are
InvalidOrder too, and so is text PostgreSQL cannot store (NUL, a lone surrogate), which the API's
schema would let through but no database write could ever accept. Property tests hold this.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

ORDER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
SKU = re.compile(r"[A-Z0-9-]{1,32}")
ORDER_FIELDS = {"orderId", "customerId", "items"}
ITEM_FIELDS = {"sku", "quantity", "unitPriceCents"}


class InvalidOrder(ValueError):
    """The message body is not an order; retrying it will not help."""


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    items: tuple[dict, ...]

    @property
    def total_cents(self) -> int:
        return sum(item["quantity"] * item["unitPriceCents"] for item in self.items)

    @property
    def content_sha256(self) -> str:
        """SHA-256 of the canonical order (sorted keys, no spaces): equal for a retry of the same
        order however its JSON was spaced or ordered, different if any field differs."""
        canonical = json.dumps(
            {"orderId": self.order_id, "customerId": self.customer_id, "items": list(self.items)},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _integer(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _storable(text: str) -> bool:
    """PostgreSQL text holds valid UTF-8 without NUL; a str from JSON may hold neither."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from the escape \ud800
        return False
    return True


def parse_order(body: str) -> Order:
    """The order in `body`, or InvalidOrder saying which rule it breaks."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
        raise InvalidOrder(f"body is not JSON: {str(error)[:200]}") from None
    except RecursionError:
        raise InvalidOrder("body is not JSON this parser reads: nested too deep") from None
    if not isinstance(data, dict):
        raise InvalidOrder(f"body is a JSON {type(data).__name__}, not an object")
    missing = ORDER_FIELDS - data.keys()
    if missing:
        raise InvalidOrder(f"missing {', '.join(sorted(missing))}")
    extra = data.keys() - ORDER_FIELDS
    if extra:
        raise InvalidOrder(f"unknown field {', '.join(sorted(extra))}")
    order_id, customer_id, items = data["orderId"], data["customerId"], data["items"]
    if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
        raise InvalidOrder("orderId must be 8-64 letters, digits, '_' or '-'")
    if not isinstance(customer_id, str) or not 1 <= len(customer_id) <= 64:
        raise InvalidOrder("customerId must be a string of 1-64 characters")
    if not _storable(customer_id):
        raise InvalidOrder(
            "customerId holds NUL or a lone surrogate, which PostgreSQL cannot store"
        )
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise InvalidOrder("items must be a list of 1-100 items")
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            raise InvalidOrder(f"{where} is not an object")
        if item.keys() != ITEM_FIELDS:
            raise InvalidOrder(f"{where} must have exactly sku, quantity, unitPriceCents")
        if not isinstance(item["sku"], str) or not SKU.fullmatch(item["sku"]):
            raise InvalidOrder(f"{where}.sku must be 1-32 of A-Z, 0-9, '-'")
        if not _integer(item["quantity"], 1, 1000):
            raise InvalidOrder(f"{where}.quantity must be a whole number from 1 to 1000")
        if not _integer(item["unitPriceCents"], 0, 10_000_000):
            raise InvalidOrder(f"{where}.unitPriceCents must be a whole number from 0 to 10000000")
    return Order(order_id=order_id, customer_id=customer_id, items=tuple(items))
