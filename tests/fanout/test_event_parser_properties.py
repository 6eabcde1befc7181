"""Properties of the fan-out parsers: whatever a record body holds, the order event contract
(parse_event, from_sns_envelope) gives an event or InvalidEvent, and the ledger's parse a
payment event or InvalidPaymentEvent (profiles: property_support)."""

from __future__ import annotations

import json

import pytest
from fanout_support import load_handler, order_event
from hypothesis import given
from property_support import any_json, any_text, near, outcome

from labs.lambda_local import LAYER

if str(LAYER) not in __import__("sys").path:
    __import__("sys").path.insert(0, str(LAYER))
from order_events import InvalidEvent, from_sns_envelope, parse_event  # noqa: E402

EVENT = order_event("order-12345678")
ENVELOPE = {
    "Type": "Notification",
    "MessageId": "5b7f4c2e-0000-4000-8000-000000000000",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
    "Message": json.dumps(EVENT),
    "Timestamp": "2026-11-24T12:00:00.000Z",
}
PAYMENT = {"eventType": "PaymentCaptured", "orderId": "order-12345678", "sequence": 2}


def _event_is_sound(body) -> None:
    event = outcome(parse_event, body, InvalidEvent)
    if event is None:
        return
    published = event.to_dict()
    assert parse_event(published) == event  # what a consumer accepts, it can publish again
    json.dumps(published, allow_nan=False).encode("utf-8")  # and store: finite, valid UTF-8


@given(any_text())
def test_any_text_is_an_order_event_or_invalid(body):
    _event_is_sound(body)


@given(any_json())
def test_any_json_is_an_order_event_or_invalid(body):
    _event_is_sound(body)


@given(near(EVENT))
def test_an_order_event_with_one_hostile_value_is_an_event_or_invalid(body):
    _event_is_sound(body)


def _envelope_is_sound(body) -> None:
    parsed = outcome(from_sns_envelope, body, InvalidEvent)
    if parsed is not None:
        _event_is_sound(parsed[0].to_dict())


@given(near(ENVELOPE))
def test_an_sns_notification_with_one_hostile_value_is_an_event_or_invalid(body):
    _envelope_is_sound(body)


@given(near({**ENVELOPE, "Message": EVENT}) | any_text() | any_json())
def test_any_body_as_an_sns_notification_is_an_event_or_invalid(body):
    _envelope_is_sound(body)


@pytest.fixture(scope="module")
def ledger(lambda_environment):
    return load_handler("payment_ledger")


def _payment_is_sound(ledger, body) -> None:
    event = outcome(ledger.parse, body, ledger.InvalidPaymentEvent)
    if event is not None:
        assert event["eventType"] in ledger.TRANSITIONS
        assert 1 <= event["sequence"] <= ledger.MAX_SEQUENCE


@given(body=any_text())
def test_any_text_is_a_payment_event_or_invalid(ledger, body):
    _payment_is_sound(ledger, body)


@given(body=any_json())
def test_any_json_is_a_payment_event_or_invalid(ledger, body):
    _payment_is_sound(ledger, body)


@given(body=near(PAYMENT))
def test_a_payment_event_with_one_hostile_value_is_an_event_or_invalid(ledger, body):
    _payment_is_sound(ledger, body)
