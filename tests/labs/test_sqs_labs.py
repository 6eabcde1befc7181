"""Each SQS lab, in a short mode, shows the behaviour it teaches."""

from __future__ import annotations

import pytest

from labs import (
    dead_letter_lab,
    delay_lab,
    fifo_lab,
    large_payload_lab,
    polling_lab,
    visibility_lab,
)

pytestmark = pytest.mark.engines


def test_processing_past_the_visibility_timeout_duplicates_and_the_heartbeat_does_not(
    story, engines
):
    seen = visibility_lab.run(story, engines, visibility=2, processing=2.2, messages=2, consumers=4)
    assert seen.without.duplicates > 0
    assert seen.without.processed_twice > 0
    assert seen.with_heartbeat.duplicates == 0
    assert seen.with_heartbeat.processed_twice == 0
    assert seen.with_heartbeat.extensions > 0
    assert "count 2" in story.text  # the redelivery's ApproximateReceiveCount


def test_a_poison_message_is_dead_lettered_after_max_receives_and_redriven_after_the_fix(
    story, engines
):
    seen = dead_letter_lab.run(story, engines, max_receives=3, good_orders=3)
    assert seen.poison_receives == 3
    assert seen.dead_lettered == ["poison-001"]  # the flaky order survived its one failure
    assert seen.sent_timestamp_kept
    assert seen.redriven == 1
    assert seen.lost == 0
    assert all(times == 1 for times in seen.processed.values())


def test_a_max_receive_count_of_one_dead_letters_a_transient_failure_too(story, engines):
    seen = dead_letter_lab.run(story, engines, max_receives=1, good_orders=2, dlq_retention_days=4)
    assert seen.dead_lettered == ["flaky-001", "poison-001"]
    assert "the trap" in story.text  # a DLQ no longer-lived than its source
    assert seen.lost == 0


def test_long_polling_makes_fewer_empty_receives_than_short_polling(story, engines):
    seen = polling_lab.run(story, engines, wait=1, seconds=1, rate=5)
    short, long_ = seen.count("idle", "short"), seen.count("idle", "long")
    assert long_.requests <= 2 and long_.messages == 0
    assert short.empty > 5 * long_.empty
    busy_short, busy_long = seen.count("busy", "short"), seen.count("busy", "long")
    assert busy_long.messages > 0 and busy_short.messages > 0
    assert busy_long.empty < busy_short.empty
    assert "$0.40 per million" in story.text


def test_fifo_keeps_each_groups_order_and_lets_groups_interleave(story, engines):
    seen = fifo_lab.run(story, engines, groups=3, consumers=3, per_group=3, processing=0.05)
    assert seen.order_kept
    assert seen.overlapping_holds == 0
    assert seen.switches > 0
    assert seen.sequence("B") == [1, 3]  # B-2 was poison: dead-lettered, the group went on
    assert seen.dead_lettered == ["B-2"] and seen.dead_letter_group == "B"
    assert seen.dedup_explicit == (2, 1)
    assert seen.dedup_content == (3, 2)


def test_message_timers_override_the_queue_delay_and_fifo_refuses_them(story, engines):
    # A second between each pair of expected times, so a loaded machine's slow poll still
    # lands each message in its own window.
    seen = delay_lab.run(story, engines, queue_delay=3, timer=1)
    assert seen.first_seen["timer 0"] < 1
    assert seen.first_seen["sent after the change"] < 1
    assert 1 <= seen.first_seen["timer 1"] < 3
    assert seen.first_seen["no timer"] >= 3  # the change to 0 was not retroactive
    assert seen.fifo_timer_refused == "InvalidParameterValue"


def test_a_payload_over_the_limit_is_refused_and_travels_by_claim_check(story, engines):
    seen = large_payload_lab.run(story, engines, size_kib=1100)
    assert seen.payload_bytes > large_payload_lab.SQS_MAX_BYTES
    assert seen.inline_refused and seen.via_s3 and seen.verified
    assert seen.message_bytes < 1024
    assert not seen.object_left


def test_a_payload_under_the_threshold_goes_inline(story, engines):
    seen = large_payload_lab.run(story, engines, size_kib=4, threshold_kib=64)
    assert not seen.inline_refused and not seen.via_s3 and seen.verified
