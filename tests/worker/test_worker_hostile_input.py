"""No message can stop a consumer: bodies sent straight to the queue by an attacker or a buggy
producer, each one the JSON parser or the database chokes on in its own way."""

from __future__ import annotations

import json

import pytest
from worker_support import consumer_in_process, order, wait_until

pytestmark = pytest.mark.engines


def _order_text(order_id: str, customer: str = "c-1", quantity: str = "1") -> str:
    """An order body written by hand, so that it can hold what json.dumps would not write."""
    return (
        f'{{"orderId": "{order_id}", "customerId": "{customer}", '
        f'"items": [{{"sku": "BOOK-1", "quantity": {quantity}, "unitPriceCents": 100}}]}}'
    )


# Each is plain ASCII (SQS accepts it); each broke a receive loop in its own way.
HOSTILE_BODIES = {
    # the parser recurses once per level: RecursionError, not JSONDecodeError
    "deep nesting": "[" * 50_000 + "]" * 50_000,
    # Python refuses int() of over 4300 digits: ValueError, not JSONDecodeError
    "huge number": _order_text("hostile-huge-1", quantity="9" * 5_000),
    # a lone surrogate parses into a str that cannot be encoded as UTF-8 for PostgreSQL
    "lone surrogate": _order_text("hostile-surrogate-1", customer="\\ud800"),
    # PostgreSQL text cannot hold NUL
    "NUL": _order_text("hostile-nul-1", customer="a\\u0000b"),
}


@pytest.mark.queue(visibility=5, max_receives=2)
def test_hostile_bodies_among_good_orders_are_dead_lettered_and_the_loops_keep_consuming(lab):
    for body in HOSTILE_BODIES.values():
        lab.send(body)
    lab.send_orders(range(10))
    with consumer_in_process(lab, RECEIVE_LOOPS=2) as (consumer, _, metrics):
        wait_until(
            lambda: lab.dead_letters() == len(HOSTILE_BODIES),
            timeout=20,
            what="every hostile body in the DLQ",
        )
        wait_until(lambda: lab.depth() == 0, what="the queue to drain")
        lab.send(order(10))  # sent afterwards: still consumed
        wait_until(lambda: len(lab.rows()) == 11, what="an order sent after the hostile ones")
        assert consumer.healthy()
    assert [r[0] for r in lab.rows()] == [f"order-{n:06d}" for n in range(11)]
    dead = lab.sqs.receive_message(QueueUrl=lab.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(HOSTILE_BODIES.values())
    assert metrics.totals()["Processed"] == 11
    json.dumps(metrics.totals())
