"""Helpers for the log pipeline tests: one test's queue and bucket, and ways to run the programs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import waiting

PIPELINE_DIR = Path(__file__).resolve().parents[1] / "log_pipeline"


@dataclass
class PipelineLab:
    """One test's log queue (with DLQ) and archive bucket on moto."""

    moto: object
    sqs: object
    s3: object
    queue_url: str
    dlq_url: str
    bucket: str

    def environment(self, **overrides) -> dict[str, str]:
        """What a shipper or archiver process needs to reach this lab (plus `overrides`)."""
        return {
            **self.moto.environment(),
            "QUEUE_URL": self.queue_url,
            "ARCHIVE_BUCKET": self.bucket,
            "RECEIVE_WAIT_SECONDS": "0",  # short polling: a stop does not wait out a long poll
            "METRICS_INTERVAL_SECONDS": "1",
            **{k: str(v) for k, v in overrides.items()},
        }

    def depth(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def drain(self) -> list[dict]:
        """Receive and delete everything in the log queue; return the parsed envelopes."""
        envelopes = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return envelopes
            envelopes += [json.loads(m["Body"]) for m in messages]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def objects(self, prefix: str = "raw/") -> dict[str, list[dict]]:
        """`{key: [archive records]}` for every object under `prefix`."""
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                found[item["Key"]] = [
                    json.loads(line) for line in gzip.decompress(body).splitlines()
                ]
        return found

    def send_envelopes(self, envelopes: list[dict]) -> None:
        for start in range(0, len(envelopes), 10):
            self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(e)}
                    for i, e in enumerate(envelopes[start : start + 10])
                ],
            )


def start_program(module: str, environment: dict[str, str]) -> subprocess.Popen:
    """`python -m <module>` from log_pipeline/, as systemd starts it on an instance."""
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env={**os.environ, **environment, "PYTHONPATH": str(PIPELINE_DIR)},
        cwd=PIPELINE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def final_totals(output: str, message: str) -> dict:
    """The fields of the program's last log line whose message is `message`."""
    for line in reversed(output.splitlines()):
        if line.startswith("{") and json.loads(line).get("message") == message:
            return json.loads(line)
    raise AssertionError(f"no {message!r} line in:\n{output[-2000:]}")


def wait_until(predicate, timeout: float = 30.0, what="condition") -> None:
    """`waiting.wait_until` with the pipeline tests' longer default and a finer poll."""
    waiting.wait_until(predicate, timeout=timeout, interval=0.05, what=what)
