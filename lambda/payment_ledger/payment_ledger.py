"""Payment ledger (FIFO): apply each order's payment events strictly in order.

Where order matters: a refund must never be applied before the capture it refunds. Payment events
go through a FIFO topic to a FIFO queue with the order id as message group, so SQS delivers one
order's events in sequence while different orders proceed in parallel. Each event moves the
order's ledger entry from the state it requires to the next (authorized -> captured -> refunded),
as a conditional write: a duplicate (same sequence) is skipped; an event that arrives before its
predecessor fails, and SqsFifoPartialProcessor then fails the rest of that order's group in the
batch too (other orders go on), so nothing is applied out of order.

A body that is not a payment event (whatever it makes the parser raise) fails alone with
InvalidPaymentEvent and, after maxReceiveCount, waits in the DLQ; so does an event that reuses
the sequence number of the last applied event with another event type (a conflict, not a
duplicate).
"""

from __future__ import annotations

import json
import os
import re

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


ORDER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_SEQUENCE = 10**15  # far below DynamoDB's 38 digits; no order has that many payment events


class OutOfOrder(RuntimeError):
    """An event arrived before the one it follows; it is retried after its predecessor."""


class InvalidPaymentEvent(ValueError):
    """Not a payment event; retrying will not help."""


class ConflictingPaymentEvent(RuntimeError):
    """The event's sequence number was applied already, by an event of another type."""


def parse(body: str) -> dict:
    """The payment event in `body`, or InvalidPaymentEvent (never another exception)."""
    try:
        event = json.loads(body)
    except (ValueError, TypeError, RecursionError) as error:  # deep nesting, huge integers
        raise InvalidPaymentEvent(f"not JSON: {type(error).__name__}") from None
    if not isinstance(event, dict):
        raise InvalidPaymentEvent("not a payment event: not a JSON object")
    event_type = event.get("eventType")
    if not isinstance(event_type, str) or event_type not in TRANSITIONS:
        raise InvalidPaymentEvent(
            f"not a payment event: eventType is not one of {list(TRANSITIONS)}"
        )
    order_id, sequence = event.get("orderId"), event.get("sequence")
    if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
        raise InvalidPaymentEvent("orderId must be 8-64 letters, digits, '_' or '-'")
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise InvalidPaymentEvent("sequence must be a whole number")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise InvalidPaymentEvent(f"sequence must be from 1 to {MAX_SEQUENCE}")
    return event


def record_handler(record) -> str:
    try:
        event = parse(record.body)
    except InvalidPaymentEvent as reason:
        logger.error(
            "not a payment event; it fails alone and goes to the DLQ after the set receives",
            message_id=record.message_id,
            receive_count=record.attributes.approximate_receive_count,
            reason=str(reason),
        )
        raise
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
        current = ledger.get_item(Key={"orderId": event["orderId"]}, ConsistentRead=True).get(
            "Item", {}
        )
        applied = int(current.get("sequence", -1))
        if applied == event["sequence"] and current.get("state") != next_state:
            raise ConflictingPaymentEvent(
                f"sequence {applied} of {event['orderId']} was applied as "
                f"{current.get('state')!r}, not {next_state!r}"
            ) from None
        if applied >= event["sequence"]:
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
