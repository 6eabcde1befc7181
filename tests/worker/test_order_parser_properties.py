"""Properties of the worker's order parser: whatever a message body holds, parse_order gives an
Order or InvalidOrder, and what it accepts PostgreSQL stores (profiles: property_support)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from property_support import any_json, any_text, hostile_strings, near, outcome
from write_buffer_worker.orders import InvalidOrder, parse_order
from write_buffer_worker.store import NEW, OrderStore, Received

SCHEMA = Draft4Validator(
    json.loads((Path(__file__).resolve().parents[2] / "schemas" / "order.schema.json").read_text())
)
GOOD = {
    "orderId": "ord-12345678",
    "customerId": "c-1",
    "items": [{"sku": "SKU-1", "quantity": 3, "unitPriceCents": 499}],
}


def _accepted_is_sound(body: str) -> None:
    order = outcome(parse_order, body, InvalidOrder)
    if order is None:
        return
    data = json.loads(body)
    assert SCHEMA.is_valid(data)  # the worker never accepts what the API would refuse
    order.customer_id.encode("utf-8")  # storable: valid UTF-8 ...
    assert "\x00" not in order.customer_id  # ... without NUL
    respaced = json.dumps(dict(reversed(list(data.items()))), indent=1)
    assert parse_order(respaced).content_sha256 == order.content_sha256


@given(any_text())
def test_any_text_is_an_order_or_invalid(body):
    _accepted_is_sound(body)


@given(any_json())
def test_any_json_is_an_order_or_invalid(body):
    _accepted_is_sound(body)


@given(near(GOOD))
def test_an_order_with_one_hostile_value_is_an_order_or_invalid(body):
    _accepted_is_sound(body)


@pytest.fixture(scope="module")
def store(postgres):
    """One database for the module (Hypothesis runs many examples in one test)."""
    database = f"orders_properties_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    store = OrderStore(lambda: postgres.uri.replace("/postgres?", f"/{database}?"), 1)
    store.ensure_schema()
    yield store
    store.close()
    with psycopg.connect(postgres.uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.mark.engines
@settings(max_examples=max(25, settings.default.max_examples // 10))  # each one a real write
@given(customer=hostile_strings, number=st.integers(0, 10**9))
def test_what_the_parser_accepts_postgresql_stores(store, customer, number):
    body = json.dumps(
        {**GOOD, "orderId": f"ord-{number:09d}-{uuid.uuid4().hex[:6]}", "customerId": customer}
    )
    order = outcome(parse_order, body, InvalidOrder)
    if order is not None:
        assert store.write([Received(order, "message-1", None)]) == [NEW]
