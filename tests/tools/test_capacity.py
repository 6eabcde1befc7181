"""The capacity planner finds each pattern's chain in its template and names the link that binds.

Cases worked out by hand: a fleet limited by its maximum size, one limited by the database's
connections, a Lambda consumer limited by its maximum concurrency, a FIFO queue limited by its
per-queue throughput, a burst drained at a fixed capacity; the README's table as synthesized;
and the synth-time check that a fleet's pools fit the database.
"""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
import pytest
from infra_support import PROFILE_NAMES

from stacks import profiles
from stacks.order_fan_out_stack import CONSUMER_MAX_CONCURRENCY
from stacks.write_buffer_stack import WriteBufferStack
from tools.capacity import (
    DOCS,
    README,
    Assumptions,
    parse_rate,
    parse_size,
    plan_stack,
    render_readme,
)
from tools.template_reader import Assembly, StackTemplate

# Round figures for the hand computations: a record takes exactly `handler_s`, nothing else.
MEASURED_10_MS = Assumptions(handler_s=0.010, invoke_overhead_s=0)


@pytest.fixture(scope="module")
def assemblies(synthesized_app):
    return {
        profile: Assembly.from_directory(synthesized_app(profile).assembly.directory)
        for profile in PROFILE_NAMES
    }


def edited(template: StackTemplate, *replacements: tuple[str, str]) -> StackTemplate:
    """`template` with each (old, new) text replaced in its JSON, once each, or fail."""
    text = json.dumps(template.template)
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return StackTemplate(template.stack_id, json.loads(text), stack_name=template.stack_name)


def by_label(plan, label):
    return next(x for x in plan.links if x.label == label)


def test_a_fleet_is_limited_by_its_maximum_size(assemblies):
    # Stage throttle raised to the account's 10,000/s: then 10 workers x 500 writes/s bind,
    # well under the database's connections (901 // 4 = 225 instances x 500).
    template = edited(
        assemblies["production"].stacks["WriteBuffer"],
        ('"ThrottlingRateLimit": 1000', '"ThrottlingRateLimit": 10000'),
    )
    verdict = plan_stack(template).at(6_000)
    assert verdict.binding.label == "Workers / Group"
    assert verdict.binding.ceiling == 10 * 500
    assert verdict.binds and verdict.then.label == "Frontend / Api"
    assert "max_capacity" in verdict.binding.fix
    assert by_label(plan_stack(template), "Database / Instance").ceiling == 225 * 500


def test_a_fleet_is_limited_by_the_database_connections(assemblies):
    # 40 workers x 4 pooled connections = 160 on a db.t4g.micro: LEAST(2**30 / 9531392, 5000)
    # = 112 connections, room for 112 // 4 = 28 instances x 100 writes/s = 2,800/s, under the
    # fleet's 40 x 100 = 4,000/s and the stage's 5,000/s.
    template = edited(
        assemblies["production"].stacks["WriteBuffer"],
        ('"MaxSize": "10"', '"MaxSize": "40"'),
        ('"DBInstanceClass": "db.m7g.large"', '"DBInstanceClass": "db.t4g.micro"'),
        ("MAX_WRITES_PER_SECOND=500", "MAX_WRITES_PER_SECOND=100"),
        ('"ThrottlingRateLimit": 1000', '"ThrottlingRateLimit": 5000'),
    )
    plan = plan_stack(template)
    verdict = plan.at(3_000)
    assert verdict.binding.label == "Database / Instance"
    assert verdict.binding.ceiling == 28 * 100
    assert "max_connections 112" in verdict.binding.basis
    assert "40 x 4 = 160, room for 28 instances" in verdict.binding.basis
    assert by_label(plan, "Workers / Group").ceiling == 40 * 100


def test_a_lambda_consumer_is_limited_by_its_maximum_concurrency(assemblies):
    # 30 concurrent batches, each record 10 ms: 30 / 0.010 = 3,000 records a second each.
    plan = plan_stack(assemblies["sandbox"].stacks["OrderFanOut"], assumptions=MEASURED_10_MS)
    consumers = [x for x in plan.links if x.kind == "Lambda"]
    assert len(consumers) == 4
    assert CONSUMER_MAX_CONCURRENCY == 30
    assert {x.ceiling for x in consumers} == {30 / 0.010}
    verdict = plan.at(4_000)
    assert verdict.binds and verdict.binding.kind == "Lambda"
    assert "(maximum concurrency)" in verdict.binding.basis
    assert "max_concurrency" in verdict.binding.fix
    # Every consumer's queue fans out from the one topic: four chains.
    assert len(plan.chains) == 4
    assert {c.links[1].label for c in plan.chains} == {"OrdersTopic"}


def test_a_fifo_queue_is_limited_by_its_per_queue_throughput(assemblies):
    # With 1 ms records the ledger's 5 batches take 5 x 10 / 0.010 = 5,000/s; the FIFO topic
    # takes 3,000/s; the FIFO queue 300 SendMessage calls/s (SNS delivers one message a call).
    plan = plan_stack(
        assemblies["production"].stacks["PaymentLedger"],
        assumptions=dataclasses.replace(MEASURED_10_MS, handler_s=0.001),
    )
    verdict = plan.at(1_000)
    assert (verdict.binding.label, verdict.binding.kind) == (
        "LedgerQueue / Queue",
        "SQS FIFO queue",
    )
    assert verdict.binding.ceiling == 300
    assert verdict.then.kind == "SNS FIFO topic" and verdict.then.ceiling == 3_000
    assert "high throughput mode" in verdict.binding.fix


def test_a_burst_drains_at_the_consumers_capacity_less_the_arrivals(assemblies):
    # FIFO ledger, 20 ms a record: 5 x 10 / 0.2 = 250/s at once (no documented ramp for FIFO).
    # 100,000 waiting, 50/s still arriving: 100,000 / (250 - 50) = 500 s.
    plan = plan_stack(
        assemblies["production"].stacks["PaymentLedger"],
        assumptions=dataclasses.replace(MEASURED_10_MS, handler_s=0.020),
    )
    verdict = plan.at(50, burst=100_000)
    assert verdict.binding.ceiling == 250
    assert verdict.drain == pytest.approx(500)
    assert verdict.ramp == 0
    assert plan.at(250, burst=100_000).drain is None  # arrivals match capacity: never


def test_a_standard_queue_consumer_ramps_300_batches_a_minute_from_five(assemblies):
    # Audit consumer with maximum concurrency 605 (edited): 100 records/s a batch slot at
    # 10 ms. To carry 30,000/s it needs 300 slots: (300 - 5) / 300 minutes = 59 s.
    fan_out = assemblies["production"].stacks["OrderFanOut"]
    raw = json.loads(json.dumps(fan_out.template))
    [audit_id] = [
        r.logical_id
        for r in fan_out.of_type("AWS::Lambda::Function")
        if "/AuditConsumer/" in r.path
    ]
    for resource in raw["Resources"].values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping" and resource["Properties"][
            "FunctionName"
        ] == {"Ref": audit_id}:
            resource["Properties"]["ScalingConfig"]["MaximumConcurrency"] = 605  # from 30
    template = StackTemplate(fan_out.stack_id, raw, stack_name=fan_out.stack_name)
    audit = by_label(plan_stack(template, assumptions=MEASURED_10_MS), "AuditConsumer / Function")
    assert audit.ceiling == 605 * 100
    assert audit.ramp(30_000) == pytest.approx(59)
    assert audit.ramp(400) == 0  # within the first five batches


def test_every_stack_has_a_chain_from_a_producer_through_a_queue_to_a_consumer(assemblies):
    for template in assemblies["production"].stacks.values():
        plan = plan_stack(template)
        assert plan.chains, template.stack_id
        for chain in plan.chains:
            assert chain.queue.kind.startswith("SQS"), chain.path()
            assert chain.links.index(chain.queue) < chain.links.index(chain.consumer)


def test_a_stack_the_planner_has_never_seen_is_planned_from_its_template():
    # Queue -> Lambda (no maximum concurrency) -> on-demand table: 1,000 concurrent batches
    # (account and mapping) x 10 records / (10 ms + 10 x 10 ms) = 90,909/s; the table takes
    # 40,000 write units/s at 1 unit a 1 KB message: the table binds at 40,000/s.
    def ref(name):
        return {"Ref": name}

    template = StackTemplate(
        "Unseen",
        {
            "Resources": {
                "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}},
                "Results": {
                    "Type": "AWS::DynamoDB::Table",
                    "Properties": {"BillingMode": "PAY_PER_REQUEST"},
                },
                "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
                "RolePolicy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "Roles": [ref("Role")],
                        "PolicyDocument": {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "dynamodb:PutItem",
                                    "Resource": {"Fn::GetAtt": ["Results", "Arn"]},
                                },
                                {
                                    "Effect": "Allow",
                                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                                    "Resource": {"Fn::GetAtt": ["Jobs", "Arn"]},
                                },
                            ]
                        },
                    },
                },
                "Worker": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Timeout": 10},
                },
                "Mapping": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "EventSourceArn": {"Fn::GetAtt": ["Jobs", "Arn"]},
                        "FunctionName": ref("Worker"),
                        "BatchSize": 10,
                    },
                },
            }
        },
    )
    plan = plan_stack(template)
    [chain] = plan.chains
    assert [x.node for x in chain.links] == ["Jobs", "Worker", "Results"]
    assert by_label(plan, "Worker").ceiling == pytest.approx(1000 * 10 / 0.11)
    verdict = plan.at(50_000)
    assert (verdict.binding.node, verdict.binding.ceiling) == ("Results", 40_000)
    assert verdict.binds and "table quota increase" in verdict.binding.fix


def test_the_write_buffer_database_leaves_room_for_the_whole_fleet(assemblies):
    for profile, workers in (("sandbox", 2), ("production", 10)):
        plan = plan_stack(assemblies[profile].stacks["WriteBuffer"])
        [database] = [x for x in plan.links if x.kind == "RDS"]
        assert f"{workers} x 4 = {workers * 4}," in database.basis


def test_the_capacity_tables_in_the_docs_are_what_the_planner_says(assemblies):
    plans = {
        profile: [plan_stack(t, profile=profile) for t in a.stacks.values()]
        for profile, a in assemblies.items()
    }
    text = README.read_text()
    assert "<!-- capacity -->" in text
    assert render_readme(text, plans) == text, "regenerate with ./run capacity --readme"
    page = DOCS.read_text()
    assert "<!-- capacity:production:1000 -->" in page
    assert render_readme(page, plans) == page, "regenerate with ./run capacity --readme"


def test_a_fleet_whose_pools_exceed_the_database_connection_limit_fails_synth():
    # 300 workers x 4 connections = 1,200 on a db.m7g.large's 901 (production's RDS instance).
    crowded = dataclasses.replace(profiles.PRODUCTION, worker_max_capacity=300)
    with pytest.raises(ValueError) as refused:
        WriteBufferStack(cdk.App(), "WriteBuffer", profile=crowded)
    message = str(refused.value)
    assert message.startswith("PostgresDatabase.allow_from: Write-buffer workers may hold 1200")
    assert "more than 901" in message and "db.m7g.large" in message


def test_a_message_over_the_size_limit_stops_the_chain_at_its_topic_and_queues(assemblies):
    plan = plan_stack(assemblies["production"].stacks["OrderFanOut"], size=2 * 1024 * 1024)
    verdict = plan.at(100)
    assert verdict.binding.ceiling == 0 and verdict.binding.kind == "SNS topic"
    assert {x.kind for x in verdict.tied} == {"SNS topic", "SQS queue"}
    assert "claim check" in verdict.binding.fix


def test_rates_and_sizes_read_as_written():
    assert parse_rate("2000/s") == 2000
    assert parse_rate("120,000/min") == 2000
    assert parse_size("4KB") == 4096
    assert parse_size("1MB") == 1024 * 1024
