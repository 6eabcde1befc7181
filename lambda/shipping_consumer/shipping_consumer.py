"""Shipping consumer: create a shipment for each shippable order, cancel it with the order.

Fan-out subscriber; its SNS filter policy admits only events with shippable = "true" (digital
goods never reach it). Exactly one shipment per order: Powertools idempotency on
(orderId, eventType) plus a conditional write keyed on the order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.exceptions import ClientError
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
# A batch of only bad records is reported record by record like any other, so the Errors alarm
# means the function broke, not that its input was bad.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
shipments = boto3.resource("dynamodb").Table(SETTINGS.shipments_table)
idempotency = IdempotencyConfig(
    event_key_jmespath="[orderId, eventType]", expires_after_seconds=7 * 24 * 3600
)
persistence = DynamoDBPersistenceLayer(table_name=SETTINGS.idempotency_table)


@idempotent_function(
    data_keyword_argument="event", config=idempotency, persistence_store=persistence
)
def apply(event: dict) -> dict:
    order = parse_event(event)
    if not order.shippable:
        raise ValueError(f"order {order.order_id} is not shippable; the filter should drop it")
    status = "pending" if order.event_type == "OrderPlaced" else "cancelled"
    try:
        if status == "pending":
            shipments.put_item(
                Item={
                    "orderId": order.order_id,
                    "status": status,
                    "eventId": order.event_id,
                    "lines": [{"sku": i["sku"], "quantity": i["quantity"]} for i in order.items],
                },
                ConditionExpression="attribute_not_exists(orderId)",
            )
        else:
            shipments.put_item(
                Item={"orderId": order.order_id, "status": status, "eventId": order.event_id},
                ConditionExpression="attribute_not_exists(orderId) OR #s = :p",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":p": "pending"},
            )
        outcome = f"shipment {status}"
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        outcome = "already recorded"
    logger.info("shipment recorded", order_id=order.order_id, outcome=outcome)
    return {"orderId": order.order_id, "outcome": outcome}


def record_handler(record) -> dict:
    return apply(event=parse_event(record.body).to_dict())


@logger.inject_lambda_context
def handler(event, context):
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
