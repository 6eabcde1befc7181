"""The engines a lab runs on, started only when a lab first asks for them.

A lab run from the command line starts its own moto server and embedded PostgreSQL (and stops
them when it ends); a test hands in the session's engines, so twenty lab runs share one of each.
Also: the few SQS helpers every lab needs (a queue with its dead-letter queue, a queue's depth).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field

from labs.local_engines import EmbeddedPostgres, MotoServer, embedded_postgres, moto_server


@dataclass
class Engines:
    """moto and PostgreSQL for one lab run; given ones are borrowed, missing ones started."""

    given_moto: MotoServer | None = None
    given_postgres: EmbeddedPostgres | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def moto(self) -> MotoServer:
        if self.given_moto is None:
            self.given_moto = self._stack.enter_context(moto_server())
        return self.given_moto

    @property
    def postgres(self) -> EmbeddedPostgres:
        if self.given_postgres is None:
            self.given_postgres = self._stack.enter_context(embedded_postgres())
        return self.given_postgres

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def unique(name: str) -> str:
    """`name` plus a short random suffix: every lab run makes its own queues."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


@dataclass(frozen=True)
class QueuePair:
    url: str
    dead_letter_url: str | None


def make_queue(
    sqs,
    name: str,
    *,
    fifo: bool = False,
    max_receives: int | None = None,
    attributes: dict[str, str] | None = None,
    dead_letter_attributes: dict[str, str] | None = None,
) -> QueuePair:
    """A uniquely named queue; with `max_receives`, a dead-letter queue and a redrive policy."""
    base = unique(name)
    suffix = ".fifo" if fifo else ""
    kind = {"FifoQueue": "true"} if fifo else {}
    attributes = {**kind, **(attributes or {})}
    dead_letter_url = None
    if max_receives is not None:
        dead_letter_url = sqs.create_queue(
            QueueName=f"{base}-dlq{suffix}",
            Attributes={**kind, **(dead_letter_attributes or {})},
        )["QueueUrl"]
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": queue_arn(sqs, dead_letter_url),
                "maxReceiveCount": max_receives,
            }
        )
    url = sqs.create_queue(QueueName=f"{base}{suffix}", Attributes=attributes)["QueueUrl"]
    return QueuePair(url, dead_letter_url)


def depth(sqs, url: str) -> tuple[int, int, int]:
    """(visible, in flight, delayed) as SQS approximates them."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def drain(sqs, url: str, *, attribute_names: tuple[str, ...] = ()) -> list[dict]:
    """Receive and delete everything visible in `url` (short polls until one comes back empty)."""
    found = []
    while messages := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=list(attribute_names) or ["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", []):
        found.extend(messages)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    return found
