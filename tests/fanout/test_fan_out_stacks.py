"""The fan-out and payment-ledger stacks: what a reviewer checks in their CloudFormation."""

from __future__ import annotations

import json

import pytest
from infra_support import PROFILE_NAMES, resources_of, single


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def profile(request):
    return request.param


@pytest.fixture(scope="module")
def fan_out(synthesized_app, profile):
    return synthesized_app(profile).template_json("OrderFanOut")


@pytest.fixture(scope="module")
def ledger(synthesized_app, profile):
    return synthesized_app(profile).template_json("PaymentLedger")


def subscriptions(template) -> dict[str, dict]:
    """{queue logical id prefix: subscription properties}."""
    found = {}
    for props in (
        r["Properties"] for r in resources_of(template, "AWS::SNS::Subscription").values()
    ):
        found[props["Endpoint"]["Fn::GetAtt"][0].split("Queue")[0]] = props
    return found


def test_each_business_unit_subscribes_with_its_filter(fan_out):
    subs = subscriptions(fan_out)
    events = ["OrderPlaced", "OrderCancelled"]
    assert subs["Inventory"]["FilterPolicy"] == {"eventType": events}
    assert subs["Payment"]["FilterPolicy"] == {
        "eventType": events,
        "amountCents": [{"numeric": [">", 0]}],
    }
    assert subs["Shipping"]["FilterPolicy"] == {"eventType": events, "shippable": ["true"]}
    assert "FilterPolicy" not in subs["Audit"]


def test_consumers_get_raw_events_and_audit_keeps_the_envelope(fan_out):
    subs = subscriptions(fan_out)
    assert [subs[u]["RawMessageDelivery"] for u in ("Inventory", "Payment", "Shipping")] == [
        True
    ] * 3
    assert subs["Audit"]["RawMessageDelivery"] is False


def test_undeliverable_notifications_go_to_one_subscription_dlq(fan_out):
    targets = {json.dumps(s["RedrivePolicy"]) for s in subscriptions(fan_out).values()}
    assert len(targets) == 1 and "SubscriptionDeadLetter" in targets.pop()


# That every queue has a DLQ (subscription DLQs recognised), an alarmed DLQ, an age alarm, and
# event sources with partial batch responses, a concurrency cap and visibility >= 6 x timeout +
# window: QueueRules, for every stack (tests/infra/test_templates.py). Here: this pattern's values.


def test_consumer_queues_dead_letter_after_five_receives_and_hide_a_batch_61_seconds(fan_out):
    sources = [
        q["Properties"]
        for q in resources_of(fan_out, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert len(sources) == 4
    for queue in sources:
        assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
        assert queue["VisibilityTimeout"] == 61
    functions = [f["Properties"] for f in resources_of(fan_out, "AWS::Lambda::Function").values()]
    assert {f["Timeout"] for f in functions} == {10}


def test_event_sources_run_five_consumers_at_most_on_batches_of_ten_within_a_second(fan_out):
    mappings = [
        m["Properties"] for m in resources_of(fan_out, "AWS::Lambda::EventSourceMapping").values()
    ]
    assert len(mappings) == 4
    for mapping in mappings:
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": 30}
        assert mapping["BatchSize"] == 10 and mapping["MaximumBatchingWindowInSeconds"] == 1


def test_functions_are_arm64_on_the_current_python_with_powertools_and_the_event_layer(fan_out):
    for function in (
        f["Properties"] for f in resources_of(fan_out, "AWS::Lambda::Function").values()
    ):
        assert function["Architectures"] == ["arm64"] and function["Runtime"] == "python3.14"
        layers = sorted(layer["Ref"] for layer in function["Layers"])
        assert [layer.rstrip("0123456789ABCDEF") for layer in layers] == [
            "OrderEventsLayer",
            "PowertoolsLayer",
        ]
        assert function["TracingConfig"] == {"Mode": "Active"}
        assert "LogGroup" in function["LoggingConfig"]


def test_consumer_roles_carry_no_aws_managed_policy(fan_out):
    for role in (r["Properties"] for r in resources_of(fan_out, "AWS::IAM::Role").values()):
        if "lambda.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"]):
            assert "ManagedPolicyArns" not in role


def test_topic_is_encrypted_and_production_queues_admit_only_this_topic(fan_out, profile):
    topic = single(fan_out, "AWS::SNS::Topic", lambda p: p.get("DisplayName") == "Order events")
    assert "KmsMasterKeyId" in topic
    keys = [
        k["Properties"]["KeyPolicy"]["Statement"]
        for k in resources_of(fan_out, "AWS::KMS::Key").values()
    ]
    sns_statements = [
        s
        for statements in keys
        for s in statements
        if s.get("Principal") == {"Service": "sns.amazonaws.com"}
    ]
    if profile == "production":
        [statement] = sns_statements
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
            "Ref": "OrdersTopic47790A41"
        }
        assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    else:
        assert sns_statements == []  # SQS-managed encryption: SNS needs no key grant


def test_every_dlq_alarms_on_one_message(fan_out):
    alarms = [
        a["Properties"]
        for a in resources_of(fan_out, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmDescription"].startswith("Messages reached")
    ]
    assert len(alarms) == 5  # four queue DLQs and the subscription DLQ
    assert all(a["Threshold"] == 1 for a in alarms)


def test_tables_have_point_in_time_recovery_and_idempotency_records_expire(fan_out):
    tables = [t["Properties"] for t in resources_of(fan_out, "AWS::DynamoDB::Table").values()]
    assert len(tables) == 5
    assert all(t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] for t in tables)
    [idempotency] = [t for t in tables if t["KeySchema"][0]["AttributeName"] == "id"]
    assert idempotency["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }


def test_ledger_is_fifo_end_to_end_with_deduplication(ledger):
    topic = single(ledger, "AWS::SNS::Topic", lambda p: p.get("FifoTopic") is True)
    assert topic["ContentBasedDeduplication"] is True
    queues = [q["Properties"] for q in resources_of(ledger, "AWS::SQS::Queue").values()]
    assert all(q["FifoQueue"] is True for q in queues)
    assert len(queues) == 3  # ledger queue, its DLQ, the subscription's DLQ
    [mapping] = [
        m["Properties"] for m in resources_of(ledger, "AWS::Lambda::EventSourceMapping").values()
    ]
    assert "MaximumBatchingWindowInSeconds" not in mapping  # FIFO: no batching window


def test_sandbox_destroys_and_production_retains_the_tables(fan_out, profile):
    policies = {t["DeletionPolicy"] for t in resources_of(fan_out, "AWS::DynamoDB::Table").values()}
    assert policies == ({"Delete"} if profile == "sandbox" else {"Retain"})


def test_the_ledger_subscription_parks_undeliverable_events_in_a_fifo_dlq(ledger):
    [subscription] = [
        r["Properties"] for r in resources_of(ledger, "AWS::SNS::Subscription").values()
    ]
    assert subscription["RawMessageDelivery"] is True
    [target] = subscription["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][:1]
    assert target.startswith("SubscriptionDeadLetter")
    assert resources_of(ledger, "AWS::SQS::Queue")[target]["Properties"]["FifoQueue"] is True


def alarm_watches(template) -> list[tuple]:
    """(metric, dimensions, period) of every alarm: the same triple twice is a duplicate page."""
    return [
        (a["MetricName"], json.dumps(a.get("Dimensions"), sort_keys=True), a["Period"])
        for a in (
            r["Properties"] for r in resources_of(template, "AWS::CloudWatch::Alarm").values()
        )
    ]


def test_no_two_fan_out_alarms_watch_the_same_metric_of_the_same_queue(fan_out):
    watched = alarm_watches(fan_out)
    assert len(watched) == len(set(watched))


def test_no_two_ledger_alarms_watch_the_same_metric_of_the_same_queue(ledger):
    watched = alarm_watches(ledger)
    assert len(watched) == len(set(watched))


def test_consumer_queues_alarm_when_their_oldest_message_waits_five_minutes(fan_out):
    ages = [
        a["Properties"]
        for a in resources_of(fan_out, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"
        and a["Properties"]["Period"] == 60
    ]
    assert len(ages) == 4
    assert all(a["Threshold"] == 300 for a in ages)
