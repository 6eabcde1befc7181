"""Async task offload on moto's S3 and SQS: upload -> notification -> queue -> processor.

The bucket notification is configured the way the synthesized stack configures it (prefix
filter read from the template), and the queue is fed to the real handler as the event source
mapping would (labs.lambda_local.deliver).
"""

from __future__ import annotations

import gzip
import json
import os
import uuid

import pytest

from labs.lambda_local import deliver, load_handler

pytestmark = pytest.mark.engines
MAX_RECEIVES = 2


@pytest.fixture(scope="module")
def notification_prefix(synthesized_app):
    template = synthesized_app("sandbox").template_json("UploadProcessing")
    [notifications] = [
        r["Properties"]["NotificationConfiguration"]
        for r in template["Resources"].values()
        if r["Type"] == "Custom::S3BucketNotifications"
    ]
    [queue_config] = notifications["QueueConfigurations"]
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    [rule] = queue_config["Filter"]["Key"]["FilterRules"]
    assert rule["Name"] == "prefix"
    return rule["Value"]


@pytest.fixture(scope="module")
def pipeline(moto, notification_prefix):
    """Buckets, a queue with a DLQ, and the notification, as the stack wires them."""
    s3, sqs = moto.client("s3"), moto.client("sqs")
    name = uuid.uuid4().hex[:8]
    uploads, processed = f"uploads-{name}", f"processed-{name}"
    for bucket in (uploads, processed):
        s3.create_bucket(Bucket=bucket)
    dlq = sqs.create_queue(QueueName=f"upload-tasks-dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"upload-tasks-{name}",
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
            )
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=uploads,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": notification_prefix}]}
                    },
                }
            ]
        },
    )
    os.environ.update(
        {
            **moto.environment(),
            "PROCESSED_BUCKET": processed,
            "MAX_UPLOAD_BYTES": "2048",
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        }
    )
    handler = load_handler("upload_processor")
    handler.SETTINGS = handler.settings()  # this module's bucket, whichever test imported it first
    return s3, sqs, uploads, processed, queue, dlq, handler


def processed_object(s3, bucket, key):
    response = s3.get_object(Bucket=bucket, Key=f"processed/{key}.gz")
    return gzip.decompress(response["Body"].read()), response["Metadata"]


def depth(sqs, url):
    return int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )


def test_an_upload_is_validated_compressed_and_stored(pipeline):
    s3, sqs, uploads, processed, queue, _, handler = pipeline
    body = b"sku,quantity\nBOOK-1,2\nMUG-2,1\n"
    s3.put_object(Bucket=uploads, Key="incoming/orders march.csv", Body=body)
    assert deliver(sqs, queue, handler) == []  # (the S3 test event is skipped too)
    data, metadata = processed_object(s3, processed, "incoming/orders march.csv")
    assert data == body and metadata["original-size"] == str(len(body))
    assert depth(sqs, queue) == 0


def test_files_outside_the_prefix_raise_no_task(pipeline):
    s3, sqs, uploads, _, queue, _, _ = pipeline
    s3.put_object(Bucket=uploads, Key="elsewhere/readme.txt", Body=b"hello")
    assert depth(sqs, queue) == 0


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("incoming/photo.png", b"\x89PNG...", "only .csv and .json"),
        ("incoming/broken.json", b'{"a": ', "not valid JSON"),
        ("incoming/ragged.csv", b"a,b\n1,2,3\n", "rows have [2, 3] columns"),
        ("incoming/latin1.csv", "a,b\ncaf\xe9,1\n".encode("latin-1"), "not UTF-8"),
        ("incoming/huge.json", b"[" + b"1," * 2000 + b"1]", "over the 2048-byte limit"),
    ],
    ids=["not csv or json", "broken json", "ragged csv", "latin-1 csv", "too large"],
)
def test_a_bad_upload_is_refused_with_its_reason_and_dead_lettered(
    pipeline, key, body, reason, caplog
):
    s3, sqs, uploads, processed, queue, dlq, handler = pipeline
    before = depth(sqs, dlq)
    s3.put_object(Bucket=uploads, Key=key, Body=body)
    failures = deliver(sqs, queue, handler)
    assert len(failures) == MAX_RECEIVES
    assert depth(sqs, dlq) == before + 1
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=processed, Key=f"processed/{key}.gz")
    with pytest.raises(handler.InvalidUpload, match=reason.replace("[", r"\[").replace("]", r"\]")):
        handler.validate(key, body)


def test_a_redelivered_task_rewrites_the_same_bytes(pipeline):
    s3, sqs, uploads, processed, _, _, handler = pipeline
    s3.put_object(Bucket=uploads, Key="incoming/again.json", Body=b'{"n": 1}')
    etag = s3.head_object(Bucket=uploads, Key="incoming/again.json")["ETag"].strip('"')
    first = handler.process_object(uploads, "incoming/again.json", etag)
    stored = s3.get_object(Bucket=processed, Key="processed/incoming/again.json.gz")["Body"].read()
    second = handler.process_object(uploads, "incoming/again.json", etag)
    again = s3.get_object(Bucket=processed, Key="processed/incoming/again.json.gz")["Body"].read()
    assert first == second == "stored" and stored == again


def test_a_stale_task_for_a_replaced_file_is_skipped(pipeline):
    s3, _, uploads, _, _, _, handler = pipeline
    s3.put_object(Bucket=uploads, Key="incoming/changing.json", Body=b'{"v": 1}')
    old = s3.head_object(Bucket=uploads, Key="incoming/changing.json")["ETag"].strip('"')
    s3.put_object(Bucket=uploads, Key="incoming/changing.json", Body=b'{"v": 2}')
    assert handler.process_object(uploads, "incoming/changing.json", old).startswith("skipped")


def test_something_that_is_not_an_s3_notification_fails_alone(pipeline):
    _, _, _, _, _, _, handler = pipeline
    from labs.lambda_local import LambdaContext, sqs_event, sqs_record

    good = sqs_record(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
    bad = sqs_record('{"hello": "world"}')
    response = handler.handler(sqs_event(good, bad), LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
