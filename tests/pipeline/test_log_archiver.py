"""The log archiver on moto's SQS and S3: objects per flush, delete after write, DLQ, drain."""

from __future__ import annotations

import contextlib
import io
import re
import signal

import pytest
from dying_loops import main_with_a_dying_receive_loop
from log_archiver.archiver import COUNTERS, Archiver
from log_archiver.config import ConfigError, load_config
from pipeline_runtime.runtime import Metrics
from pipeline_support import final_totals, start_program, wait_until

pytestmark = pytest.mark.engines


def envelopes(count: int, shipper: str = "web-1/run") -> list[dict]:
    return [
        {"shipper": shipper, "seq": n, "lines": [f"line {n}.{i}" for i in range(3)]}
        for n in range(count)
    ]


@contextlib.contextmanager
def archiver(pipeline, **env):
    settings = {
        "VISIBILITY_TIMEOUT_SECONDS": 30,
        "FLUSH_SECONDS": 0.3,
        "INSTANCE_ID": "i-test",
        **env,
    }
    config = load_config(pipeline.environment(**settings))
    metrics = Metrics(config.metrics_namespace, COUNTERS, stream=io.StringIO())
    running = Archiver(config, pipeline.sqs, pipeline.s3, metrics)
    running.start()
    try:
        yield metrics
    finally:
        running.stop(5)


def wait_archived(pipeline, metrics, count: int, timeout: float = 30.0) -> None:
    """Until at least `count` messages are archived and none is left in the queue.

    At least, not exactly: the archive is at-least-once, as a standard queue's delivery is
    (compaction drops the duplicates), so a test counts distinct archived lines, not receives."""
    wait_until(
        lambda: metrics.totals()["Messages"] >= count and pipeline.depth() == 0,
        timeout=timeout,
        what=lambda: (
            f"{count} archived messages; totals {metrics.totals()}, queue depth {pipeline.depth()}"
        ),
    )


def archived(pipeline) -> set[tuple[str, int, int, str]]:
    """Every distinct `(shipper, seq, i, line)` in the raw objects."""
    return {
        (r["shipper"], r["seq"], r["i"], r["line"])
        for records in pipeline.objects().values()
        for r in records
    }


def expected(count: int) -> set[tuple[str, int, int, str]]:
    return {("web-1/run", n, i, f"line {n}.{i}") for n in range(count) for i in range(3)}


def test_messages_become_gzip_objects_partitioned_by_hour_and_are_deleted_after(pipeline):
    pipeline.send_envelopes(envelopes(40))
    with archiver(pipeline) as metrics:
        wait_archived(pipeline, metrics, 40)
    objects = pipeline.objects()
    assert objects and all(
        re.fullmatch(
            r"raw/dt=\d{4}-\d\d-\d\d/hour=\d\d/\d{8}T\d{6}Z-i-test-[0-9a-f]{8}\.jsonl\.gz", key
        )
        for key in objects
    )
    assert archived(pipeline) == expected(40)
    assert pipeline.depth() == 0  # deleted, after the write
    assert len(objects) < 40  # many messages to an object, not one each


@pytest.mark.queue(visibility=1, max_receives=2)
def test_malformed_bodies_reach_the_dlq_and_the_rest_are_archived(pipeline):
    hostile = [
        '{"not": "an envelope"}',
        "[" * 50_000 + "]" * 50_000,  # json.loads raises RecursionError, not JSONDecodeError
        '{"shipper": "x", "seq": ' + "9" * 5000 + ', "lines": []}',  # past int's digit limit
    ]
    for body in hostile:
        pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)
    pipeline.send_envelopes(envelopes(5))
    with archiver(pipeline, VISIBILITY_TIMEOUT_SECONDS=2, FLUSH_SECONDS=0.2) as metrics:
        wait_until(
            lambda: pipeline.depth(pipeline.dlq_url) == len(hostile),
            what="the malformed messages in the DLQ",
        )
        wait_archived(pipeline, metrics, 5)
    assert metrics.totals()["Malformed"] >= 1
    assert archived(pipeline) == expected(5)


def test_a_bucket_refusing_writes_keeps_the_buffer_and_loses_nothing(pipeline):
    """A real S3 error (the bucket is not there yet): the write is retried with backoff, the
    messages stay hidden meanwhile, and once the bucket exists they are written and deleted."""
    late = pipeline.bucket + "-late"
    pipeline.send_envelopes(envelopes(10))
    pipeline.bucket = late
    with archiver(pipeline, WRITE_BACKOFF_MAX_SECONDS=1) as metrics:
        wait_until(lambda: metrics.totals()["WriteFailures"] >= 1, what="a refused write")
        pipeline.s3.create_bucket(Bucket=late)
        wait_archived(pipeline, metrics, 10, timeout=20)
    assert archived(pipeline) == expected(10)


class Injected(RuntimeError):
    """A fault no branch of the archiver expects (not an AWS error)."""


def fail_once(events, event: str, error: BaseException):
    """Make the next `event` call raise `error`: a botocore hook on a real client's or
    session's `events`, so every other call still reaches moto."""
    calls = []

    def hook(**_):
        calls.append(1)
        if len(calls) == 1:
            raise error

    events.register(event, hook)
    return calls


def test_an_unexpected_error_in_a_write_releases_its_messages_and_the_archiver_goes_on(
    pipeline, caplog
):
    pipeline.send_envelopes(envelopes(10))
    fail_once(pipeline.s3.meta.events, "before-call.s3.PutObject", Injected("disk full"))
    with archiver(pipeline) as metrics:
        wait_archived(pipeline, metrics, 10)
    assert "unexpected error writing an archive object" in caplog.text
    assert metrics.totals()["Released"] >= 1  # back to the queue at once, not after 30 s
    assert archived(pipeline) == expected(10)


def test_an_unexpected_error_in_a_receive_is_logged_and_the_loop_goes_on(pipeline, caplog):
    pipeline.send_envelopes(envelopes(10))
    fail_once(
        pipeline.sqs.meta.events, "before-call.sqs.ReceiveMessage", Injected("socket gone odd")
    )
    with archiver(pipeline, RECEIVE_LOOPS=1) as metrics:
        wait_archived(pipeline, metrics, 10)
    assert archived(pipeline) == expected(10)
    unexpected = [r for r in caplog.records if "unexpected error in receive-0" in r.message]
    assert len(unexpected) == 1 and "socket gone odd" in unexpected[0].exc_text


def test_an_archiver_whose_loop_dies_exits_one_so_systemd_restarts_it(
    pipeline, monkeypatch, caplog
):
    from log_archiver.__main__ import main

    settings = pipeline.environment(RECEIVE_LOOPS=1, FLUSH_SECONDS=0.3, INSTANCE_ID="i-test")
    assert main_with_a_dying_receive_loop(main, settings, monkeypatch) == 1
    assert "the receive-0 thread died" in caplog.text
    assert "an archiver thread died" in caplog.text


def test_visibility_must_outlast_two_flushes():
    with pytest.raises(
        ConfigError, match=r"VISIBILITY_TIMEOUT_SECONDS: 60 is less than 2 x FLUSH_SECONDS \(60.0\)"
    ):
        load_config(
            {
                "QUEUE_URL": "q",
                "ARCHIVE_BUCKET": "b",
                "VISIBILITY_TIMEOUT_SECONDS": "60",
                "FLUSH_SECONDS": "60",
            }
        )
    with pytest.raises(ConfigError, match="ARCHIVE_BUCKET: required"):
        load_config({"QUEUE_URL": "q"})
    with pytest.raises(ConfigError, match="WRITE_BACKOFF_MAX_SECONDS"):
        load_config({"QUEUE_URL": "q", "ARCHIVE_BUCKET": "b", "WRITE_BACKOFF_MAX_SECONDS": "0"})


def test_sigterm_writes_the_buffer_then_exits_zero(pipeline):
    """Scale-in: the archiver holds a minute's buffer; SIGTERM writes and deletes it at once."""
    pipeline.send_envelopes(envelopes(20))
    process = start_program(
        "log_archiver",
        pipeline.environment(
            FLUSH_SECONDS=60, VISIBILITY_TIMEOUT_SECONDS=180, SHUTDOWN_GRACE_SECONDS=10
        ),
    )

    def held() -> int:
        return int(
            pipeline.sqs.get_queue_attributes(
                QueueUrl=pipeline.queue_url,
                AttributeNames=["ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        )

    wait_until(lambda: held() == 20, what="the archiver holding every message")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)

    assert process.returncode == 0, output[-2000:]
    totals = final_totals(output, "archiver stopped")
    assert totals["Messages"] > 0  # the buffer was written, not left for the timeout
    # A receive that returned as the stop began is released, not buffered: those messages are
    # back in the queue at once (not in 180 s), and every message is in exactly one place.
    records = archived(pipeline)
    written = {seq for _, seq, _, _ in records}
    released = {e["seq"] for e in pipeline.drain()}
    assert written | released == set(range(20)) and not written & released
    assert totals["Released"] == len(released)
    assert records == {r for r in expected(20) if r[1] in written}
