"""One hostile record fails alone: every order consumer and the FIFO ledger, fed bodies that an
attacker or a buggy producer could send straight to their queues, and events that reuse an
idempotency key with other content (a conflict for a person, never a silent duplicate)."""

from __future__ import annotations

import json
import uuid

import pytest
from fanout_support import (
    LambdaContext,
    failed_ids,
    load_handler,
    new_order_id,
    order_event,
    sqs_event,
    sqs_record,
)

pytestmark = pytest.mark.engines


def _with(**fields) -> str:
    """An order event with some fields replaced, written by hand where json.dumps would not."""
    text = json.dumps({**order_event(new_order_id()), **fields})
    return text


HOSTILE = {
    "deep nesting": "[" * 50_000 + "]" * 50_000,
    "huge number": _with(totalCents=0).replace('"totalCents": 0', '"totalCents": ' + "9" * 5_000),
    "lone surrogate": _with(customerId="\ud800"),  # json.dumps writes the escape \ud800
    "NUL": _with(customerId="a\u0000b"),
    "oversize field": _with(eventId="e" * 200_000),
    "unhashable eventType": _with(eventType=["OrderPlaced"]),
    "deep field": _with(occurredAt=json.loads("[" * 900 + "]" * 900)),
    "NaN total": _with(totalCents=0).replace('"totalCents": 0', '"totalCents": NaN'),
    "number as timestamp": _with(occurredAt=20261124),
}


def _envelope(message) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
            "Message": message,
            "Timestamp": "2026-11-24T12:00:00Z",
        }
    )


@pytest.mark.parametrize("consumer", ["inventory", "payment", "shipping", "audit"])
def test_hostile_records_fail_alone_and_the_good_ones_are_done(consumer, lambda_environment, stock):
    module = load_handler(f"{consumer}_consumer")
    stock("BOOK-1", 1_000_000)
    good = [order_event(new_order_id()) for _ in range(2)]
    if consumer == "audit":
        bodies = [_envelope(json.dumps(good[0])), *map(_envelope, HOSTILE.values())]
        bodies += [
            *HOSTILE.values(),
            _envelope({"not": "a string"}),
            _envelope(json.dumps(good[1])),
        ]
    else:
        bodies = [json.dumps(good[0]), *HOSTILE.values(), json.dumps(good[1])]
    records = [sqs_record(body) for body in bodies]
    response = module.handler(sqs_event(*records), LambdaContext(function_name=consumer))
    assert failed_ids(response) == [r["messageId"] for r in records[1:-1]]


LEDGER_HOSTILE = [
    *HOSTILE.values(),
    json.dumps({"eventType": "PaymentAuthorized", "orderId": "order-x-00001", "sequence": 10**40}),
    json.dumps({"eventType": "PaymentAuthorized", "orderId": "", "sequence": 1}),
    json.dumps({"eventType": "PaymentAuthorized", "orderId": "o" * 100_000, "sequence": 1}),
    json.dumps({"eventType": "PaymentAuthorized", "orderId": "order-\ud800-1", "sequence": 1}),
    json.dumps({"eventType": ["PaymentAuthorized"], "orderId": "order-x-00001", "sequence": 1}),
]


def test_hostile_payment_events_fail_alone_in_their_own_groups(lambda_environment):
    ledger = load_handler("payment_ledger")
    good = {"eventType": "PaymentAuthorized", "orderId": new_order_id(), "sequence": 1}
    records = [sqs_record(json.dumps(good), group=good["orderId"])]
    records += [sqs_record(body, group=f"hostile-{n}") for n, body in enumerate(LEDGER_HOSTILE)]
    response = ledger.handler(sqs_event(*records), LambdaContext(function_name="ledger"))
    assert failed_ids(response) == [r["messageId"] for r in records[1:]]


@pytest.mark.parametrize("consumer", ["inventory", "payment", "shipping"])
def test_a_reused_idempotency_key_with_other_content_fails_alone_as_a_conflict(
    consumer, lambda_environment, stock
):
    module = load_handler(f"{consumer}_consumer")
    stock("BOOK-1", 1_000_000)
    placed = order_event(new_order_id())
    retried = {**placed, "eventId": str(uuid.uuid4()), "occurredAt": "2026-11-24T12:00:05+00:00"}
    changed = {
        **placed,
        "items": [{"sku": "BOOK-1", "quantity": 7, "unitPriceCents": 1500}],
        "totalCents": 7 * 1500,
    }
    records = [sqs_record(json.dumps(body)) for body in (placed, retried, changed)]
    response = module.handler(sqs_event(*records), LambdaContext(function_name=consumer))
    assert failed_ids(response) == [records[2]["messageId"]]  # the retry is a duplicate
    [(_, error, _)] = module.processor.exceptions  # what the failed record raised
    assert type(error).__name__ == "ConflictingEvent"


def test_the_audit_trail_refuses_a_recorded_event_key_with_other_content(lambda_environment):
    audit = load_handler("audit_consumer")
    event = order_event(new_order_id())
    changed = {**event, "customerId": "someone-else"}
    records = [sqs_record(_envelope(json.dumps(body))) for body in (event, event, changed)]
    response = audit.handler(sqs_event(*records), LambdaContext(function_name="audit"))
    assert failed_ids(response) == [records[2]["messageId"]]


def test_the_ledger_refuses_an_applied_sequence_number_reused_by_another_event_type(
    lambda_environment,
):
    ledger = load_handler("payment_ledger")
    order = new_order_id()
    authorized = {"eventType": "PaymentAuthorized", "orderId": order, "sequence": 1}
    clash = {"eventType": "PaymentCaptured", "orderId": order, "sequence": 1}
    records = [sqs_record(json.dumps(e), group=f"g-{n}") for n, e in enumerate([authorized])]
    assert ledger.handler(sqs_event(*records), LambdaContext())["batchItemFailures"] == []
    again = [sqs_record(json.dumps(e), group=f"g-{n}") for n, e in enumerate([authorized, clash])]
    response = ledger.handler(sqs_event(*again), LambdaContext())
    assert failed_ids(response) == [again[1]["messageId"]]


def test_a_failed_record_without_the_usual_attributes_still_fails_alone(lambda_environment):
    inventory = load_handler("inventory_consumer")
    odd = sqs_record("not json")
    odd["attributes"] = {}  # logging its receive count must not fail the batch
    good = sqs_record(json.dumps(order_event(new_order_id())))
    response = inventory.handler(sqs_event(odd, good), LambdaContext(function_name="inventory"))
    assert failed_ids(response) == [odd["messageId"]]
