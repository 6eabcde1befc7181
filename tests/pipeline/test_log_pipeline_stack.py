"""The log pipeline stack: what a reviewer checks in its CloudFormation, in both profiles."""

from __future__ import annotations

import json

import pytest
from infra_support import PROFILE_NAMES, resources_of, single

STACK = "LogPipeline"


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def synthesized(request, synthesized_app):
    return synthesized_app(request.param)


@pytest.fixture(scope="module")
def template(synthesized):
    return synthesized.template_json(STACK)


@pytest.fixture(scope="module")
def profile(synthesized):
    return synthesized.app.node.try_get_context("profile")


def fleet(template, name: str) -> dict:
    """A fleet's group, launch-template user data, scaling policies and role statements."""
    groups = {
        k: r["Properties"]
        for k, r in resources_of(template, "AWS::AutoScaling::AutoScalingGroup").items()
    }
    [group] = [p for k, p in groups.items() if k.startswith(name)]
    [launch] = [
        r
        for k, r in resources_of(template, "AWS::EC2::LaunchTemplate").items()
        if k.startswith(name)
    ]
    policies = [
        r["Properties"]
        for k, r in resources_of(template, "AWS::AutoScaling::ScalingPolicy").items()
        if k.startswith(name)
    ]
    statements = [
        s
        for k, r in resources_of(template, "AWS::IAM::Policy").items()
        if k.startswith(f"{name}InstanceRoleDefaultPolicy")
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    return {
        "group": group,
        "user_data": json.dumps(launch),
        "policies": policies,
        "statements": statements,
    }


def actions(statements) -> set[str]:
    return {
        a
        for s in statements
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }


def test_shippers_may_only_send_and_scale_on_their_own_cpu(template, profile):
    shippers = fleet(template, "Shippers")
    assert {a for a in actions(shippers["statements"]) if a.startswith("sqs:")} == {
        "sqs:SendMessage"
    }
    if profile == "sandbox":
        # A load generator started by hand for a demo: nothing runs, and nothing bills, at rest.
        assert shippers["policies"] == [] and shippers["group"]["MinSize"] == "0"
        return
    [policy] = shippers["policies"]
    tracking = policy["TargetTrackingConfiguration"]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "ASGAverageCPUUtilization"
    )
    assert tracking["TargetValue"] == 60
    assert shippers["group"]["MinSize"] == "1"


def test_the_profile_decides_what_the_shippers_read(template, profile):
    user_data = fleet(template, "Shippers")["user_data"]
    if profile == "sandbox":
        assert "LOG_SOURCE=generate" in user_data and "GENERATE_LINES_PER_SECOND=50" in user_data
    else:
        assert "LOG_SOURCE=/var/log/app/access.log" in user_data


def test_archivers_scale_on_backlog_per_instance(template, profile):
    archivers = fleet(template, "Archivers")
    if profile == "sandbox":
        # Step scaling on visible messages, the one policy that starts from zero instances.
        assert archivers["group"]["MinSize"] == "0"
        assert {p["PolicyType"] for p in archivers["policies"]} == {"StepScaling"}
        return
    [policy] = archivers["policies"]
    tracking = policy["TargetTrackingConfiguration"]
    assert tracking["TargetValue"] == 6000  # 5 minutes of acceptable latency / 0.05 s a message
    [expression] = [
        m for m in tracking["CustomizedMetricSpecification"]["Metrics"] if "Expression" in m
    ]
    assert expression["Expression"] == "visible / instances"


def test_both_fleets_drain_on_sigterm_before_being_killed(template):
    for name in ("Shippers", "Archivers"):
        user_data = fleet(template, name)["user_data"]
        assert "KillSignal=SIGTERM" in user_data and "SHUTDOWN_GRACE_SECONDS=30" in user_data


def test_log_messages_stay_hidden_for_three_archiver_flushes(template):
    [queue] = [
        q["Properties"]
        for k, q in resources_of(template, "AWS::SQS::Queue").items()
        if k.startswith("LogLinesQueue")
    ]
    assert queue["VisibilityTimeout"] == 180 and queue["RedrivePolicy"]["maxReceiveCount"] == 5
    user_data = fleet(template, "Archivers")["user_data"]
    assert "VISIBILITY_TIMEOUT_SECONDS=180" in user_data and "FLUSH_SECONDS=60" in user_data


def test_archivers_write_raw_and_hourly_objects_and_read_only_raw_ones(template):
    statements = fleet(template, "Archivers")["statements"]
    s3 = [s for s in statements if str(s["Action"]).startswith(("s3:", "['s3:"))]
    put = [s for s in s3 if "s3:PutObject" in s["Action"]]
    get = [s for s in s3 if s["Action"] == "s3:GetObject"]
    listing = [s for s in s3 if s["Action"] == "s3:ListBucket"]
    assert "/raw/*" in json.dumps(put) and "/hourly/*" in json.dumps(put)
    assert "/raw/*" in json.dumps(get) and "/hourly/" not in json.dumps(get)
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": ["raw/*"]}}


def test_raw_parts_expire_after_a_week(template, profile):
    buckets = [
        b["Properties"]
        for b in resources_of(template, "AWS::S3::Bucket").values()
        if "LifecycleConfiguration" in b["Properties"] and "LoggingConfiguration" in b["Properties"]
    ]
    rules = {r["Id"]: r for r in buckets[0]["LifecycleConfiguration"]["Rules"]}
    assert rules["RawParts"]["Prefix"] == "raw/" and rules["RawParts"]["ExpirationInDays"] == 7
    assert rules["HourlyLogs"]["ExpirationInDays"] == (7 if profile == "sandbox" else 365)


def definition(template) -> dict:
    machine = single(template, "AWS::StepFunctions::StateMachine")
    parts = machine["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "REF" for p in parts))


def test_step_functions_sends_the_job_with_its_task_token_and_waits(template):
    task = definition(template)["States"]["CompactHour"]
    assert task["Resource"] == "arn:REF:states:::sqs:sendMessage.waitForTaskToken"
    assert task["Parameters"]["MessageBody"] == {"taskToken.$": "$$.Task.Token", "input.$": "$"}
    assert task["HeartbeatSeconds"] == 300 and task["TimeoutSeconds"] == 1800


def test_a_silent_worker_is_retried_and_anything_else_fails_the_execution(template):
    states = definition(template)["States"]
    task = states["CompactHour"]
    [retry] = task["Retry"]
    assert retry["ErrorEquals"] == [
        "States.HeartbeatTimeout",
        "States.Timeout",
        "Compaction.Failed",
    ]
    assert retry["MaxAttempts"] == 2
    assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert states[task["Catch"][0]["Next"]]["Type"] == "Fail"
    assert states[task["Next"]]["Choices"][0] == {
        "Variable": "$.compaction.parts",
        "NumericEquals": 0,
        "Next": "NothingToCompact",
    }


def test_the_heartbeat_outlasts_the_workers_beat_and_the_jobs_visibility(template):
    user_data = fleet(template, "Archivers")["user_data"]
    assert "TASK_HEARTBEAT_SECONDS=300" in user_data  # the worker beats every 100 s
    [jobs] = [
        q["Properties"]
        for k, q in resources_of(template, "AWS::SQS::Queue").items()
        if k.startswith("CompactionJobsQueue")
    ]
    assert jobs["VisibilityTimeout"] == 120 and jobs["RedrivePolicy"]["maxReceiveCount"] == 3


def test_only_archivers_may_answer_the_task(template):
    statements = fleet(template, "Archivers")["statements"]
    [answer] = [s for s in statements if "states:SendTaskSuccess" in s["Action"]]
    assert set(answer["Action"]) == {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
    }
    # These actions support no resource-level permission (the Service Authorization Reference
    # lists no resource type), so only "*" matches; the task token is the capability.
    assert answer["Resource"] == "*"
    shippers = fleet(template, "Shippers")["statements"]
    assert not [s for s in shippers if "states:SendTaskSuccess" in s["Action"]]


def test_compaction_runs_at_ten_past_each_hour_logged_and_traced(template):
    rule = single(template, "AWS::Events::Rule")
    assert rule["ScheduleExpression"] == "cron(10 * * * ? *)"
    assert rule["Targets"][0]["InputTransformer"]["InputTemplate"] == '{"requestedAt":<time>}'
    machine = single(template, "AWS::StepFunctions::StateMachine")
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_every_queue_problem_and_a_failed_compaction_alarm(template):
    alarms = [a["Properties"] for a in resources_of(template, "AWS::CloudWatch::Alarm").values()]
    descriptions = [a["AlarmDescription"] for a in alarms]
    assert sum(d.startswith("Messages reached the dead-letter queue") for d in descriptions) == 2
    assert sum("oldest message waited" in d for d in descriptions) == 2
    [failed] = [a for a in alarms if "compaction failed" in a["AlarmDescription"]]
    assert [m.get("Expression") for m in failed["Metrics"] if "Expression" in m] == [
        "failed + timedOut + aborted"
    ]
    assert all(
        a.get("AlarmActions")
        for a in alarms
        if "Metrics" in a or "dead-letter" in a["AlarmDescription"]
    )


def test_queues_and_archive_use_the_profiles_key(template, profile):
    queues = [q["Properties"] for q in resources_of(template, "AWS::SQS::Queue").values()]
    assert len(queues) == 4
    if profile == "production":
        assert all("KmsMasterKeyId" in q for q in queues)
        archive = [
            b["Properties"]
            for b in resources_of(template, "AWS::S3::Bucket").values()
            if "LifecycleConfiguration" in b["Properties"]
            and "LoggingConfiguration" in b["Properties"]
        ][0]
        assert (
            archive["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
                "ServerSideEncryptionByDefault"
            ]["SSEAlgorithm"]
            == "aws:kms"
        )
    else:
        assert all(q["SqsManagedSseEnabled"] is True for q in queues)
