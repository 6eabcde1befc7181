"""Upload processor: validate, compress and store each uploaded file, off the request path.

Seed 001 pattern 3 (asynchronous task offloading): the web app puts the user's file in the
uploads bucket and answers at once; S3 notifies the upload-tasks queue; this function takes the
work from there. Each upload is:

  validated  - at most MAX_UPLOAD_BYTES, a .csv (UTF-8 text with a header row) or a .json
               (UTF-8, parses) file; anything else is refused with the reason;
  compressed - gzip, level 6;
  stored     - in the processed bucket under processed/<key>.gz, with the original size and
               SHA-256 in its metadata.

Bad input is not retried into success: the record fails (one log line with the reason), SQS
redelivers it, and after maxReceiveCount it waits in the DLQ for a person. Whatever a file or a
notification holds, validating it gives None or InvalidUpload, never another exception (deep
JSON, huge numbers, an oversize CSV field included): one hostile upload fails alone. Idempotent without a
table: the object is read with If-Match on the event's ETag (a stale event for a replaced file
reads nothing and is skipped, since the newer upload has its own event) and the output key is a
pure function of the input key, so a redelivery rewrites the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from dataclasses import dataclass
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from botocore.exceptions import ClientError


@dataclass(frozen=True)
class Settings:
    processed_bucket: str
    max_upload_bytes: int


def settings() -> Settings:
    return Settings(
        processed_bucket=os.environ["PROCESSED_BUCKET"],
        max_upload_bytes=int(os.environ.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)),
    )


SETTINGS = settings()
logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
s3 = boto3.client("s3")


class InvalidUpload(ValueError):
    """The file breaks a rule; processing it again will not change that."""


@dataclass(frozen=True)
class Upload:
    """One object named by an S3 event notification."""

    bucket: str
    key: str
    etag: str | None


def parse_notification(body: str) -> list[Upload]:
    """The uploads an S3 event notification names ([] for S3's test event), or InvalidUpload."""
    try:
        notification = json.loads(body)
    except (ValueError, TypeError, RecursionError):  # deep nesting, huge integers
        notification = None
    if not isinstance(notification, dict):
        raise InvalidUpload(f"not an S3 event notification: {body[:120]!r}")
    if notification.get("Event") == "s3:TestEvent":  # S3 sends one when notifications are set up
        return []
    entries = notification.get("Records")
    if not isinstance(entries, list) or not entries:
        raise InvalidUpload(f"not an S3 event notification: {body[:120]!r}")
    uploads = []
    for entry in entries:
        try:
            bucket = entry["s3"]["bucket"]["name"]
            obj = entry["s3"]["object"]
            key, etag = obj["key"], obj.get("eTag")
        except (KeyError, TypeError, AttributeError):
            raise InvalidUpload(
                "an S3 event record without s3.bucket.name and s3.object.key"
            ) from None
        if not all(isinstance(v, str) and 0 < len(v) <= 2048 for v in (bucket, key)):
            raise InvalidUpload("an S3 event record whose bucket or key is not a short string")
        if etag is not None and not isinstance(etag, str):
            raise InvalidUpload("an S3 event record whose eTag is not a string")
        uploads.append(Upload(bucket, unquote_plus(key), etag))  # S3 URL-encodes keys in events
    return uploads


def validate(key: str, data: bytes) -> None:
    """Raise InvalidUpload naming the first rule `data` breaks."""
    if not key.endswith((".csv", ".json")):
        raise InvalidUpload(f"{key}: only .csv and .json uploads are accepted")
    if len(data) > SETTINGS.max_upload_bytes:
        raise InvalidUpload(
            f"{key}: {len(data)} bytes is over the {SETTINGS.max_upload_bytes}-byte limit"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidUpload(
            f"{key}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    if key.endswith(".json"):
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidUpload(
                f"{key}: not valid JSON ({error.msg}, line {error.lineno})"
            ) from None
        except (ValueError, RecursionError) as error:  # huge integers, deep nesting
            raise InvalidUpload(f"{key}: not JSON this processor reads ({error})"[:300]) from None
        return
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:  # e.g. a field over csv's size limit
        raise InvalidUpload(f"{key}: not a CSV this processor reads ({error})") from None
    if len(rows) < 2 or not all(cell.strip() for cell in rows[0]):
        raise InvalidUpload(f"{key}: a CSV needs a header row of named columns and data")
    widths = {len(row) for row in rows if row}
    if len(widths) != 1:
        raise InvalidUpload(f"{key}: rows have {sorted(widths)} columns; all need the header's")


def process_object(bucket: str, key: str, etag: str | None) -> str:
    """Validate, compress and store one uploaded object; return what happened."""
    request = {"Bucket": bucket, "Key": key}
    if etag:
        request["IfMatch"] = etag
    try:
        data = s3.get_object(**request)["Body"].read()
    except ClientError as error:
        if error.response["Error"]["Code"] in ("PreconditionFailed", "412"):
            return "skipped: replaced by a newer upload, which has its own event"
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return "skipped: deleted before it was processed"
        raise
    validate(key, data)
    s3.put_object(
        Bucket=SETTINGS.processed_bucket,
        Key=f"processed/{key}.gz",
        Body=gzip.compress(data, compresslevel=6, mtime=0),  # mtime 0: same input, same bytes
        ContentType="application/gzip",
        Metadata={
            "original-size": str(len(data)),
            "sha256": hashlib.sha256(data).hexdigest(),
            "source": f"s3://{bucket}/{key}",
        },
    )
    return "stored"


def record_handler(record) -> list[str]:
    try:
        uploads = parse_notification(record.body)
    except InvalidUpload as reason:
        logger.error(
            "task refused",
            message_id=record.message_id,
            receive_count=record.attributes.approximate_receive_count,
            reason=str(reason),
        )
        raise
    if not uploads:
        return ["test event"]
    outcomes = []
    for upload in uploads:
        try:
            outcome = process_object(upload.bucket, upload.key, upload.etag)
        except InvalidUpload as reason:
            logger.error(
                "upload refused",
                key=upload.key,
                reason=str(reason),
                message_id=record.message_id,
                receive_count=record.attributes.approximate_receive_count,
            )
            raise
        logger.info("upload processed", key=upload.key, outcome=outcome)
        outcomes.append(outcome)
    return outcomes


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
