"""The log shipper on moto's SQS: full requests, only failed entries handled again, backoff, drain."""

from __future__ import annotations

import io
import json
import signal
import threading
import time

import pytest
from log_shipper.config import ConfigError, load_config
from log_shipper.sender import MAX_REQUEST_BYTES, BatchSender, Entry, batches, retryable_failures
from log_shipper.shipper import COUNTERS, Shipper
from log_shipper.sources import follow, generate
from pipeline_runtime.runtime import Backoff, Metrics
from pipeline_support import final_totals, start_program, wait_until

pytestmark = pytest.mark.engines


def shipper(pipeline, **env) -> tuple[Shipper, Metrics]:
    config = load_config({"QUEUE_URL": pipeline.queue_url, "LINGER_SECONDS": "0.05", **env})
    metrics = Metrics(config.metrics_namespace, COUNTERS, stream=io.StringIO())
    return Shipper(config, pipeline.sqs, metrics, max_message_size=MAX_REQUEST_BYTES), metrics


def test_lines_are_packed_into_messages_and_messages_into_full_requests(pipeline):
    ship, metrics = shipper(pipeline, MAX_MESSAGE_BYTES="4096")
    ship.read(generate(0, threading.Event(), count=1500, seed=1))
    ship.run()

    envelopes = pipeline.drain()
    lines = [line for e in envelopes for line in e["lines"]]
    assert len(lines) == 1500 and len(set(lines)) == 1500  # every line once (each has its id)
    assert all(len(json.dumps(e, separators=(",", ":"))) <= 4096 for e in envelopes)
    assert sorted(e["seq"] for e in envelopes) == list(range(len(envelopes)))
    totals = metrics.totals()
    # ~25 lines a message, 10 messages a request: two orders of magnitude under one call a line.
    assert totals["Lines"] == 1500 and totals["Requests"] <= len(envelopes) / 10 + 2
    assert totals["Requests"] / totals["Lines"] < 0.01


def test_requests_close_at_ten_entries_or_the_request_size_limit():
    small = [Entry("x" * 10) for _ in range(25)]
    assert [len(b) for b in batches(small)] == [10, 10, 5]
    big = [Entry("x" * 400_000) for _ in range(5)]
    assert [len(b) for b in batches(big)] == [2, 2, 1]  # 3 x 400 KB would pass 1 MiB
    assert all(sum(e.size for e in b) <= MAX_REQUEST_BYTES for b in batches(big))


def test_an_entry_sqs_refuses_in_a_partial_batch_is_not_resent_and_the_rest_go_once(pipeline):
    """moto reports an out-of-range DelaySeconds on one entry as a `Failed` entry of a 200
    response, the partial failure SendMessageBatch documents: the nine others are stored."""
    refused = []
    sender = BatchSender(
        pipeline.sqs,
        pipeline.queue_url,
        on_refused=lambda e, code, _: refused.append((e.body, code)),
    )
    entries = [Entry(f"line {i}") for i in range(10)]
    entries[3].delay_seconds = 901

    sender.send(entries)

    assert sender.calls == 1
    assert refused == [("line 3", "InvalidParameterValue")]
    bodies = sorted(
        m["Body"]
        for _ in range(3)
        for m in pipeline.sqs.receive_message(
            QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
    )
    assert bodies == sorted(f"line {i}" for i in range(10) if i != 3)


def test_only_the_entries_sqs_blames_on_itself_are_sent_again():
    """`SenderFault` decides: false (SQS failed) is retried, true (the entry is wrong) is not."""
    moto_failure = {"Id": "3", "SenderFault": True, "Code": "InvalidParameterValue"}
    server_failure = {"Id": "7", "SenderFault": False, "Code": "InternalError"}
    again, refuse = retryable_failures([moto_failure, server_failure])
    assert again == [server_failure] and refuse == [moto_failure]


def test_a_request_refused_whole_for_one_entry_is_halved_until_that_entry_is_alone(pipeline):
    """An entry over the queue's MaximumMessageSize fails the whole request on moto: the sender
    halves it, so the nine good entries still go, once each, and the bad one is refused."""
    pipeline.sqs.set_queue_attributes(
        QueueUrl=pipeline.queue_url, Attributes={"MaximumMessageSize": "1024"}
    )
    refused = []
    sender = BatchSender(
        pipeline.sqs, pipeline.queue_url, on_refused=lambda e, code, _: refused.append(e.size)
    )
    entries = [Entry(f"{i}:" + "x" * (2000 if i == 6 else 10)) for i in range(10)]

    sender.send(entries)

    assert refused == [2002]
    assert sender.calls <= 7  # 1 + halves down to the bad entry, not 1 + 10
    stored = [
        m["Body"]
        for _ in range(3)
        for m in pipeline.sqs.receive_message(
            QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
    ]
    assert sorted(stored) == sorted(e.body for i, e in enumerate(entries) if i != 6)


def test_a_queue_that_is_not_there_yet_is_retried_with_backoff_and_nothing_is_lost(pipeline):
    """A real whole-request error (the queue does not exist, as during a deploy): the request
    is kept and retried with jittered backoff until the queue appears."""
    name = "late-" + pipeline.bucket
    url = pipeline.queue_url.rsplit("/", 1)[0] + "/" + name
    sender = BatchSender(
        pipeline.sqs, url, on_refused=pytest.fail, backoff=Backoff(base=0.05, cap=0.2)
    )
    creator = threading.Timer(0.3, lambda: pipeline.sqs.create_queue(QueueName=name))
    creator.start()

    sender.send([Entry(f"line {i}") for i in range(10)])

    creator.join()
    assert sender.calls >= 2
    assert pipeline.depth(url) == 10


def test_backoff_grows_exponentially_to_its_cap_with_full_jitter():
    backoff = Backoff(base=0.1, cap=2.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert all(0 <= backoff.delay(n) <= backoff.ceiling(n) for n in range(50))


def test_a_line_too_long_for_the_queue_is_refused_without_a_request(pipeline):
    config = load_config({"QUEUE_URL": pipeline.queue_url, "LINGER_SECONDS": "0.05"})
    metrics = Metrics(config.metrics_namespace, COUNTERS, stream=io.StringIO())
    ship = Shipper(config, pipeline.sqs, metrics, max_message_size=2048)
    ship.read(iter(["short", "y" * 5000, "also short"]))
    ship.run()

    assert [e["lines"] for e in pipeline.drain()] == [["short", "also short"]]
    assert metrics.totals()["Refused"] == 1


def test_a_followed_file_is_read_across_rotation(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("written before the shipper started\n")
    stopping = threading.Event()
    got = []
    reader = threading.Thread(target=lambda: got.extend(follow(str(path), stopping, poll=0.02)))
    reader.start()
    time.sleep(0.1)
    with path.open("a") as log:
        log.write("one\ntwo\n")
    wait_until(lambda: len(got) == 2, what="the appended lines")
    path.rename(tmp_path / "app.log.1")
    path.write_text("three\n")
    wait_until(lambda: len(got) == 3, what="the rotated file's line")
    stopping.set()
    reader.join()
    assert got == ["one", "two", "three"]


def test_a_bad_setting_stops_the_shipper_at_start_naming_the_variable():
    with pytest.raises(ConfigError, match="QUEUE_URL: required"):
        load_config({})
    with pytest.raises(ConfigError, match="LOG_SOURCE: 'app.log' is neither"):
        load_config({"QUEUE_URL": "q", "LOG_SOURCE": "app.log"})
    with pytest.raises(ConfigError, match="MAX_MESSAGE_BYTES: 2000000 is outside"):
        load_config({"QUEUE_URL": "q", "MAX_MESSAGE_BYTES": "2000000"})


def test_sigterm_drains_what_was_read_and_exits_zero(pipeline):
    """Scale-in: systemd sends SIGTERM; the shipper stops reading, sends what it read, exits 0."""
    process = start_program(
        "log_shipper",
        pipeline.environment(
            GENERATE_LINES_PER_SECOND=400, LINGER_SECONDS=0.5, SHUTDOWN_GRACE_SECONDS=5
        ),
    )
    wait_until(lambda: pipeline.depth() > 0, what="the first request")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)

    assert process.returncode == 0, output[-2000:]
    totals = final_totals(output, "shipper stopped")
    assert totals["Unsent"] == 0 and totals["Refused"] == 0
    shipped = [line for e in pipeline.drain() for line in e["lines"]]
    assert len(shipped) == totals["Lines"] > 0


def test_a_source_that_fails_mid_read_ships_what_was_read_and_reports_failure(pipeline):
    def three_lines_then_a_broken_disk():
        yield from ("one", "two", "three")
        raise OSError(5, "Input/output error")

    ship, metrics = shipper(pipeline)
    ship.read(three_lines_then_a_broken_disk())
    ship.run()

    assert ship.failed()
    assert [line for e in pipeline.drain() for line in e["lines"]] == ["one", "two", "three"]
    assert metrics.totals()["Unsent"] == 0


def test_a_source_the_program_cannot_read_exits_one_for_systemd_to_restart(pipeline, tmp_path):
    """LOG_SOURCE names a directory: the read fails at once, and a clean exit 0 would tell
    systemd (Restart=on-failure) that all is well while nothing is shipped."""
    process = start_program("log_shipper", pipeline.environment(LOG_SOURCE=str(tmp_path)))
    output, _ = process.communicate(timeout=30)

    assert process.returncode == 1, output[-2000:]
    assert "reading the source failed" in output and "IsADirectoryError" in output
