"""Log pipeline lab: producer fleet -> SQS -> consumer fleet -> S3, and Step Functions waiting on
a queue, played on local engines with the real programs.

Starts moto (SQS, S3, Step Functions that really run their definitions) and plays seed 001's
pattern 4 with the processes systemd runs on the LogPipeline stack's instances:

  1. shipper processes (`python -m log_shipper`) generate access-log lines at a rate and ship
     them in full SendMessageBatch requests; a poison message comes in by another door;
  2. archiver processes (`python -m log_archiver`) drain the queue into gzip'd objects under
     raw/dt=.../hour=.../, while a progress line shows the backlog and the objects;
  3. scale-in: the shippers get SIGTERM and send what they read; then one archiver gets SIGTERM
     and writes its buffer before it exits; the other drains the rest;
  4. every line the shippers sent is in the archive (the lab exits non-zero if one is missing),
     and the poison message is in the dead-letter queue;
  5. Step Functions waits on a queue: the compaction state machine, as synthesized (its waits
     shortened), sends this hour's job with its task token to the jobs queue and waits; the
     running archiver takes it, heartbeats, merges the hour and answers SendTaskSuccess.

    python -m labs.log_pipeline_lab [--shippers 2] [--archivers 2] [--rate 300] [--seconds 8]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "log_pipeline"


def synthesized_compaction_definition() -> list:
    """Synthesize the LogPipeline stack alone (sandbox) and return its state machine definition."""
    import aws_cdk as cdk

    sys.path.insert(0, str(ROOT / "constructs"))
    from stacks.log_pipeline_stack import LogPipelineStack
    from stacks.profiles import SANDBOX

    context = json.loads((ROOT / "cdk.json").read_text())["context"] | {"profile": "sandbox"}
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(context=context, outdir=outdir, builtin_cloud_formation_validation=False)
        LogPipelineStack(app, "LogPipeline", profile=SANDBOX)
        template = app.synth().get_stack_by_name("LogPipeline").template
    [machine] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return machine["DefinitionString"]["Fn::Join"][1]


def progress(line: str) -> None:
    if sys.stdout.isatty():
        print(f"\r{line:<100}", end="", flush=True)
    else:
        print(line, flush=True)


def depth(sqs, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def archived(s3, bucket: str, prefix: str = "raw/") -> list[dict]:
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            records += [json.loads(line) for line in gzip.decompress(body).splitlines()]
    return records


def object_count(s3, bucket: str, prefix: str = "raw/") -> int:
    return sum(
        page.get("KeyCount", 0)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )


def last_json(path: Path, message: str) -> dict:
    for line in reversed(path.read_text().splitlines()):
        if line.startswith("{") and json.loads(line).get("message") == message:
            return json.loads(line)
    return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shippers", type=int, default=2)
    parser.add_argument("--archivers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=300, help="lines a second per shipper")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long the shippers run")
    options = parser.parse_args(argv)

    from labs.local_engines import moto_server

    print("synthesizing the LogPipeline stack to read the compaction state machine ...", flush=True)
    definition_parts = synthesized_compaction_definition()
    print("starting moto (SQS, S3, Step Functions that run their definitions) ...", flush=True)
    with moto_server() as moto, contextlib.ExitStack() as stack:
        moto.run_state_machines()
        sqs, s3, sfn = moto.client("sqs"), moto.client("s3"), moto.client("stepfunctions")
        queues = {}
        for name, visibility in (("logs", 6), ("jobs", 10)):
            dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            queues[name] = sqs.create_queue(
                QueueName=name,
                Attributes={
                    "VisibilityTimeout": str(visibility),
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
                    ),
                },
            )["QueueUrl"]
            queues[f"{name}-dlq"] = dlq
        bucket = f"archive-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)

        logs_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        common = {
            **os.environ,
            **moto.environment(),
            "PYTHONPATH": str(PIPELINE),
            "QUEUE_URL": queues["logs"],
            "METRICS_INTERVAL_SECONDS": "60",
        }
        processes: list[tuple[str, subprocess.Popen, Path]] = []

        def start(module: str, name: str, **env) -> tuple[str, subprocess.Popen, Path]:
            log_path = logs_dir / f"{name}.log"
            handle = stack.enter_context(open(log_path, "w"))  # noqa: SIM115
            process = subprocess.Popen(
                [sys.executable, "-m", module],
                env={**common, **{k: str(v) for k, v in env.items()}},
                cwd=PIPELINE,
                stdout=handle,
                stderr=handle,
            )
            processes.append((name, process, log_path))
            return name, process, log_path

        stack.callback(lambda: [p.kill() for _, p, _ in processes if p.poll() is None])

        print(
            f"\n1. {options.shippers} shippers generate {options.rate} lines/s each and ship them "
            "(64 KiB messages, 10 to a SendMessageBatch)"
        )
        shippers = [
            start(
                "log_shipper",
                f"shipper-{n}",
                GENERATE_LINES_PER_SECOND=options.rate,
                LINGER_SECONDS=0.5,
                SHIPPER_ID=f"web-{n}",
                SHUTDOWN_GRACE_SECONDS=10,
            )
            for n in range(options.shippers)
        ]
        sqs.send_message(QueueUrl=queues["logs"], MessageBody='{"shipper": "nobody"}')
        print("   and one poison message (JSON, not a shipper's envelope) by another door")

        print(f"\n2. {options.archivers} archivers drain the queue into s3://{bucket}/raw/")
        archivers = [
            start(
                "log_archiver",
                f"archiver-{n}",
                ARCHIVE_BUCKET=bucket,
                RECEIVE_WAIT_SECONDS=1,
                VISIBILITY_TIMEOUT_SECONDS=6,
                FLUSH_SECONDS=2,
                JOBS_QUEUE_URL=queues["jobs"],
                JOBS_VISIBILITY_TIMEOUT_SECONDS=10,
                TASK_HEARTBEAT_SECONDS=6,
                SHUTDOWN_GRACE_SECONDS=10,
                INSTANCE_ID=f"i-{n}",
            )
            for n in range(options.archivers)
        ]
        started = time.monotonic()
        while time.monotonic() - started < options.seconds:
            visible, in_flight = depth(sqs, queues["logs"])
            progress(
                f"   {time.monotonic() - started:4.1f} s  queue: {visible} waiting, "
                f"{in_flight} in archivers' buffers  objects: {object_count(s3, bucket)}"
            )
            time.sleep(1)
        print()

        print(
            "\n3. scale-in: SIGTERM to the shippers (they send what they read), then to archiver-0"
        )
        for _, process, _ in shippers:
            process.send_signal(signal.SIGTERM)
        sent = 0
        for name, process, log_path in shippers:
            code = process.wait(timeout=30)
            totals = last_json(log_path, "shipper stopped")
            sent += totals.get("Lines", 0)
            calls = totals.get("Requests", 0) / max(1, totals.get("Lines", 1))
            print(
                f"   {name}: exit {code}, {totals.get('Lines', 0)} lines in "
                f"{totals.get('Messages', 0)} messages and {totals.get('Requests', 0)} requests "
                f"({calls:.4f} SQS calls a line), unsent {totals.get('Unsent', 0)}"
            )
        first_name, first, first_log = archivers[0]
        first.send_signal(signal.SIGTERM)
        code = first.wait(timeout=30)
        print(
            f"   {first_name}: exit {code} after writing its buffer "
            f"({last_json(first_log, 'archiver stopped').get('Messages', 0)} messages archived)"
        )
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < 60:
            visible, in_flight = depth(sqs, queues["logs"])
            dead, _ = depth(sqs, queues["logs-dlq"])
            progress(
                f"   draining: {visible} waiting, {in_flight} in buffers, {dead} dead-lettered"
            )
            if visible == in_flight == 0 and dead == 1:
                break
            time.sleep(0.5)
        print()

        print("\n4. the archive against what the shippers sent")
        records = archived(s3, bucket)
        distinct = {(r["shipper"], r["seq"], r["i"]) for r in records}
        dead, _ = depth(sqs, queues["logs-dlq"])
        print(
            f"   {object_count(s3, bucket)} objects, {len(records)} archived lines "
            f"({len(records) - len(distinct)} duplicates from redelivery), "
            f"{len(distinct)} distinct; shippers sent {sent}; dead letters: {dead}"
        )
        lost = sent - len(distinct)

        print("\n5. Step Functions waits on a queue: compact this hour")
        hour = datetime.now(UTC)
        jobs = queues["jobs"]
        definition = json.loads(
            "".join(
                part
                if isinstance(part, str)
                else ("aws" if part["Ref"] == "AWS::Partition" else jobs)
                for part in definition_parts
            )
        )
        definition["States"]["CompactHour"]["HeartbeatSeconds"] = 6
        machine = sfn.create_state_machine(
            name="compaction",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/compaction",
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=machine, name="lab", input=json.dumps({"hour": f"{hour:%Y-%m-%dT%H}"})
        )["executionArn"]
        print(f"   execution started for hour {hour:%Y-%m-%dT%H}; it sent the job and waits")
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            time.sleep(0.3)
        result = sfn.describe_execution(executionArn=execution)
        compaction = json.loads(result.get("output", "{}")).get("compaction", {})
        print(
            f"   {result['status']}: the running archiver merged {compaction.get('parts')} objects into "
            f"{compaction.get('key')}: {compaction.get('lines')} lines, "
            f"{compaction.get('duplicates')} duplicate lines dropped"
        )
        for _, process, _ in archivers[1:]:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    print(
        f"\nsummary: {sent} lines shipped, {len(distinct)} archived, {max(0, lost)} lost; "
        f"poison message dead-lettered: {dead == 1}; compaction: {result['status']}"
    )
    return 0 if lost == 0 and dead == 1 and result["status"] == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
