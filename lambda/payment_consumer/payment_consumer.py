"""Payment consumer: record a charge request for each paid order, a refund request on cancel.

Fan-out subscriber; its SNS filter policy lets through only orders with amountCents > 0, so free
orders never reach it. The charge itself belongs to a payment provider: this records the request
that a provider integration would pick up, exactly once per order (idempotency on
(orderId, eventType), and a conditional write keyed on the order).
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
    payments_table: str
    idempotency_table: str


def settings() -> Settings:
    return Settings(
        payments_table=os.environ["PAYMENTS_TABLE"],
        idempotency_table=os.environ["IDEMPOTENCY_TABLE"],
    )


SETTINGS = settings()
logger = Logger()
processor = batch_processor()
idempotent = IdempotentPerOrderEvent(SETTINGS.idempotency_table, consumer="payment")
payments = boto3.resource("dynamodb").Table(SETTINGS.payments_table)


@idempotent
def apply(event: dict) -> dict:
    order = parse_event(event)
    if order.total_cents <= 0:
        raise ValueError(f"order {order.order_id} has nothing to charge; the filter should drop it")
    if order.event_type == "OrderPlaced":
        done = conditional(
            lambda: payments.put_item(
                Item={
                    "orderId": order.order_id,
                    "customerId": order.customer_id,
                    "amountCents": order.total_cents,
                    "status": "charge_requested",
                    "eventId": order.event_id,
                },
                ConditionExpression="attribute_not_exists(orderId)",
            )
        )
        outcome = "charge requested" if done else "already recorded"
    else:
        done = conditional(
            lambda: payments.update_item(
                Key={"orderId": order.order_id},
                UpdateExpression="SET #s = :refund",
                ConditionExpression="#s = :charge",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":refund": "refund_requested",
                    ":charge": "charge_requested",
                },
            )
        )
        if not done:  # cancelled before the placement arrived: make sure it is never charged
            conditional(
                lambda: payments.put_item(
                    Item={
                        "orderId": order.order_id,
                        "amountCents": order.total_cents,
                        "status": "cancelled",
                        "eventId": order.event_id,
                    },
                    ConditionExpression="attribute_not_exists(orderId)",
                )
            )
        outcome = "refund requested" if done else "cancelled, nothing charged"
    logger.info("payment recorded", order_id=order.order_id, outcome=outcome)
    return {"orderId": order.order_id, "outcome": outcome}


def record_handler(record) -> dict:
    return apply(event=parse_event(record.body).to_dict())


@logger.inject_lambda_context
def handler(event, context):
    idempotent.config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
