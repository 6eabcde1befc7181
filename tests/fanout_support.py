"""Helpers for the fan-out tests: order events, and the local Lambda runtime from labs."""

from __future__ import annotations

import json
import uuid

from labs.lambda_local import (  # noqa: F401 (re-exported for the tests)
    LAYER,
    LambdaContext,
    deliver,
    load_handler,
    sqs_event,
    sqs_record,
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
