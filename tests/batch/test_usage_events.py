"""Fan-in from EventBridge: a rule on the usage bus sends chosen events to the usage queue.

The template tests read what a reviewer checks; the engine test plays the synthesized rule (its
pattern and input transformation, read from the template) on moto's EventBridge and SQS, then
runs the usage batcher over what arrived.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
from dataclasses import dataclass

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_sqs as sqs
from infra_support import PROFILE_NAMES, resources_of, single
from queue_patterns import EventRuleToQueue

from labs.lambda_local import load_handler
from labs.usage_events_lab import moto_input_transformer, usage_event

STACK = "UsageMetering"


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def template(synthesized_app, request):
    return synthesized_app(request.param).template_json(STACK)


def usage_rule(template) -> tuple[str, dict]:
    [(logical_id, rule)] = [
        (k, r["Properties"])
        for k, r in resources_of(template, "AWS::Events::Rule").items()
        if "EventPattern" in r["Properties"]
    ]
    return logical_id, rule


def queue_policy_statements(template, queue_prefix: str) -> list[dict]:
    [policy] = [
        p["Properties"]
        for p in resources_of(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"][0]["Ref"].startswith(queue_prefix)
    ]
    return policy["PolicyDocument"]["Statement"]


def test_the_rule_chooses_usage_recorded_events_on_the_usage_bus(template):
    _, rule = usage_rule(template)
    assert rule["EventBusName"]["Ref"].startswith("UsageBus")
    assert rule["EventPattern"] == {
        "detail-type": ["Usage Recorded"],
        "detail": {
            "customerId": [{"exists": True}],
            "meter": [{"exists": True}],
            "quantity": [{"numeric": [">=", 0]}],
        },
    }


def test_the_usage_queue_admits_exactly_that_rule(template):
    rule_id, _ = usage_rule(template)
    allows = [
        s for s in queue_policy_statements(template, "UsageEventsQueue") if s["Effect"] == "Allow"
    ]
    assert allows == [
        {
            "Sid": "OnlyThisEventRuleMaySend",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": allows[0]["Resource"],
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
        }
    ]


def test_events_the_queue_refuses_go_to_the_targets_own_dlq_after_an_hour_of_retries(template):
    rule_id, rule = usage_rule(template)
    [target] = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 3600}
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert dlq.startswith("UsageRecordedDeadLetter")
    [allow] = [s for s in queue_policy_statements(template, dlq) if s["Effect"] == "Allow"]
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    alarms = [
        a["Properties"]["AlarmDescription"]
        for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
    ]
    assert any(d.startswith("EventBridge could not deliver events") for d in alarms)
    assert any(d.endswith("those events are lost") for d in alarms)


def test_producers_may_put_events_on_the_usage_bus_and_nothing_else(template):
    policy = single(template, "AWS::IAM::ManagedPolicy")
    [put] = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "events:PutEvents"]
    assert put["Resource"]["Fn::GetAtt"][0].startswith("UsageBus")


def test_eventbridge_may_use_the_queue_key_only_for_this_account(synthesized_app):
    template = synthesized_app("production").template_json(STACK)
    [key] = [
        k["Properties"]
        for i, k in resources_of(template, "AWS::KMS::Key").items()
        if i.startswith("QueueKey")
    ]
    [statement] = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"retry_attempts": 200}, r"EventRuleToQueue.retry_attempts: 200 is outside 0..185"),
        ({"max_event_age": Duration.seconds(30)}, r"max_event_age: 30s is outside 60s..24h"),
        ({"fifo": True}, r"EventRuleToQueue.queue: .* is a FIFO queue"),
    ],
)
def test_a_rule_eventbridge_would_refuse_fails_synth(props, message):
    stack = cdk.Stack(cdk.App(), "Test")
    fifo = props.pop("fifo", False)
    queue = sqs.Queue(stack, "Queue", fifo=True if fifo else None)
    bus = events.EventBus(stack, "Bus")
    with pytest.raises(ValueError, match=message):
        EventRuleToQueue(
            stack,
            "Rule",
            event_bus=bus,
            event_pattern=events.EventPattern(source=["x"]),
            queue=queue,
            **props,
        )


# -- on moto -------------------------------------------------------------------------------------


@dataclass
class RunContext:
    """The Lambda context of one scheduled run (what the batcher reads from it)."""

    function_name: str = "usage-batcher"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:usage-batcher"
    aws_request_id: str = "run"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.mark.engines
def test_chosen_events_reach_the_queue_as_usage_messages_beside_direct_producers(
    moto, synthesized_app
):
    _, rule = usage_rule(synthesized_app("sandbox").template_json(STACK))
    [target] = rule["Targets"]
    sqs_client, s3, eventbridge = moto.client("sqs"), moto.client("s3"), moto.client("events")
    name = uuid.uuid4().hex[:8]
    queue = sqs_client.create_queue(
        QueueName=f"usage-{name}", Attributes={"VisibilityTimeout": "30"}
    )["QueueUrl"]
    arn = sqs_client.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    bus = eventbridge.create_event_bus(Name=f"usage-{name}")["EventBusArn"].rsplit("/", 1)[1]
    eventbridge.put_rule(
        Name="usage-recorded", EventBusName=bus, EventPattern=json.dumps(rule["EventPattern"])
    )
    eventbridge.put_targets(
        Rule="usage-recorded",
        EventBusName=bus,
        Targets=[
            {
                "Id": "Queue",
                "Arn": arn,
                "InputTransformer": moto_input_transformer(target["InputTransformer"]),
            }
        ],
    )

    chosen = [
        usage_event("billing.gateway", "customer-1"),
        usage_event("billing.gateway", "customer-2", quantity=3),
        usage_event("storage.service", "customer-1", "storage-gb-hours", 2.5),
    ]
    ignored = [
        {
            "Source": "shop.orders",
            "DetailType": "Order Placed",
            "Detail": json.dumps({"orderId": "o-1"}),
        },
        usage_event("billing.gateway", "customer-1", quantity=-1),  # a negative quantity
        usage_event("billing.gateway", None),  # no customer
    ]
    response = eventbridge.put_events(
        Entries=[{**e, "EventBusName": bus} for e in chosen + ignored]
    )
    eventbridge.put_events(Entries=[usage_event("billing.gateway", "customer-9")])  # default bus
    ids = [entry["EventId"] for entry in response["Entries"][:3]]
    sqs_client.send_message(  # a direct producer, through the other door
        QueueUrl=queue,
        MessageBody=json.dumps(
            {
                "eventId": "direct-1",
                "producer": "service-0",
                "customerId": "customer-1",
                "meter": "api-calls",
                "quantity": 1,
            }
        ),
    )

    bucket = f"batches-{name}"
    s3.create_bucket(Bucket=bucket)
    os.environ.update(
        {
            **moto.environment(),
            "QUEUE_URL": queue,
            "BATCH_BUCKET": bucket,
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        }
    )
    batcher = load_handler("usage_batcher")
    batcher.SETTINGS = batcher.settings()
    result = batcher.handler({}, RunContext())

    assert result["written"] == 4 and result["refused"] == 0
    lines = [
        json.loads(line)
        for line in gzip.decompress(
            s3.get_object(Bucket=bucket, Key=result["key"])["Body"].read()
        ).splitlines()
    ]
    from_events = {line["eventId"]: line for line in lines[:-1] if line["eventId"] != "direct-1"}
    assert sorted(from_events) == sorted(ids)
    first = from_events[ids[0]]
    assert first["producer"] == "billing.gateway" and first["customerId"] == "customer-1"
    assert first["quantity"] == 1  # a number stays a number
    summary = {(s["customerId"], s["meter"]): s["quantity"] for s in lines[-1]["summary"]}
    assert summary == {
        ("customer-1", "api-calls"): 2,
        ("customer-2", "api-calls"): 3,
        ("customer-1", "storage-gb-hours"): 2.5,
    }
