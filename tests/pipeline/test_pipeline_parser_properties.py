"""Properties of the log pipeline's parsers of queue bodies: whatever a body holds, the archiver
gets an envelope or Malformed, and the compaction worker a job or MalformedJob, then an hour or
BadRequest; what they accept can be written as archive lines (profiles: property_support)."""

from __future__ import annotations

import json
from datetime import datetime

from hypothesis import example, given
from log_archiver.archiver import Malformed, archive_lines, parse_envelope
from log_archiver.compaction import BadRequest, MalformedJob, hour_of, parse_job
from property_support import any_json, any_text, json_values, near, outcome

ENVELOPE = {"shipper": "web-1/3f2a9c1d", "seq": 7, "lines": ["GET / 200", "GET /a 404"]}
JOB = {"taskToken": "AQB8AAAAKgAAAAMAAAAA", "input": {"hour": "2025-01-31T09"}}


def _envelope_is_sound(body) -> None:
    envelope = outcome(parse_envelope, body, Malformed)
    if envelope is None:
        return
    for line in archive_lines(envelope):  # bytes of one JSON object each, as compaction reads
        record = json.loads(line)
        assert (record["shipper"], record["seq"]) == (envelope.shipper, envelope.seq)


@given(body=any_text())
def test_any_text_is_an_envelope_or_malformed(body):
    _envelope_is_sound(body)


@given(body=any_json())
def test_any_json_is_an_envelope_or_malformed(body):
    _envelope_is_sound(body)


@given(body=near(ENVELOPE))
@example(body="[" * 100_000 + "]" * 100_000)  # json.loads raises RecursionError
@example(body='{"shipper": "a", "seq": ' + "9" * 5000 + ', "lines": []}')  # int digit limit
def test_an_envelope_with_one_hostile_value_is_an_envelope_or_malformed(body):
    _envelope_is_sound(body)


def _job_is_sound(body) -> None:
    job = outcome(parse_job, body, MalformedJob)
    if job is None:
        return
    token, request = job
    assert isinstance(token, str) and token
    hour = outcome(hour_of, request, BadRequest)
    assert hour is None or isinstance(hour, datetime)


@given(body=any_text())
def test_any_text_is_a_job_or_malformed(body):
    _job_is_sound(body)


@given(body=any_json())
def test_any_json_is_a_job_or_malformed(body):
    _job_is_sound(body)


@given(body=near(JOB))
@example(body=json.dumps({"taskToken": "t", "input": "2025-01-31T09"}))  # killed the jobs loop
@example(body=json.dumps({"taskToken": 5}))
def test_a_job_with_one_hostile_value_is_a_job_or_malformed(body):
    _job_is_sound(body)


@given(request=json_values)
def test_any_task_input_is_an_hour_or_a_bad_request(request):
    hour = outcome(hour_of, request, BadRequest)
    assert hour is None or isinstance(hour, datetime)
