"""The fan-out, Lambda batch and why-queue labs, in short modes, show what they teach."""

from __future__ import annotations

import pytest

from labs import lambda_batch_lab, sns_fan_out_lab, why_queue_lab

pytestmark = pytest.mark.engines


def test_filters_raw_delivery_and_a_late_subscriber(story, engines):
    seen = sns_fan_out_lab.run(story, engines, big_order_cents=10_000)
    assert seen.received["payments"] == ["lab-big-0003", "lab-small-0002"]
    assert seen.received["big-orders"] == ["lab-big-0003"]
    assert len(seen.received["audit"]) == 3
    assert seen.raw_is_event
    assert {"Message", "MessageId", "Timestamp", "TopicArn", "Type"} <= set(seen.envelope_keys)
    assert seen.late_subscriber_got == ["lab-late-0004"]
    assert seen.redrive_policies == 3


def test_partial_batch_responses_reprocess_less_than_whole_batch_retry(story, engines):
    seen = lambda_batch_lab.run(story, engines, orders=12, spread=0.2, work=0.02, max_concurrency=2)
    assert seen.partial.reprocessed == lambda_batch_lab.MAX_RECEIVES - 1  # the poison only
    assert seen.partial.dead_lettered == [seen.poison]
    assert seen.whole.reprocessed > seen.partial.reprocessed
    assert seen.poison in seen.whole.dead_lettered
    assert max(seen.partial.peak, seen.whole.peak) <= 2
    assert seen.payments_written == seen.good_orders


def test_a_burst_loses_orders_straight_to_the_database_and_none_through_the_queue(story, engines):
    seen = why_queue_lab.run(
        story,
        engines,
        burst=30,
        spread=0.1,
        connection_limit=3,
        work=0.05,
        request_timeout=0.3,
        consumers=2,
    )
    assert seen.direct.refused_attempts > 0
    assert seen.direct.lost > 0
    assert seen.direct.written + seen.direct.lost == 30
    assert seen.queued.accepted == 30 and seen.queued.written == 30


def test_an_outage_longer_than_retention_expires_the_oldest_orders(story):
    result = why_queue_lab.retention_model(story, retention_days=4, outage_days=5, per_hour=10)
    assert result.sent == 5 * 24 * 10
    assert result.expired == 24 * 10  # day 1's orders
    assert result.delivered == 4 * 24 * 10
    assert why_queue_lab.retention_model(story, 4, 3, 10).expired == 0
