"""Large-payload lab: the claim-check pattern, for payloads over the SQS message size limit.

A producer has a report of `--size-kib` KiB to hand to a consumer. Sent as a message body it is
refused when it is over the limit. With a claim check, the producer stores the body in S3 and
sends a small message that points to it (bucket, key, size, SHA-256); the consumer fetches the
object, checks it is the one that was sent, processes it, deletes the message and then the
object. A lifecycle rule on the bucket removes whatever a crash leaves behind.

    python -m labs large-payload [--size-kib 1536] [--threshold-kib 1024]
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from typing import Annotated

import typer
from botocore.exceptions import ClientError

from labs.engines import Engines, make_queue, unique
from labs.registry import CHECKED, lab
from labs.story import Story
from labs.teaching import play

SQS_MAX_BYTES = 1_048_576  # 1 MiB; see the registry's exam points for the pages, as of CHECKED
BILLING_CHUNK = 64 * 1024


@dataclass
class LargePayloadObservation:
    payload_bytes: int
    inline_refused: bool
    via_s3: bool
    message_bytes: int
    verified: bool
    object_left: bool

    @property
    def headline(self) -> str:
        inline = "refused" if self.inline_refused else "accepted"
        return (
            f"a {self.payload_bytes:,}-byte body sent as it is: {inline} (limit "
            f"{SQS_MAX_BYTES:,} bytes as of {CHECKED}); through the claim check: a "
            f"{self.message_bytes:,}-byte message, payload {'verified' if self.verified else 'NOT verified'}"
            f" by SHA-256, object {'left behind' if self.object_left else 'deleted'} after processing"
        )


def report(size_bytes: int) -> bytes:
    """A JSON report of about `size_bytes` bytes, ASCII only (so characters = bytes)."""
    row = {"sku": "BOOK-1", "quantity": 1, "unitPriceCents": 1500, "note": "x" * 60}
    row_bytes = len(json.dumps(row)) + 2
    rows = [row] * max(1, size_bytes // row_bytes)
    return json.dumps({"reportId": uuid.uuid4().hex, "rows": rows}).encode()


def chunks(size: int) -> int:
    return max(1, math.ceil(size / BILLING_CHUNK))


def send(sqs, s3, url: str, bucket: str, payload: bytes, threshold: int) -> tuple[str, bool]:
    """Send `payload` inline when it fits under `threshold`, else as a claim check."""
    if len(payload) <= threshold:
        body = payload.decode()
        sqs.send_message(QueueUrl=url, MessageBody=body)
        return body, False
    key = f"payloads/{uuid.uuid4().hex}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=payload, ContentType="application/json")
    pointer = json.dumps(
        {
            "claimCheck": {
                "bucket": bucket,
                "key": key,
                "bytes": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        }
    )
    sqs.send_message(
        QueueUrl=url,
        MessageBody=pointer,
        MessageAttributes={"payloadLocation": {"DataType": "String", "StringValue": "s3"}},
    )
    return pointer, True


def consume(story: Story, sqs, s3, url: str) -> tuple[bool, str | None]:
    """Receive one message, resolve its claim check, verify, process, delete message then
    object. Returns (verified, key of the object it used)."""
    message = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"])[
        "Messages"
    ][0]
    body = json.loads(message["Body"])
    key = None
    if "claimCheck" in body:
        claim = body["claimCheck"]
        key = claim["key"]
        payload = s3.get_object(Bucket=claim["bucket"], Key=key)["Body"].read()
        verified = (
            len(payload) == claim["bytes"]
            and hashlib.sha256(payload).hexdigest() == claim["sha256"]
        )
        document = json.loads(payload)
    else:
        verified, document = True, body
    story.say(f"consumer: report {document['reportId'][:8]}…, {len(document['rows']):,} rows")
    # Message first, then object: a crash in between leaves an orphan object (the lifecycle
    # rule removes it), never a message whose payload is gone.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    if key:
        s3.delete_object(Bucket=body["claimCheck"]["bucket"], Key=key)
    return verified, key


def run(
    story: Story,
    engines: Engines,
    *,
    size_kib: int = 1536,
    threshold_kib: int | None = None,
) -> LargePayloadObservation:
    moto = engines.moto
    sqs, s3 = moto.client("sqs"), moto.client("s3")
    threshold = SQS_MAX_BYTES if threshold_kib is None else threshold_kib * 1024
    url = make_queue(sqs, "reports").url
    bucket = unique("claim-checks")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "orphaned-payloads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "payloads/"},
                    "Expiration": {"Days": 14},
                }
            ]
        },
    )
    payload = report(size_kib * 1024)
    story.step(
        f"a report of {len(payload):,} bytes; SQS's maximum message size is "
        f"{SQS_MAX_BYTES:,} bytes (1 MiB, as of {CHECKED})"
    )
    try:
        sqs.send_message(QueueUrl=url, MessageBody=payload.decode())
        inline_refused = False
        story.say(
            f"sent as the message body: accepted, billed as {chunks(len(payload))} requests "
            "(one per 64 KB chunk)"
        )
        sqs.purge_queue(QueueUrl=url)
    except ClientError as error:
        inline_refused = True
        story.say(f"sent as the message body: refused ({error.response['Error']['Code']})")

    story.step(
        f"claim check: bodies over {threshold:,} bytes go to S3 (bucket {bucket}, lifecycle: "
        "objects under payloads/ expire after 14 days); the message carries a pointer"
    )
    message, via_s3 = send(sqs, s3, url, bucket, payload, threshold)
    story.table(
        "",
        ["", "bytes", "billed requests to send"],
        [
            ["payload", f"{len(payload):,}", "-"],
            ["message actually sent", f"{len(message):,}", chunks(len(message))],
        ],
    )
    if via_s3:
        story.say(f"message: {message}")

    story.step("the consumer resolves the claim check")
    verified, key = consume(story, sqs, s3, url)
    left = s3.list_objects_v2(Bucket=bucket, Prefix="payloads/").get("KeyCount", 0)
    story.say(f"SHA-256 and size match: {verified}; objects left in the bucket: {left}")
    story.notice(
        "the queue carries the event; S3 carries the bytes. Access to the payload is now an S3 "
        "permission (and encryption) question as well as an SQS one."
    )
    story.moto(
        "moto measures the body in characters and leaves message attributes out of the size; "
        "this lab's payload is ASCII, so its characters and bytes agree"
    )
    return LargePayloadObservation(
        payload_bytes=len(payload),
        inline_refused=inline_refused,
        via_s3=via_s3,
        message_bytes=len(message),
        verified=verified,
        object_left=bool(left),
    )


def command(
    size_kib: Annotated[
        int, typer.Option(min=1, max=20_480, help="Size of the report to send, KiB.")
    ] = 1536,
    threshold_kib: Annotated[
        int | None,
        typer.Option(min=0, max=1024, help="Send via S3 above this size (default: the limit)."),
    ] = None,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """The claim-check pattern: body in S3, pointer in the message."""
    raise typer.Exit(
        play(
            lab("large-payload"),
            lambda story, engines: run(
                story, engines, size_kib=size_kib, threshold_kib=threshold_kib
            ),
            quiz=quiz,
        )
    )
