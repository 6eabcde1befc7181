"""The fan-out consumers, driven by SQS event JSON against DynamoDB on moto's server.

Each handler returns `batchItemFailures`: a bad record fails alone, the rest of its batch is done.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

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


@pytest.fixture(scope="module")
def inventory(lambda_environment):
    return load_handler("inventory_consumer")


@pytest.fixture(scope="module")
def payment(lambda_environment):
    return load_handler("payment_consumer")


@pytest.fixture(scope="module")
def shipping(lambda_environment):
    return load_handler("shipping_consumer")


@pytest.fixture(scope="module")
def audit(lambda_environment):
    return load_handler("audit_consumer")


def invoke(module, *bodies, function_name=None):
    records = [sqs_record(b if isinstance(b, str) else json.dumps(b)) for b in bodies]
    context = LambdaContext(function_name=function_name or module.__name__)
    return records, module.handler(sqs_event(*records), context)


def item(dynamodb, env, variable, key):
    return dynamodb.Table(env[variable]).get_item(Key=key).get("Item")


def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:8].upper()}"


def test_inventory_reserves_stock_for_a_placed_order(
    inventory, stock, dynamodb, lambda_environment
):
    book = sku()
    stock(book, 5)
    order = new_order_id()
    _, response = invoke(
        inventory, order_event(order, items=[{"sku": book, "quantity": 2, "unitPriceCents": 100}])
    )
    assert response == {"batchItemFailures": []}
    row = item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"SKU#{book}"})
    assert (row["available"], row["reserved"]) == (3, 2)
    reservation = item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"ORDER#{order}"})
    assert reservation["status"] == "reserved"


def test_the_same_event_delivered_twice_reserves_once(
    inventory, stock, dynamodb, lambda_environment
):
    book = sku()
    stock(book, 5)
    event = order_event(new_order_id(), items=[{"sku": book, "quantity": 2, "unitPriceCents": 1}])
    invoke(inventory, event)
    invoke(inventory, event)  # SQS redelivery: same orderId and eventType
    row = item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"SKU#{book}"})
    assert (row["available"], row["reserved"]) == (3, 2)


def test_the_same_order_published_twice_with_new_event_ids_still_reserves_once(
    inventory, stock, dynamodb, lambda_environment
):
    book = sku()
    stock(book, 5)
    order = new_order_id()
    items = [{"sku": book, "quantity": 2, "unitPriceCents": 1}]
    invoke(inventory, order_event(order, items=items))
    invoke(inventory, order_event(order, items=items))  # a publisher retry: new eventId
    row = item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"SKU#{book}"})
    assert row["available"] == 3


def test_short_stock_backorders_the_order_and_takes_nothing(
    inventory, stock, dynamodb, lambda_environment
):
    book, mug = sku(), sku()
    stock(book, 5)
    stock(mug, 1)
    order = new_order_id()
    _, response = invoke(
        inventory,
        order_event(
            order,
            items=[
                {"sku": book, "quantity": 2, "unitPriceCents": 1},
                {"sku": mug, "quantity": 3, "unitPriceCents": 1},
            ],
        ),
    )
    assert response == {"batchItemFailures": []}  # a business outcome, not a failure
    assert (
        item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"SKU#{book}"})["available"]
        == 5
    )
    assert (
        item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"ORDER#{order}"})["status"]
        == "backordered"
    )


def test_cancel_releases_the_reservation(inventory, stock, dynamodb, lambda_environment):
    book = sku()
    stock(book, 5)
    order = new_order_id()
    items = [{"sku": book, "quantity": 2, "unitPriceCents": 1}]
    invoke(inventory, order_event(order, items=items))
    invoke(inventory, order_event(order, "OrderCancelled", items=items))
    row = item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"SKU#{book}"})
    assert (row["available"], row["reserved"]) == (5, 0)


def test_a_cancel_that_overtakes_its_placement_leaves_nothing_reserved(
    inventory, stock, dynamodb, lambda_environment
):
    book = sku()
    stock(book, 5)
    order = new_order_id()
    items = [{"sku": book, "quantity": 2, "unitPriceCents": 1}]
    invoke(inventory, order_event(order, "OrderCancelled", items=items))
    invoke(inventory, order_event(order, items=items))
    assert (
        item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"SKU#{book}"})["available"]
        == 5
    )
    assert (
        item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"ORDER#{order}"})["status"]
        == "cancelled"
    )


BAD_BODIES = [
    "not json",
    json.dumps([1, 2]),
    json.dumps({"eventType": "OrderPlaced"}),
    json.dumps({**order_event("order-bad-total"), "totalCents": 1}),
    json.dumps({**order_event("order-bad-type"), "eventType": "OrderShipped"}),
]


@pytest.mark.parametrize("consumer", ["inventory", "payment", "shipping", "audit"])
def test_invalid_events_fail_alone_and_the_rest_of_the_batch_succeeds(consumer, request, stock):
    module = request.getfixturevalue(consumer)
    good = order_event(
        new_order_id(), items=[{"sku": "BOOK-1", "quantity": 1, "unitPriceCents": 10}]
    )
    stock("BOOK-1", 10_000)
    if consumer == "audit":

        def wrap(body: str) -> str:
            return json.dumps(
                {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "Message": body,
                    "Timestamp": "2026-11-24T12:00:00Z",
                }
            )

        bodies = [wrap(json.dumps(good)), *[wrap(b) for b in BAD_BODIES], json.dumps(good)]
    else:
        bodies = [json.dumps(good), *BAD_BODIES]
    records, response = invoke(module, *bodies)
    expected_failures = [r["messageId"] for r in records[1:]]
    assert failed_ids(response) == expected_failures


def test_payment_records_one_charge_per_order(payment, dynamodb, lambda_environment):
    order = new_order_id()
    event = order_event(order)
    invoke(payment, event)
    invoke(payment, event)
    invoke(payment, {**event, "eventId": str(uuid.uuid4())})
    row = item(dynamodb, lambda_environment, "PAYMENTS_TABLE", {"orderId": order})
    assert row["status"] == "charge_requested" and row["amountCents"] == event["totalCents"]


def test_payment_turns_a_cancelled_charge_into_a_refund_request(
    payment, dynamodb, lambda_environment
):
    order = new_order_id()
    invoke(payment, order_event(order))
    invoke(payment, order_event(order, "OrderCancelled"))
    assert (
        item(dynamodb, lambda_environment, "PAYMENTS_TABLE", {"orderId": order})["status"]
        == "refund_requested"
    )


def test_a_cancel_that_overtakes_its_placement_is_never_charged(
    payment, dynamodb, lambda_environment
):
    order = new_order_id()
    invoke(payment, order_event(order, "OrderCancelled"))
    invoke(payment, order_event(order))
    assert (
        item(dynamodb, lambda_environment, "PAYMENTS_TABLE", {"orderId": order})["status"]
        == "cancelled"
    )


def test_shipping_creates_one_shipment_and_cancels_it_with_the_order(
    shipping, dynamodb, lambda_environment
):
    order = new_order_id()
    invoke(shipping, order_event(order))
    invoke(shipping, order_event(order))
    assert (
        item(dynamodb, lambda_environment, "SHIPMENTS_TABLE", {"orderId": order})["status"]
        == "pending"
    )
    invoke(shipping, order_event(order, "OrderCancelled"))
    assert (
        item(dynamodb, lambda_environment, "SHIPMENTS_TABLE", {"orderId": order})["status"]
        == "cancelled"
    )


def test_shipping_refuses_an_unshippable_order_the_filter_should_have_dropped(shipping):
    records, response = invoke(shipping, order_event(new_order_id(), shippable=False))
    assert failed_ids(response) == [records[0]["messageId"]]


def test_audit_keeps_the_event_and_its_sns_envelope_once(audit, dynamodb, lambda_environment):
    order = new_order_id()
    event = order_event(order)
    envelope = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:us-east-1:1:orders",
        "Message": json.dumps(event),
        "Timestamp": "2026-11-24T12:00:01Z",
    }
    invoke(audit, json.dumps(envelope))
    invoke(audit, json.dumps(envelope))
    rows = dynamodb.Table(lambda_environment["EVENTS_TABLE"]).query(
        KeyConditionExpression="orderId = :o", ExpressionAttributeValues={":o": order}
    )["Items"]
    assert len(rows) == 1
    assert rows[0]["snsMessageId"] == "sns-1" and json.loads(rows[0]["event"]) == event


def test_consumers_sharing_the_idempotency_table_keep_separate_records_for_one_order(
    inventory, payment, shipping, stock, dynamodb, lambda_environment
):
    book = sku()
    stock(book, 5)
    order = new_order_id()
    event = order_event(order, items=[{"sku": book, "quantity": 1, "unitPriceCents": 700}])
    for module in (payment, shipping, inventory):  # inventory last: the others must not mask it
        _, response = invoke(module, event, function_name="renamed-by-a-replacement")
        assert response == {"batchItemFailures": []}
    assert (
        item(dynamodb, lambda_environment, "INVENTORY_TABLE", {"pk": f"ORDER#{order}"})["status"]
        == "reserved"
    )
    records = dynamodb.Table(lambda_environment["IDEMPOTENCY_TABLE"]).scan()["Items"]
    mine = [r for r in records if order in r.get("data", "")]
    assert sorted(r["id"].split("#")[0] for r in mine) == ["inventory", "payment", "shipping"]
    assert {r["status"] for r in mine} == {"COMPLETED"}


def test_runtime_code_knows_nothing_of_the_cdk():
    lambda_dir = Path(__file__).resolve().parents[2] / "lambda"
    offenders = [
        str(path.relative_to(lambda_dir))
        for path in lambda_dir.rglob("*.py")
        if re.search(r"^\s*(import|from)\s+(aws_cdk|constructs)\b", path.read_text(), re.M)
    ]
    assert offenders == []
