"""No message can stop a consumer: bodies sent straight to the queue by an attacker or a buggy
producer, each one the JSON parser or the database chokes on in its own way."""

from __future__ import annotations

import json

import pytest
from dying_loops import main_with_a_dying_receive_loop
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


def test_an_unexpected_error_outside_any_message_is_logged_and_the_loop_goes_on(
    lab, caplog, monkeypatch
):
    """A fault no branch expects (here: in the receive call itself) pauses a loop, no more."""
    from write_buffer_worker import consumer

    monkeypatch.setattr(consumer, "UNEXPECTED_ERROR_PAUSE", 0.1)  # 1 s in production
    faults = iter(range(1))

    def fail_the_first_receive(**_):
        if next(faults, None) is not None:
            raise RuntimeError("injected: a bug outside any message's handling")

    lab.send_orders(range(5))
    with consumer_in_process(
        lab, sqs_events={"before-call.sqs.ReceiveMessage": fail_the_first_receive}, RECEIVE_LOOPS=1
    ) as (consumer, _, _):
        wait_until(lambda: len(lab.rows()) == 5, what="the orders, after the faults")
        assert consumer.healthy() and not consumer.failed()
    unexpected = [r for r in caplog.records if "unexpected error in a receive loop" in r.message]
    assert len(unexpected) == 1 and "injected" in unexpected[0].exc_text


def test_a_worker_whose_receive_loop_dies_exits_non_zero_so_systemd_restarts_it(
    lab, monkeypatch, caplog
):
    from write_buffer_worker.__main__ import main

    environment = {**lab.environment, "RECEIVE_LOOPS": "1"}
    assert main_with_a_dying_receive_loop(main, environment, monkeypatch) == 1
    assert "a worker thread died" in caplog.text
