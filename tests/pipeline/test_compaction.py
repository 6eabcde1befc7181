"""Step Functions waiting on a queue: the hourly compaction, on moto's Step Functions, SQS and S3.

moto runs the state machine's definition as synthesized (with `execute_state_machine` on): the
task really sends the job with its token to the queue and waits; the archiver's compaction
worker really receives it, heartbeats and answers. Only the waits are shortened for a test.
"""

from __future__ import annotations

import gzip
import json
import threading
from datetime import UTC, datetime

import pytest
from log_archiver.archiver import archive_lines, parse_envelope
from log_archiver.compaction import BadRequest, compact_hour, hour_of

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
