"""Audit consumer: keep every order event, with its SNS envelope, in an append-only trail.

The audit subscription has no filter and no raw message delivery, so each record is the whole
SNS notification: the trail keeps SNS's message id, topic and timestamp beside the event. The
write is conditional on (orderId, event sort key), so a redelivery adds nothing; an event that
reuses a recorded key with different content is a conflict (ConflictingEvent: it fails alone
and ends in the DLQ for a person), never a silent "already recorded".
"""

from __future__ import annotations

import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from order_consumers import ConflictingEvent, batch_processor, conditional
from order_events import from_sns_envelope


def events_table() -> str:
    """Configuration: the audit trail's table, from the function's environment."""
    return os.environ["EVENTS_TABLE"]


logger = Logger()
processor = batch_processor()
trail = boto3.resource("dynamodb").Table(events_table())


def record_handler(record) -> str:
    event, envelope = from_sns_envelope(record.body)
    key = {"orderId": event.order_id, "eventKey": f"{event.occurred_at}#{event.event_id}"}
    first = conditional(
        lambda: trail.put_item(
            Item={
                **key,
                "eventType": event.event_type,
                "snsMessageId": envelope.get("MessageId", ""),
                "topicArn": envelope.get("TopicArn", ""),
                "publishedAt": envelope.get("Timestamp", ""),
                "event": json.dumps(event.to_dict()),
            },
            ConditionExpression="attribute_not_exists(eventKey)",
        )
    )
    if first:
        return "recorded"
    stored = trail.get_item(Key=key, ConsistentRead=True).get("Item", {})
    if json.loads(stored.get("event", "null")) != event.to_dict():
        raise ConflictingEvent(
            f"{event.event_type} {event.event_id} for {event.order_id} is recorded with "
            "different content"
        )
    return "already recorded"


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
