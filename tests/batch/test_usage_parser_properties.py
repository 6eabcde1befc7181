"""Properties of the usage batcher's parser: whatever a body holds, parse_usage gives a usage
event or InvalidUsage, and what it accepts can be summed and written as JSON (profiles:
property_support)."""

from __future__ import annotations

import json
import math
import os

import pytest
from hypothesis import example, given
from property_support import any_json, any_text, near, outcome

from labs.lambda_local import load_handler

USAGE = {
    "eventId": "e-1",
    "producer": "service-0",
    "customerId": "customer-1",
    "meter": "api-calls",
    "quantity": 2.5,
}


@pytest.fixture(scope="module")
def batcher(moto):
    os.environ.update(moto.environment())
    os.environ.setdefault("QUEUE_URL", f"{moto.endpoint_url}/123456789012/usage-properties")
    os.environ.setdefault("BATCH_BUCKET", "batches-properties")
    return load_handler("usage_batcher")


def _usage_is_sound(batcher, body) -> None:
    usage = outcome(batcher.parse_usage, body, batcher.InvalidUsage)
    if usage is None:
        return
    assert set(usage) == set(batcher.FIELDS)
    json.dumps(usage, allow_nan=False).encode("utf-8")  # a line of the batch object
    # the most one run can add up for a customer stays finite
    assert math.isfinite(usage["quantity"] * batcher.SETTINGS.max_messages)


@given(body=any_text())
def test_any_text_is_a_usage_event_or_invalid(batcher, body):
    _usage_is_sound(batcher, body)


@given(body=any_json())
def test_any_json_is_a_usage_event_or_invalid(batcher, body):
    _usage_is_sound(batcher, body)


@given(body=near(USAGE))
# Found by ./run fuzz: an integer quantity past float's range made math.isfinite raise.
@example(body=json.dumps({**USAGE, "quantity": 10**400}))
def test_a_usage_event_with_one_hostile_value_is_an_event_or_invalid(batcher, body):
    _usage_is_sound(batcher, body)
