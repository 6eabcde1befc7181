"""Payment ledger (FIFO): apply each order's payment events strictly in order.

Where order matters: a refund must never be applied before the capture it refunds. Payment events
go through a FIFO topic to a FIFO queue with the order id as message group, so SQS delivers one
order's events in sequence while different orders proceed in parallel. Each event moves the
order's ledger entry from the state it requires to the next (authorized -> captured -> refunded),
as a conditional write: a duplicate (same sequence) is skipped; an event that arrives before its
predecessor fails, and SqsFifoPartialProcessor then fails the rest of that order's group in the
batch too (other orders go on), so nothing is applied out of order.
"""

from __future__ import annotations

import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from botocore.exceptions import ClientError

# event type -> (the state it requires, the state it leaves)
TRANSITIONS = {
    "PaymentAuthorized": (None, "authorized"),
    "PaymentCaptured": ("authorized", "captured"),
    "PaymentRefunded": ("captured", "refunded"),
}


def ledger_table() -> str:
    """Configuration: the ledger's table, from the function's environment."""
    return os.environ["LEDGER_TABLE"]


logger = Logger()
# On a failure, skip only the rest of that order's group; other orders in the batch go on.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
ledger = boto3.resource("dynamodb").Table(ledger_table())


class OutOfOrder(RuntimeError):
    """An event arrived before the one it follows; it is retried after its predecessor."""


def parse(body: str) -> dict:
    event = json.loads(body)
    if not isinstance(event, dict) or event.get("eventType") not in TRANSITIONS:
        raise ValueError(f"not a payment event: {body[:100]!r}")
    if not isinstance(event.get("orderId"), str) or not isinstance(event.get("sequence"), int):
        raise ValueError("a payment event needs orderId (string) and sequence (integer)")
    return event


def record_handler(record) -> str:
    event = parse(record.body)
    required, next_state = TRANSITIONS[event["eventType"]]
    condition = (
        "attribute_not_exists(orderId)" if required is None else "#s = :required AND #n = :previous"
    )
    values = {":next": next_state, ":sequence": event["sequence"]}
    if required is not None:
        values.update({":required": required, ":previous": event["sequence"] - 1})
    try:
        ledger.update_item(
            Key={"orderId": event["orderId"]},
            UpdateExpression="SET #s = :next, #n = :sequence",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "state", "#n": "sequence"},
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        current = ledger.get_item(Key={"orderId": event["orderId"]}).get("Item", {})
        if int(current.get("sequence", -1)) >= event["sequence"]:
            return "duplicate, already applied"
        raise OutOfOrder(
            f"{event['eventType']} for {event['orderId']} needs state {required!r}, "
            f"found {current.get('state')!r}"
        ) from None
    logger.info("ledger moved", order_id=event["orderId"], state=next_state)
    return next_state


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
