"""Step Functions waiting on a queue: the hourly compaction, on moto's Step Functions, SQS and S3.

moto runs the state machine's definition as synthesized (with `execute_state_machine` on): the
task really sends the job with its token to the queue and waits; the archiver's compaction
worker really receives it, heartbeats and answers. Only the waits are shortened for a test.
"""

from __future__ import annotations

import gzip
import io
import json
import threading
import uuid
from datetime import UTC, datetime

import pytest
from log_archiver.archiver import COUNTERS, archive_lines, parse_envelope
from log_archiver.compaction import BadRequest, CompactionWorker, compact_hour, hour_of
from log_archiver.config import load_config
from pipeline_runtime.runtime import Metrics
from pipeline_support import wait_until

pytestmark = pytest.mark.engines
HOUR = datetime(2025, 1, 31, 9, tzinfo=UTC)


def put_raw(pipeline, name: str, envelopes: list[dict], hour: datetime = HOUR) -> None:
    lines = [line for e in envelopes for line in archive_lines(parse_envelope(json.dumps(e)))]
    pipeline.s3.put_object(
        Bucket=pipeline.bucket,
        Key=f"raw/dt={hour:%Y-%m-%d}/hour={hour:%H}/{name}.jsonl.gz",
        Body=gzip.compress(b"".join(lines)),
    )


def envelope(seq: int, shipper: str = "web-1/a") -> dict:
    return {"shipper": shipper, "seq": seq, "lines": [f"{shipper} {seq} {i}" for i in range(2)]}


def test_compaction_merges_the_hour_and_drops_messages_archived_twice(pipeline):
    """At-least-once: message 2 was delivered twice and archived by two archivers."""
    put_raw(pipeline, "a", [envelope(1), envelope(2)])
    put_raw(pipeline, "b", [envelope(2), envelope(3), envelope(1, "web-2/b")])
    put_raw(pipeline, "c", [envelope(9)], hour=datetime(2025, 1, 31, 10, tzinfo=UTC))

    summary = compact_hour(pipeline.s3, pipeline.bucket, "raw/", "hourly/", HOUR, threading.Event())

    assert summary == {
        "hour": "2025-01-31T09",
        "parts": 2,
        "lines": 8,
        "duplicates": 2,
        "key": "hourly/dt=2025-01-31/hour=09/logs.jsonl.gz",
        "bytes": summary["bytes"],
    }
    [records] = pipeline.objects("hourly/").values()
    assert sorted((r["shipper"], r["seq"], r["i"]) for r in records) == sorted(
        [("web-1/a", s, i) for s in (1, 2, 3) for i in range(2)]
        + [("web-2/b", 1, 0), ("web-2/b", 1, 1)]
    )
    again = compact_hour(pipeline.s3, pipeline.bucket, "raw/", "hourly/", HOUR, threading.Event())
    assert again == summary  # idempotent: a retried job writes the same object


def test_the_hour_is_named_or_the_one_before_the_schedule_fired():
    assert hour_of({"hour": "2025-01-31T09"}) == HOUR
    assert hour_of({"requestedAt": "2025-01-31T10:10:00Z"}) == HOUR
    with pytest.raises(BadRequest, match="needs hour"):
        hour_of({"hour": "yesterday"})


# -- the state machine as synthesized, run by moto ---------------------------------------------


@pytest.fixture(scope="module")
def synthesized_definition(synthesized_app) -> list:
    """The compaction state machine's DefinitionString parts from the sandbox template."""
    template = synthesized_app("sandbox").template_json("LogPipeline")
    [machine] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return machine["DefinitionString"]["Fn::Join"][1]


@pytest.fixture
def compaction(pipeline, synthesized_definition):
    """The synthesized state machine on moto, sending to a fresh jobs queue (heartbeat 2 s and
    a 1 s retry interval instead of minutes), and an archiver's compaction worker config."""
    pipeline.moto.run_state_machines()
    jobs = pipeline.sqs.create_queue(
        QueueName=f"jobs-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "10"}
    )["QueueUrl"]
    text = "".join(
        part if isinstance(part, str) else ("aws" if part["Ref"] == "AWS::Partition" else jobs)
        for part in synthesized_definition
    )
    definition = json.loads(text)
    task = definition["States"]["CompactHour"]
    task["HeartbeatSeconds"], task["TimeoutSeconds"] = 2, 60
    task["Retry"][0]["IntervalSeconds"] = 1
    sfn = pipeline.moto.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"compaction-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/compaction",
    )["stateMachineArn"]
    config = load_config(
        pipeline.environment(
            JOBS_QUEUE_URL=jobs, TASK_HEARTBEAT_SECONDS=2, JOBS_VISIBILITY_TIMEOUT_SECONDS=10
        )
    )
    metrics = Metrics(config.metrics_namespace, COUNTERS, stream=io.StringIO())
    worker = CompactionWorker(config, pipeline.sqs, pipeline.s3, sfn, metrics)
    return sfn, machine, jobs, worker


def run(sfn, machine: str, request: dict) -> str:
    return sfn.start_execution(
        stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps(request)
    )["executionArn"]


def finished(sfn, execution: str, timeout: float = 30.0) -> dict:
    wait_until(
        lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING",
        timeout=timeout,
        what="the execution to end",
    )
    return sfn.describe_execution(executionArn=execution)


def last_state(sfn, execution: str) -> str:
    events = sfn.get_execution_history(executionArn=execution)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ][-1]


def take_job(pipeline, jobs: str) -> dict:
    wait_until(
        lambda: (
            int(
                pipeline.sqs.get_queue_attributes(
                    QueueUrl=jobs, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            > 0
        ),
        what="the job message",
    )
    return pipeline.sqs.receive_message(QueueUrl=jobs, VisibilityTimeout=10)["Messages"][0]


def test_step_functions_waits_on_the_queue_until_the_worker_answers(pipeline, compaction):
    sfn, machine, jobs, worker = compaction
    put_raw(pipeline, "a", [envelope(1), envelope(2)])
    put_raw(pipeline, "b", [envelope(2)])

    execution = run(sfn, machine, {"hour": "2025-01-31T09"})
    job = take_job(pipeline, jobs)
    body = json.loads(job["Body"])
    assert body["input"] == {"hour": "2025-01-31T09"} and body["taskToken"]
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"  # it waits

    assert worker.handle(job) == "succeeded"
    result = finished(sfn, execution)
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["compaction"]["parts"] == 2 and output["compaction"]["duplicates"] == 2
    assert last_state(sfn, execution) == "HourCompacted"
    assert (
        int(
            pipeline.sqs.get_queue_attributes(
                QueueUrl=jobs, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        == 0
    )

    empty = run(sfn, machine, {"requestedAt": "2025-01-31T03:10:00Z"})  # nothing archived at 02:00
    assert worker.handle(take_job(pipeline, jobs)) == "succeeded"
    assert finished(sfn, empty)["status"] == "SUCCEEDED"
    assert last_state(sfn, empty) == "NothingToCompact"


def test_a_silent_worker_times_the_task_out_and_the_retry_sends_the_job_again(pipeline, compaction):
    """The first worker takes the job and dies (no heartbeat): after HeartbeatSeconds the task
    fails with States.Timeout, the Retry sends the job again, and a live worker finishes it. The
    dead worker's message, redelivered later, finds its task over and is dropped, not redone."""
    sfn, machine, jobs, worker = compaction
    put_raw(pipeline, "a", [envelope(1)])
    execution = run(sfn, machine, {"hour": "2025-01-31T09"})

    silent = take_job(pipeline, jobs)  # and never answered
    retried = take_job(pipeline, jobs)  # arrives only after the heartbeat timeout
    assert worker.handle(retried) == "succeeded"
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert any(e["type"] == "TaskTimedOut" for e in history)

    assert worker.handle(silent) == "token dead"


def test_a_job_the_worker_cannot_do_fails_the_execution_without_a_retry(pipeline, compaction):
    sfn, machine, jobs, worker = compaction
    execution = run(sfn, machine, {"hour": "yesterday"})

    assert worker.handle(take_job(pipeline, jobs)) == "failed"
    result = finished(sfn, execution)
    assert result["status"] == "FAILED"
    assert last_state(sfn, execution) == "CompactionFailedState"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert (
        sum(e["type"] == "TaskScheduled" for e in history) == 1
    )  # Compaction.BadRequest is not retried


def test_a_task_input_that_is_not_an_object_is_a_bad_request():
    for hostile in ("2025-01-31T09", ["hour"], 7, None):
        with pytest.raises(BadRequest, match="must be a JSON object"):
            hour_of(hostile)


def test_a_raw_part_with_a_line_that_is_not_a_record_fails_the_job_and_not_the_worker(
    pipeline, compaction
):
    """Only archivers write raw/, but a bad part must cost one job (Compaction.Failed, which the
    state machine retries and then reports), never the jobs loop."""
    sfn, machine, jobs, worker = compaction
    pipeline.s3.put_object(
        Bucket=pipeline.bucket,
        Key=f"raw/dt={HOUR:%Y-%m-%d}/hour={HOUR:%H}/bad.jsonl.gz",
        Body=gzip.compress(b'["not", "a", "record"]\n'),
    )
    run(sfn, machine, {"hour": "2025-01-31T09"})

    assert worker.handle(take_job(pipeline, jobs)) == "failed"
