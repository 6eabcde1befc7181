"""The upload-processing stack: what a reviewer checks in its CloudFormation."""

from __future__ import annotations

import json

import pytest
from infra_support import PROFILE_NAMES, resources_of


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def profile(request):
    return request.param


@pytest.fixture(scope="module")
def template(synthesized_app, profile):
    return synthesized_app(profile).template_json("UploadProcessing")


def buckets(template):
    return {k: r for k, r in resources_of(template, "AWS::S3::Bucket").items()}


def test_uploads_notify_the_task_queue_for_incoming_files_only(template):
    [notifications] = [
        r["Properties"]["NotificationConfiguration"]
        for r in resources_of(template, "Custom::S3BucketNotifications").values()
    ]
    [config] = notifications["QueueConfigurations"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "incoming/"}]
    assert "UploadTasksQueue" in json.dumps(config["QueueArn"])


def test_every_bucket_is_private_encrypted_and_tls_only(template):
    for logical_id, bucket in buckets(template).items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert "BucketEncryption" in props, logical_id
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources_of(template, "AWS::S3::BucketPolicy").values()
    ]
    assert len(policies) == 3
    for statements in policies:
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_originals_expire_after_a_week_and_access_is_logged(template):
    uploads = next(
        r["Properties"] for k, r in buckets(template).items() if k.startswith("BucketsUploads")
    )
    [rule] = uploads["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == "incoming/" and rule["ExpirationInDays"] == 7
    assert uploads["LoggingConfiguration"]["LogFilePrefix"] == "uploads/"


def test_the_processor_may_only_read_incoming_and_write_processed(template):
    statements = [
        s
        for k, p in resources_of(template, "AWS::IAM::Policy").items()
        if k.startswith("ProcessorRole")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    s3_statements = {
        s["Action"]: json.dumps(s["Resource"])
        for s in statements
        if isinstance(s["Action"], str) and s["Action"].startswith("s3:")
    }
    assert set(s3_statements) == {"s3:GetObject", "s3:PutObject"}
    assert "/incoming/*" in s3_statements["s3:GetObject"]
    assert "/processed/*" in s3_statements["s3:PutObject"]


def test_bad_uploads_are_dead_lettered_after_three_tries(template):
    """That the DLQ exists and alarms, and visibility >= 6 x the timeout: QueueRules, for every
    stack (tests/infra/test_templates.py)."""
    [queue] = [
        q["Properties"]
        for q in resources_of(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["VisibilityTimeout"] == 360  # 6 x the processor's 60 s timeout


def test_sandbox_buckets_empty_themselves_on_destroy_and_production_keeps_them(template, profile):
    policies = {b["DeletionPolicy"] for b in buckets(template).values()}
    auto_delete = resources_of(template, "Custom::S3AutoDeleteObjects")
    if profile == "sandbox":
        assert policies == {"Delete"} and len(auto_delete) == 3
    else:
        assert policies == {"Retain"} and auto_delete == {}


def test_each_queue_problem_raises_one_alarm(template):
    watched = [
        (
            a["Properties"]["MetricName"],
            json.dumps(a["Properties"].get("Dimensions")),
            a["Properties"]["ComparisonOperator"],
        )
        for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
    ]
    assert len(watched) == len(set(watched))
