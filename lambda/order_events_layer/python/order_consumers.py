"""What every order consumer shares: its batch processor, its idempotency, conditional writes.

Each consumer still reads as the Powertools batch idiom (logger and processor at module level, a
record handler that raises on a bad record, `process_partial_response`); this module only keeps
the decisions they must agree on in one place:

- a batch of only bad records is reported record by record like any other, so the function's
  Errors alarm means the function broke, not that its input was bad;
- idempotency is keyed on (orderId, eventType) and kept for a week, longer than SQS retention;
  each consumer prefixes its keys with its own name, so the one shared table holds inventory's
  and payment's records for the same order side by side, and a renamed or replaced function
  (a new AWS_LAMBDA_FUNCTION_NAME, which Powertools would otherwise put in the key) still finds
  the records it wrote before;
- an idempotency key reused with different content is a conflict, not a duplicate: Powertools
  stores a hash of the event's business content (payload validation) beside the key, and a
  later event with the same key but other content fails alone with ConflictingEvent (logged),
  so SQS retries it and then dead-letters it for a person; it is never silently skipped. A
  publisher's retry with a new eventId or timestamp and the same content stays a duplicate.
  Records written before validation was on carry no hash, and Powertools counts any event that
  finds one as a conflict: those (redeliveries within a week of the upgrade) go to the DLQ too;
- every record that fails is logged with its message id, receive count and reason, whatever it
  raised: one hostile record fails alone, never its batch;
- a conditional write whose condition fails means "already done", not an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError
from botocore.exceptions import ClientError

IDEMPOTENCY_KEY = "[orderId, eventType]"
# What must be equal for a second event with the same key to be a duplicate: the business
# content. Not eventId or occurredAt, which a publisher's retry may renew.
IDEMPOTENCY_CONTENT = "[customerId, items, totalCents, shippable]"
IDEMPOTENCY_SECONDS = 7 * 24 * 3600  # SQS keeps a message at most 14 days; redrive starts anew

logger = Logger(child=True)


class ConflictingEvent(RuntimeError):
    """An event whose idempotency key was already used by an event with different content."""


class LoggingBatchProcessor(BatchProcessor):
    """BatchProcessor that logs each failed record with its message id and receive count."""

    def failure_handler(self, record, exception):
        error = exception[1]
        try:  # nothing here may fail the batch: a record without these fields is still logged
            message_id = record.message_id
            receive_count = record.attributes.approximate_receive_count
        except Exception:
            message_id = receive_count = None
        logger.error(
            "record failed; SQS retries it, then dead-letters it",
            message_id=message_id,
            receive_count=receive_count,
            error_type=type(error).__name__,
            reason=str(error)[:300],
        )
        return super().failure_handler(record, exception)


def batch_processor() -> BatchProcessor:
    return LoggingBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class IdempotentPerOrderEvent:
    """Decorator: run the function once per (orderId, eventType) for `consumer`; records in
    `table_name` under keys `<consumer>#<hash of orderId and eventType>`."""

    def __init__(self, table_name: str, *, consumer: str):
        self.key_prefix = consumer
        self.config = IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY,
            payload_validation_jmespath=IDEMPOTENCY_CONTENT,
            expires_after_seconds=IDEMPOTENCY_SECONDS,
        )
        self.persistence = DynamoDBPersistenceLayer(table_name=table_name)

    def __call__(self, function: Callable) -> Callable:
        once = idempotent_function(
            data_keyword_argument="event",
            config=self.config,
            persistence_store=self.persistence,
            key_prefix=self.key_prefix,
        )(function)

        @functools.wraps(function)
        def run(*, event: dict):
            try:
                return once(event=event)
            except IdempotencyValidationError:
                logger.error(
                    "idempotency key reused with different content; failed for the DLQ",
                    consumer=self.key_prefix,
                    order_id=event.get("orderId"),
                    event_type=event.get("eventType"),
                    event_id=event.get("eventId"),
                )
                raise ConflictingEvent(
                    f"{event.get('eventType')} for {event.get('orderId')} was already handled "
                    "with different content"
                ) from None

        return run


def conditional(write: Callable[[], object]) -> bool:
    """Run a conditional DynamoDB write: True if it happened, False if its condition failed."""
    try:
        write()
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
