"""The fault suite: crashes, stops and outages lose no order and duplicate no row."""

from __future__ import annotations

import signal
import time

import pytest
from worker_support import start_worker_process, wait_until, worker_in_process

pytestmark = pytest.mark.engines


def assert_each_order_once(lab, count: int) -> None:
    rows = [r[0] for r in lab.rows()]
    assert len(rows) == len(set(rows)) == count
    assert rows == [f"order-{n:06d}" for n in range(count)]


@pytest.mark.queue(visibility=2, max_receives=5)
def test_worker_killed_mid_batch_loses_and_duplicates_nothing(lab):
    lab.send_orders(range(40))
    # Write shaping at 20 rows/s makes the worker take ~2 s: it is mid-work when killed.
    worker = start_worker_process(lab, MAX_WRITES_PER_SECOND=20, RECEIVE_LOOPS=2)
    wait_until(
        lambda: 0 < len(lab.rows()) < 40,
        timeout=15,
        interval=0.02,
        what="the worker to be part-way through",
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    assert len(lab.rows()) < 40
    # Its received-but-unfinished messages come back after the 2 s visibility timeout.
    with worker_in_process(lab):
        wait_until(lambda: lab.depth() == 0, timeout=30, what="a second worker to finish")
    assert_each_order_once(lab, 40)
    assert lab.dead_letters() == 0


@pytest.mark.queue(visibility=10, max_receives=5)
def test_sigterm_during_a_burst_drains_cleanly_and_loses_nothing(lab):
    lab.send_orders(range(60))
    worker = start_worker_process(
        lab, MAX_WRITES_PER_SECOND=25, RECEIVE_LOOPS=3, SHUTDOWN_GRACE_SECONDS=3
    )
    wait_until(lambda: len(lab.rows()) >= 10, timeout=15, interval=0.05)
    worker.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert worker.wait(15) == 0
    assert time.monotonic() - started < 3 + 4  # the grace, the last long poll, some slack
    log = worker.stdout.read()
    assert '"message": "worker stopped"' in log
    # Nothing is left invisible for the 10 s visibility timeout: unfinished work was released.
    with worker_in_process(lab):
        wait_until(lambda: lab.depth() == 0, timeout=8, what="the rest to drain at once")
    assert_each_order_once(lab, 60)
    assert lab.dead_letters() == 0


@pytest.mark.queue(visibility=3, max_receives=2)
def test_database_down_then_back_loses_nothing_and_dead_letters_nothing(lab, postgres):
    lab.send_orders(range(10))
    with worker_in_process(lab):
        wait_until(lambda: len(lab.rows()) == 10)
        postgres.stop()
        try:
            lab.send_orders(range(10, 40))  # orders keep arriving during the outage
            time.sleep(4)  # longer than the visibility timeout x maxReceiveCount would allow
        finally:
            postgres.start()
        wait_until(lambda: lab.depth() == 0, timeout=40, what="the backlog to drain")
    assert_each_order_once(lab, 40)
    assert lab.dead_letters() == 0


@pytest.mark.queue(visibility=3, max_receives=5)
def test_heartbeat_keeps_a_slow_batch_from_being_redelivered(lab):
    """A batch that takes longer than the visibility timeout is not handed to a second loop."""
    lab.send_orders(range(10))
    # 2 rows/s: the first batch of 10 waits ~4.5 s for write tokens, beyond the 3 s timeout.
    with worker_in_process(lab, MAX_WRITES_PER_SECOND=2, RECEIVE_LOOPS=3) as metrics:
        wait_until(lambda: lab.depth() == 0, timeout=20)
    assert metrics.totals()["Duplicates"] == 0
    assert metrics.totals()["Processed"] == 10
    assert_each_order_once(lab, 10)


@pytest.mark.queue(visibility=5, max_receives=2)
def test_a_poison_message_among_good_ones_ends_in_the_dlq_after_the_set_count(lab):
    lab.send_orders(range(20))
    lab.send('{"orderId": "poison-000001", "customerId": "c", "items": [{"sku": "x"}]}')
    with worker_in_process(lab):
        wait_until(lambda: lab.dead_letters() == 1, timeout=20)
        wait_until(lambda: lab.depth() == 0)
    assert_each_order_once(lab, 20)
    [dead] = lab.sqs.receive_message(
        QueueUrl=lab.dlq_url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert "poison-000001" in dead["Body"]
    # Received maxReceiveCount (2) times on the source queue, then moved: never retried forever.
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 2
