"""Inventory consumer: reserve stock when an order is placed, release it when it is cancelled.

Fan-out subscriber (SNS -> inventory queue -> this function). Each record is handled alone
(Powertools batch processing): a bad one goes back to the queue and, after maxReceiveCount, to
the DLQ; the rest of the batch is done. Idempotent twice over: Powertools idempotency keyed on
(orderId, eventType) skips a redelivered event, and every write is conditional, so even an
expired idempotency record cannot reserve the same order twice.

A standard queue does not keep order, so a cancellation can arrive before its placement: it then
records the order as cancelled, and the late placement finds that record and reserves nothing.
Stock that cannot cover an order leaves it backordered, which is a business outcome, not an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from botocore.exceptions import ClientError
from order_consumers import IdempotentPerOrderEvent, batch_processor, conditional
from order_events import OrderEvent, parse_event


@dataclass(frozen=True)
class Settings:
    inventory_table: str
    idempotency_table: str


def settings() -> Settings:
    return Settings(
        inventory_table=os.environ["INVENTORY_TABLE"],
        idempotency_table=os.environ["IDEMPOTENCY_TABLE"],
    )


SETTINGS = settings()
logger = Logger()
processor = batch_processor()
idempotent = IdempotentPerOrderEvent(SETTINGS.idempotency_table, consumer="inventory")
dynamodb = boto3.client("dynamodb")


def _reservation(order_id: str) -> dict:
    return {"pk": {"S": f"ORDER#{order_id}"}}


def _record_first(event: OrderEvent, status: str) -> bool:
    """Record the order's status unless a record exists already; True if this one was first."""
    return conditional(
        lambda: dynamodb.put_item(
            TableName=SETTINGS.inventory_table,
            ConditionExpression="attribute_not_exists(pk)",
            Item={
                **_reservation(event.order_id),
                "status": {"S": status},
                "eventId": {"S": event.event_id},
            },
        )
    )


def reserve(event: OrderEvent) -> str:
    """Take every line's quantity from stock and record the reservation, all or nothing."""
    table = SETTINGS.inventory_table
    items = [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": f"SKU#{line['sku']}"}},
                "UpdateExpression": "SET available = available - :q, reserved = reserved + :q",
                "ConditionExpression": "available >= :q",
                "ExpressionAttributeValues": {":q": {"N": str(line["quantity"])}},
            }
        }
        for line in event.items
    ]
    record = {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)"}
    try:
        dynamodb.transact_write_items(
            TransactItems=[
                *items,
                {
                    "Put": {
                        **record,
                        "Item": {
                            **_reservation(event.order_id),
                            "status": {"S": "reserved"},
                            "eventId": {"S": event.event_id},
                        },
                    }
                },
            ]
        )
        return "reserved"
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    if reasons and reasons[-1] == "ConditionalCheckFailed":
        return "already recorded"  # reserved, backordered or cancelled before: nothing to do
    return "backordered" if _record_first(event, "backordered") else "already recorded"


def release(event: OrderEvent) -> str:
    """Give a reserved order's stock back; remember a cancellation that beat its placement."""
    table = SETTINGS.inventory_table
    try:
        dynamodb.transact_write_items(
            TransactItems=[
                *[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": f"SKU#{line['sku']}"}},
                            "UpdateExpression": "SET available = available + :q, reserved = reserved - :q",
                            "ExpressionAttributeValues": {":q": {"N": str(line["quantity"])}},
                        }
                    }
                    for line in event.items
                ],
                {
                    "Update": {
                        "TableName": table,
                        "Key": _reservation(event.order_id),
                        "UpdateExpression": "SET #s = :released",
                        "ConditionExpression": "#s = :reserved",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":released": {"S": "released"},
                            ":reserved": {"S": "reserved"},
                        },
                    }
                },
            ]
        )
        return "released"
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
    if _record_first(event, "cancelled"):
        return "cancelled before placement"
    return "nothing reserved"  # backordered, or already released


@idempotent
def apply(event: dict) -> dict:
    order = parse_event(event)
    outcome = reserve(order) if order.event_type == "OrderPlaced" else release(order)
    logger.info(
        "inventory updated", order_id=order.order_id, event_type=order.event_type, outcome=outcome
    )
    return {"orderId": order.order_id, "outcome": outcome}


def record_handler(record) -> dict:
    event = parse_event(record.body)  # an invalid event raises: this record fails alone
    return apply(event=event.to_dict())


@logger.inject_lambda_context
def handler(event, context):
    idempotent.config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
