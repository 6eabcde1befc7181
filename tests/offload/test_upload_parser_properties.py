"""Properties of the upload processor's parsers: whatever a task's body or an uploaded file
holds, parse_notification gives the uploads or InvalidUpload and validate gives None or
InvalidUpload (profiles: property_support)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_support import any_json, any_text, hostile_characters, near, outcome, raw_tokens

from labs.lambda_local import load_handler

NOTIFICATION = {
    "Records": [
        {
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": "uploads"},
                "object": {"key": "incoming/orders+march.csv", "size": 30, "eTag": "0f343b0931"},
            },
        }
    ]
}


@pytest.fixture(scope="module")
def processor(moto):
    os.environ.update(moto.environment())
    os.environ.setdefault("PROCESSED_BUCKET", "processed-properties")
    module = load_handler("upload_processor")
    configured = module.SETTINGS
    # The default limit (10 MiB), so that big files reach the JSON and CSV parsers.
    module.SETTINGS = module.Settings(configured.processed_bucket, 10 * 1024 * 1024)
    yield module
    module.SETTINGS = configured


def _uploads_are_sound(processor, body) -> None:
    uploads = outcome(processor.parse_notification, body, processor.InvalidUpload)
    for upload in uploads or []:
        assert isinstance(upload.bucket, str) and isinstance(upload.key, str)


@given(body=any_text())
def test_any_text_as_a_task_is_uploads_or_invalid(processor, body):
    _uploads_are_sound(processor, body)


@given(body=any_json())
def test_any_json_as_a_task_is_uploads_or_invalid(processor, body):
    _uploads_are_sound(processor, body)


@given(body=near(NOTIFICATION))
def test_a_notification_with_one_hostile_value_is_uploads_or_invalid(processor, body):
    _uploads_are_sound(processor, body)


csv_cells = st.text(hostile_characters, max_size=20) | st.builds(
    lambda c, n: c * n, hostile_characters, st.integers(1, 300_000)
)
text_files = st.one_of(
    (any_text() | any_json()).map(lambda text: text.encode("utf-8", "surrogatepass")),
    raw_tokens.map(str.encode),
    st.lists(st.lists(csv_cells, max_size=4), max_size=5).map(
        lambda rows: "\n".join(",".join(row) for row in rows).encode("utf-8", "surrogatepass")
    ),
)
KEYS = st.sampled_from(["a.csv", "a.json", "a.txt", "a.csv.exe", ".json"])


@given(key=KEYS, data=text_files)
def test_any_text_file_is_valid_or_invalid(processor, key, data):
    outcome(lambda d: processor.validate(key, d), data, processor.InvalidUpload)


@given(key=KEYS, data=st.binary(max_size=3000))
def test_any_bytes_are_a_valid_file_or_invalid(processor, key, data):
    outcome(lambda d: processor.validate(key, d), data, processor.InvalidUpload)
