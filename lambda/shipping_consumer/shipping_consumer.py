"""Shipping consumer: create a shipment for each shippable order, cancel it with the order.

Fan-out subscriber; its SNS filter policy admits only events with shippable = "true" (digital
goods never reach it). Exactly one shipment per order: idempotency on (orderId, eventType) plus a
conditional write keyed on the order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from order_consumers import IdempotentPerOrderEvent, batch_processor, conditional
from order_events import parse_event


@dataclass(frozen=True)
class Settings:
    shipments_table: str
    idempotency_table: str


def settings() -> Settings:
    return Settings(
        shipments_table=os.environ["SHIPMENTS_TABLE"],
        idempotency_table=os.environ["IDEMPOTENCY_TABLE"],
    )


SETTINGS = settings()
logger = Logger()
processor = batch_processor()
idempotent = IdempotentPerOrderEvent(SETTINGS.idempotency_table, consumer="shipping")
shipments = boto3.resource("dynamodb").Table(SETTINGS.shipments_table)


@idempotent
def apply(event: dict) -> dict:
    order = parse_event(event)
    if not order.shippable:
        raise ValueError(f"order {order.order_id} is not shippable; the filter should drop it")
    if order.event_type == "OrderPlaced":
        done = conditional(
            lambda: shipments.put_item(
                Item={
                    "orderId": order.order_id,
                    "status": "pending",
                    "eventId": order.event_id,
                    "lines": [{"sku": i["sku"], "quantity": i["quantity"]} for i in order.items],
                },
                ConditionExpression="attribute_not_exists(orderId)",
            )
        )
        outcome = "shipment pending" if done else "already recorded"
    else:  # cancel a pending shipment, or record the cancellation if it overtook the placement
        done = conditional(
            lambda: shipments.put_item(
                Item={"orderId": order.order_id, "status": "cancelled", "eventId": order.event_id},
                ConditionExpression="attribute_not_exists(orderId) OR #s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": "pending"},
            )
        )
        outcome = "shipment cancelled" if done else "already recorded"
    logger.info("shipment recorded", order_id=order.order_id, outcome=outcome)
    return {"orderId": order.order_id, "outcome": outcome}


def record_handler(record) -> dict:
    return apply(event=parse_event(record.body).to_dict())


@logger.inject_lambda_context
def handler(event, context):
    idempotent.config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
