"""The usage-metering stack and ScheduledQueueWorker's guard rails."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from infra_support import PROFILE_NAMES, resources_of, single
from queue_patterns import ScheduledQueueWorker

CODE = str(Path(__file__).resolve().parents[2] / "lambda" / "usage_batcher")


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def template(synthesized_app, request):
    return synthesized_app(request.param).template_json("UsageMetering")


def test_the_batcher_runs_every_five_minutes_one_run_at_a_time(template):
    rule = single(template, "AWS::Events::Rule", lambda p: "ScheduleExpression" in p)
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Targets"][0]["RetryPolicy"] == {
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 300,
    }
    function = single(
        template, "AWS::Lambda::Function", lambda p: "ReservedConcurrentExecutions" in p
    )
    assert function["ReservedConcurrentExecutions"] == 1 and function["Timeout"] == 120


def test_a_run_that_never_starts_lands_in_an_alarmed_queue(template):
    """cfn-lint-serverless's two findings on this stack: the schedule's target had no DLQ and
    the asynchronous invocation no EventInvokeConfig. A missed run is now kept and alarmed."""
    rule = single(template, "AWS::Events::Rule", lambda p: "ScheduleExpression" in p)
    missed = rule["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    invoke = single(template, "AWS::Lambda::EventInvokeConfig")
    assert invoke["MaximumRetryAttempts"] == 0 and invoke["MaximumEventAgeInSeconds"] == 300
    destination = invoke["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert destination == missed
    alarm = single(
        template,
        "AWS::CloudWatch::Alarm",
        lambda p: (
            p.get("Dimensions", [{}])[0].get("Value", {}).get("Fn::GetAtt", [""])[0] == missed
        ),
    )
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]


def test_messages_stay_hidden_for_a_whole_run(template):
    [queue] = [
        q["Properties"]
        for q in resources_of(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert queue["VisibilityTimeout"] == 180 > 120
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3


def test_producers_get_a_send_only_policy(template):
    policy = single(template, "AWS::IAM::ManagedPolicy")
    actions = {
        a
        for s in policy["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {a for a in actions if a.startswith("sqs:")} == {"sqs:SendMessage"}


def test_the_batcher_may_only_write_usage_objects(template):
    statements = [
        s
        for k, p in resources_of(template, "AWS::IAM::Policy").items()
        if k.startswith("BatcherRole")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    s3 = [s for s in statements if str(s["Action"]).startswith("s3:")]
    assert [s["Action"] for s in s3] == ["s3:PutObject"] and "/usage/*" in json.dumps(
        s3[0]["Resource"]
    )


def test_the_backlog_alarm_allows_for_the_schedule(template):
    """(That the DLQ alarms: QueueRules, for every stack, tests/infra/test_templates.py.)"""
    alarms = {
        a["Properties"]["AlarmDescription"]: a["Properties"]
        for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
    }
    [age] = [a for d, a in alarms.items() if "runs are failing" in d]
    assert age["Threshold"] == 900


def build(**props):
    stack = cdk.Stack(cdk.App(), "Test")
    queue = sqs.Queue(stack, "Queue")
    base = {
        "queue": queue,
        "queue_visibility_timeout": Duration.minutes(3),
        "code_path": CODE,
        "handler": "usage_batcher.handler",
    }
    return ScheduledQueueWorker(stack, "Worker", **{**base, **props})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"every": Duration.seconds(90)}, r"ScheduledQueueWorker.every: 90s must be whole minutes"),
        ({"timeout": Duration.minutes(5)}, r"timeout: 300s must be under every \(300s\)"),
        (
            {"queue_visibility_timeout": Duration.seconds(60)},
            r"queue_visibility_timeout: 60s is shorter than the function timeout \(120s\)",
        ),
        (
            {"max_message_age": Duration.minutes(6)},
            r"max_message_age: 360s is not longer than every \+ timeout \(420s\)",
        ),
        ({"handler": "nowhere.handler"}, r"code_path: .* has no nowhere.py"),
        ({"memory_size": 64}, r"memory_size: 64 is outside 128..10240"),
    ],
)
def test_timings_that_cannot_work_fail_synth(props, message):
    with pytest.raises(ValueError, match=message):
        build(**props)


def test_a_schedule_may_run_less_often_than_daily():
    """EventBridge rate expressions take minutes, hours or days with no maximum."""
    worker = build(every=Duration.days(2), max_message_age=Duration.days(3))
    rule = cdk.Stack.of(worker).resolve(worker.rule.node.default_child.schedule_expression)
    assert rule == "rate(2 days)"
