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
- a conditional write whose condition fails means "already done", not an error.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.exceptions import ClientError

IDEMPOTENCY_KEY = "[orderId, eventType]"
IDEMPOTENCY_SECONDS = 7 * 24 * 3600  # SQS keeps a message at most 14 days; redrive starts anew


def batch_processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class IdempotentPerOrderEvent:
    """Decorator: run the function once per (orderId, eventType) for `consumer`; records in
    `table_name` under keys `<consumer>#<hash of orderId and eventType>`."""

    def __init__(self, table_name: str, *, consumer: str):
        self.key_prefix = consumer
        self.config = IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY, expires_after_seconds=IDEMPOTENCY_SECONDS
        )
        self.persistence = DynamoDBPersistenceLayer(table_name=table_name)

    def __call__(self, function: Callable) -> Callable:
        return idempotent_function(
            data_keyword_argument="event",
            config=self.config,
            persistence_store=self.persistence,
            key_prefix=self.key_prefix,
        )(function)


def conditional(write: Callable[[], object]) -> bool:
    """Run a conditional DynamoDB write: True if it happened, False if its condition failed."""
    try:
        write()
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
