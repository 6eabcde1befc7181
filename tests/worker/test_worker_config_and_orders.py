"""Configuration fails fast and names the variable; order validation agrees with the API schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from write_buffer_worker.config import ConfigError, load_config
from write_buffer_worker.orders import InvalidOrder, parse_order

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "order.schema.json").read_text()
)
BASE = {"QUEUE_URL": "https://sqs.example/1/orders", "DATABASE_URL": "postgresql:///orders"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "postgresql:///x"}, r"QUEUE_URL: required"),
        ({"QUEUE_URL": "q"}, r"DATABASE_URL / DATABASE_SECRET_ARN / DATABASE_IAM_USER: set"),
        ({**BASE, "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:..."}, r"set exactly one"),
        ({**BASE, "DATABASE_IAM_USER": "order_writer"}, r"set exactly one"),
        (
            {"QUEUE_URL": "q", "DATABASE_IAM_USER": "order_writer", "DATABASE_NAME": "orders"},
            r"DATABASE_HOST / DATABASE_NAME: required with DATABASE_IAM_USER",
        ),
        (
            {
                "QUEUE_URL": "q",
                "DATABASE_IAM_USER": "order_writer",
                "DATABASE_HOST": "db.example",
                "DATABASE_NAME": "orders",
            },
            r"DATABASE_CA_BUNDLE: required with DATABASE_IAM_USER",
        ),
        ({**BASE, "DB_IDLE_SECONDS": "0"}, r"DB_IDLE_SECONDS: 0.0 is outside 0.1..3600.0"),
        ({**BASE, "RECEIVE_LOOPS": "four"}, r"RECEIVE_LOOPS: 'four' is not a whole number"),
        ({**BASE, "RECEIVE_LOOPS": "0"}, r"RECEIVE_LOOPS: 0 is outside 1..64"),
        (
            {**BASE, "MAX_WRITES_PER_SECOND": "fast"},
            r"MAX_WRITES_PER_SECOND: 'fast' is not a number",
        ),
        ({**BASE, "RECEIVE_WAIT_SECONDS": "30"}, r"RECEIVE_WAIT_SECONDS: 30 is outside 0..20"),
        ({**BASE, "VISIBILITY_TIMEOUT_SECONDS": "0"}, r"VISIBILITY_TIMEOUT_SECONDS: 0 is outside"),
        ({**BASE, "DB_CONNECT_TIMEOUT_SECONDS": "1"}, r"DB_CONNECT_TIMEOUT_SECONDS: 1 is outside"),
        (
            {**BASE, "DB_STATEMENT_TIMEOUT_SECONDS": "soon"},
            r"DB_STATEMENT_TIMEOUT_SECONDS: 'soon' is not a number",
        ),
        ({**BASE, "MAX_BATCH_SECONDS": "0"}, r"MAX_BATCH_SECONDS: 0.0 is outside 1.0..43200.0"),
    ],
)
def test_bad_configuration_fails_naming_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def test_defaults_match_the_stacks_contract():
    config = load_config(BASE)
    assert config.receive_loops == 4 and config.db_pool_size == 4
    assert config.max_writes_per_second == 0 and config.visibility_timeout_seconds == 60
    assert config.receive_wait_seconds == 20
    # A stalled database: 5 s to connect, 10 s a statement (20 s the client's deadline), and a
    # batch is extended at most 2 minutes before it is released for another worker.
    assert config.db_connect_timeout_seconds == 5 and config.db_statement_timeout_seconds == 10
    assert config.max_batch_seconds == 120


GOOD = {
    "orderId": "ord-12345678",
    "customerId": "c-1",
    "items": [{"sku": "SKU-1", "quantity": 3, "unitPriceCents": 499}],
}
ITEM = GOOD["items"][0]
CORPUS = [
    GOOD,
    {**GOOD, "items": [ITEM] * 100},
    {**GOOD, "orderId": "x" * 64, "customerId": "c" * 64},
    {**GOOD, "items": [{**ITEM, "quantity": 1000, "unitPriceCents": 0}]},
    {k: v for k, v in GOOD.items() if k != "customerId"},
    {**GOOD, "extra": 1},
    {**GOOD, "orderId": "short"},
    {**GOOD, "orderId": "has space in it"},
    {**GOOD, "orderId": 12345678},
    {**GOOD, "customerId": ""},
    {**GOOD, "customerId": "c" * 65},
    {**GOOD, "items": []},
    {**GOOD, "items": [ITEM] * 101},
    {**GOOD, "items": "SKU-1"},
    {**GOOD, "items": [["SKU-1", 1, 1]]},
    {**GOOD, "items": [{**ITEM, "sku": "sku-lower"}]},
    {**GOOD, "items": [{**ITEM, "sku": ""}]},
    {**GOOD, "items": [{**ITEM, "quantity": 0}]},
    {**GOOD, "items": [{**ITEM, "quantity": 1001}]},
    {**GOOD, "items": [{**ITEM, "quantity": 2.5}]},
    {**GOOD, "items": [{**ITEM, "quantity": True}]},
    {**GOOD, "items": [{**ITEM, "unitPriceCents": -1}]},
    {**GOOD, "items": [{**ITEM, "unitPriceCents": 10_000_001}]},
    {**GOOD, "items": [{**ITEM, "colour": "red"}]},
    {**GOOD, "items": [{"sku": "SKU-1", "quantity": 1}]},
    [GOOD],
    "an order",
    None,
]


@pytest.mark.parametrize("body", CORPUS, ids=lambda body: json.dumps(body)[:60])
def test_worker_validation_agrees_with_the_api_schema(body):
    schema_says_valid = Draft4Validator(SCHEMA).is_valid(body)
    try:
        parse_order(json.dumps(body))
        worker_says_valid = True
    except InvalidOrder:
        worker_says_valid = False
    assert worker_says_valid == schema_says_valid


def test_a_body_that_is_not_json_is_invalid_with_a_reason():
    with pytest.raises(InvalidOrder, match="body is not JSON"):
        parse_order("{not json")


def test_order_total_is_the_sum_of_its_lines():
    order = parse_order(json.dumps({**GOOD, "items": [ITEM, {**ITEM, "quantity": 1}]}))
    assert order.total_cents == 3 * 499 + 499
