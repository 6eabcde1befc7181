"""The constructs enforce exactly the AWS limits tools/aws_facts.py records, and say where from.

For every limit a construct enforces, the boundary value is accepted and the value one past it is
refused, with an error naming the construct and prop and linking the fact's source page. Rules
that are not a range (a FIFO condition, a schema draft) get their own pair of cases below, and a
test fails if an enforcement is listed with no case, so the table, the code and docs/facts.md
move together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from queue_patterns import (
    AuroraPostgresDatabase,
    LambdaQueueConsumer,
    PostgresDatabase,
    QueueAlarms,
    QueueWithDeadLetter,
    QueueWorkerFleet,
    RestApiToQueue,
    ScheduledQueueWorker,
    WorkerNetwork,
)
from queue_patterns.lambda_queue_consumer import SQS_DEFAULT_VISIBILITY
from queue_patterns.queue_alarms import SQS_DEFAULT_RETENTION

from stacks import profiles
from stacks.write_buffer_stack import WORKER_CODE
from tools.aws_facts import FACTS, LOG_RETENTION_DAYS, Enforcement, Fact, fact, render

ROOT = Path(__file__).resolve().parents[2]
LEDGER_CODE = str(ROOT / "lambda" / "payment_ledger")
BATCHER_CODE = str(ROOT / "lambda" / "usage_batcher")
SCHEMA = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}
APP = cdk.App()
_stacks = iter(range(1_000_000))


def stack() -> cdk.Stack:
    return cdk.Stack(APP, f"Facts{next(_stacks)}")


def queue(scope, *, fifo=False, visibility=60):
    dead_letters = sqs.Queue(scope, "DeadLetters", fifo=fifo or None)
    return sqs.Queue(
        scope,
        "Queue",
        fifo=fifo or None,
        visibility_timeout=Duration.seconds(visibility),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=3),
    )


def consumer(*, fifo=False, visibility=60, **props):
    scope = stack()
    # No alarms unless a case asks for one: they cost time and test nothing here.
    props = {
        "timeout": Duration.seconds(10),
        "max_message_age": None,
        "dead_letter_alarm": False,
        **props,
    }
    return LambdaQueueConsumer(
        scope,
        "Consumer",
        queue=queue(scope, fifo=fifo, visibility=visibility),
        code_path=LEDGER_CODE,
        handler="payment_ledger.handler",
        **props,
    )


def batcher(**props):
    scope = stack()
    every = props.get("every", Duration.minutes(20))
    timeout = props.get("timeout", Duration.seconds(30))
    base = {
        "queue": sqs.Queue(scope, "Queue"),
        "queue_visibility_timeout": timeout,
        "code_path": BATCHER_CODE,
        "handler": "usage_batcher.handler",
        "every": every,
        "timeout": timeout,
        "max_message_age": Duration.seconds(every.to_seconds() + timeout.to_seconds() + 60),
    }
    return ScheduledQueueWorker(scope, "Batcher", **{**base, **props})


_vpc = None


def vpc() -> ec2.IVpc:
    global _vpc
    if _vpc is None:
        _vpc = ec2.Vpc(stack(), "Vpc", nat_gateways=0)
    return _vpc


def database(**props):
    return PostgresDatabase(cdk.Stack(APP, f"Db{next(_stacks)}"), "Database", vpc=vpc(), **props)


def aurora(**props):
    return AuroraPostgresDatabase(
        cdk.Stack(APP, f"Aurora{next(_stacks)}"), "Database", vpc=vpc(), **props
    )


def fleet(**props):
    scope = cdk.Stack(APP, f"Fleet{next(_stacks)}")
    return QueueWorkerFleet(
        scope,
        "Workers",
        vpc=vpc(),
        queue=sqs.Queue(scope, "Queue"),
        code_path=str(WORKER_CODE),
        module="write_buffer_worker",
        **props,
    )


def seconds(value: float) -> Duration:
    return Duration.seconds(value)


# How to build each target with a value in its fact's unit: (target, when) -> builder.
RANGES: dict[tuple[str, str], Callable[[float], object]] = {
    ("QueueWithDeadLetter.max_receive_count", ""): lambda v: QueueWithDeadLetter(
        stack(), "Q", max_receive_count=int(v)
    ),
    ("QueueWithDeadLetter.visibility_timeout", ""): lambda v: QueueWithDeadLetter(
        stack(), "Q", visibility_timeout=seconds(v)
    ),
    # FIFO: the DLQ-outlives-source rule (a fact of its own) stays out of the way.
    ("QueueWithDeadLetter.retention_period", ""): lambda v: QueueWithDeadLetter(
        stack(), "Q", fifo=True, retention_period=seconds(v)
    ),
    ("QueueWithDeadLetter.dead_letter_retention_period", ""): lambda v: QueueWithDeadLetter(
        stack(), "Q", fifo=True, dead_letter_retention_period=seconds(v)
    ),
    ("QueueWithDeadLetter.receive_wait_time", ""): lambda v: QueueWithDeadLetter(
        stack(), "Q", receive_wait_time=seconds(v)
    ),
    ("QueueAlarms.max_message_age", ""): lambda v: QueueAlarms(
        (s := stack()),
        "Alarms",
        queue=(q := sqs.Queue(s, "Queue")),
        dead_letter_queue=q,
        max_message_age=seconds(v),
    ),
    ("LambdaQueueConsumer.max_message_age", ""): lambda v: consumer(max_message_age=seconds(v)),
    ("QueueWorkerFleet.scale_in_after", ""): lambda v: fleet(scale_in_after=seconds(v)),
    ("LambdaQueueConsumer.timeout", ""): lambda v: consumer(
        timeout=seconds(v), visibility=6 * max(v, 1)
    ),
    ("ScheduledQueueWorker.timeout", ""): lambda v: batcher(timeout=seconds(v)),
    ("LambdaQueueConsumer.memory_size", ""): lambda v: consumer(memory_size=int(v)),
    ("ScheduledQueueWorker.memory_size", ""): lambda v: batcher(memory_size=int(v)),
    ("LambdaQueueConsumer.batch_size", "standard queue"): lambda v: consumer(
        batch_size=int(v), max_batching_window=seconds(1)
    ),
    ("LambdaQueueConsumer.batch_size", "FIFO queue"): lambda v: consumer(
        fifo=True, batch_size=int(v)
    ),
    ("LambdaQueueConsumer.max_batching_window", ""): lambda v: consumer(
        max_batching_window=seconds(v)
    ),
    ("LambdaQueueConsumer.max_concurrency", ""): lambda v: consumer(max_concurrency=int(v)),
    # The queue's visibility in multiples of a 10 s function timeout.
    (
        "LambdaQueueConsumer.visibility_timeout",
        "the queue's, read from it or from queue_visibility_timeout",
    ): lambda v: consumer(visibility=round(v * 10)),
    ("ScheduledQueueWorker.every", ""): lambda v: batcher(every=seconds(v)),
    ("PostgresDatabase.database_name", ""): lambda v: database(database_name="a" * int(v)),
    ("PostgresDatabase.allocated_storage_gib", ""): lambda v: database(
        allocated_storage_gib=int(v)
    ),
    ("PostgresDatabase.backup_retention", ""): lambda v: database(
        backup_retention=Duration.days(v)
    ),
    ("AuroraPostgresDatabase.database_name", ""): lambda v: aurora(database_name="a" * int(v)),
    ("AuroraPostgresDatabase.min_capacity", ""): lambda v: aurora(
        min_capacity=v, max_capacity=max(v, 1)
    ),
    ("AuroraPostgresDatabase.max_capacity", ""): lambda v: aurora(max_capacity=v),
    ("AuroraPostgresDatabase.auto_pause_after", ""): lambda v: aurora(auto_pause_after=seconds(v)),
    ("AuroraPostgresDatabase.readers", ""): lambda v: aurora(readers=int(v)),
    ("AuroraPostgresDatabase.backup_retention", ""): lambda v: aurora(
        backup_retention=Duration.days(v)
    ),
    ("WorkerNetwork.max_azs", ""): lambda v: WorkerNetwork(stack(), "Network", max_azs=int(v)),
    ("RestApiToQueue.waf_rate_limit_per_ip", ""): lambda v: RestApiToQueue(
        (s := stack()),
        "Api",
        queue=sqs.Queue(s, "Queue"),
        request_schema=SCHEMA,
        waf_rate_limit_per_ip=int(v),
    ),
}
# "One past" in the fact's unit, where 1 is not the smallest step that matters.
STEPS = {
    "lambda.sqs_visibility_timeout": 0.1,
    "aurora.serverless_v2_min_capacity": 0.5,
    "aurora.serverless_v2_max_capacity": 0.5,
}


def _dead_letters(retention: Duration, dead_letter: Duration):
    return lambda: QueueWithDeadLetter(
        stack(), "Q", retention_period=retention, dead_letter_retention_period=dead_letter
    )


def _expiry_alarm(dead_letter: Duration):
    def build():
        scope = stack()
        source = sqs.Queue.from_queue_arn(scope, "Src", "arn:aws:sqs:us-east-1:123456789012:src")
        return QueueAlarms(
            scope,
            "Alarms",
            queue=source,
            dead_letter_queue=sqs.Queue(scope, "DeadLetters", retention_period=dead_letter),
            dead_letter_retention=dead_letter,
            queue_retention_period=Duration.days(4),
        )

    return build


def _admit(*connections: int):
    """A db.t4g.micro (default max_connections 112) admitting peers that hold `connections`."""

    def build():
        db = database(instance_type=ec2.InstanceType("t4g.micro"))
        for i, n in enumerate(connections):
            db.allow_from(ec2.Peer.ipv4(f"10.0.{i}.0/24"), f"Peer {i}", max_connections=n)
        return db

    return build


# Rules that are not a range: (target, when) -> (a build that passes, a build one past it).
RULES: dict[tuple[str, str], tuple[Callable[[], object], Callable[[], object]]] = {
    (
        "QueueWithDeadLetter.dead_letter_retention_period",
        "standard queues: longer than retention_period",
    ): (
        _dead_letters(Duration.days(4), Duration.seconds(4 * 86_400 + 1)),
        _dead_letters(Duration.days(4), Duration.days(4)),
    ),
    (
        "QueueAlarms.dead_letter_retention",
        "standard DLQ: alarm at 75% of DLQ retention minus source retention",
    ): (
        _expiry_alarm(Duration.seconds(4 * 86_400 + 1)),
        _expiry_alarm(Duration.days(4)),
    ),
    ("LambdaQueueConsumer.batch_size", "over 10: a window of 1 s or more"): (
        lambda: consumer(batch_size=11, max_batching_window=seconds(1)),
        lambda: consumer(batch_size=11, max_batching_window=seconds(0)),
    ),
    ("LambdaQueueConsumer.max_batching_window", "FIFO queue"): (
        lambda: consumer(fifo=True),
        lambda: consumer(fifo=True, max_batching_window=seconds(0)),
    ),
    ("RestApiToQueue.request_schema", ""): (
        lambda: RestApiToQueue(
            (s := stack()), "Api", queue=sqs.Queue(s, "Q"), request_schema=SCHEMA
        ),
        lambda: RestApiToQueue(
            (s := stack()),
            "Api",
            queue=sqs.Queue(s, "Q"),
            request_schema={**SCHEMA, "$schema": "http://json-schema.org/draft-07/schema#"},
        ),
    ),
    (
        "PostgresDatabase.allow_from",
        "max_connections of every admitted peer, summed, within the limit",
    ): (_admit(100, 12), _admit(100, 13)),
    ("Profile.log_retention_days", ""): (
        lambda: [
            profiles.log_retention(dataclasses.replace(profiles.SANDBOX, log_retention_days=d))
            for d in LOG_RETENTION_DAYS
        ],
        lambda: profiles.log_retention(dataclasses.replace(profiles.SANDBOX, log_retention_days=2)),
    ),
}


def _boundaries() -> list[tuple[Fact, Enforcement, str, float, float]]:
    """(fact, enforcement, side, boundary value, one past it) for every ranged enforcement."""
    cases = []
    for f in FACTS:
        step = STEPS.get(f.key, 1)
        for e in f.enforced_by:
            if (e.target, e.when) not in RANGES:
                continue
            low = e.minimum if e.minimum is not None else f.minimum
            high = e.maximum if e.maximum is not None else f.maximum
            if low is not None:
                cases.append((f, e, "minimum", low, low - step))
            if high is not None:
                cases.append((f, e, "maximum", high, high + step))
    return cases


@pytest.mark.parametrize(
    ("fact_", "enforcement", "side", "boundary", "past"),
    _boundaries(),
    ids=lambda x: x.key if isinstance(x, Fact) else (x.target if isinstance(x, Enforcement) else x),
)
def test_each_construct_accepts_the_boundary_and_refuses_one_past_it(
    fact_, enforcement, side, boundary, past
):
    build = RANGES[(enforcement.target, enforcement.when)]
    build(boundary)
    if past < 0 and fact_.unit == "s":
        with pytest.raises(RuntimeError, match="cannot be negative"):  # CDK's Duration refuses it
            build(past)
        return
    with pytest.raises(ValueError) as refused:
        build(past)
    assert f"{enforcement.target}:" in str(refused.value)
    assert fact_.source in str(refused.value), "the error must link the fact's source"


@pytest.mark.parametrize(
    ("target", "when"), list(RULES), ids=lambda x: x if isinstance(x, str) else "rule"
)
def test_each_rule_that_is_not_a_range_accepts_its_edge_and_refuses_past_it(target, when):
    [fact_] = [f for f in FACTS if any((e.target, e.when) == (target, when) for e in f.enforced_by)]
    passes, fails = RULES[(target, when)]
    passes()
    with pytest.raises(ValueError) as refused:
        fails()
    assert f"{target}:" in str(refused.value)
    if not target.startswith("Profile."):  # the app's own check names the valid values instead
        assert fact_.source in str(refused.value), "the error must link the fact's source"


def test_every_enforcement_in_the_table_has_a_boundary_case():
    covered = set(RANGES) | set(RULES)
    missing = [
        (f.key, e.target, e.when)
        for f in FACTS
        for e in f.enforced_by
        if (e.target, e.when) not in covered
    ]
    assert missing == []


def test_the_constructs_defaults_for_sqs_are_sqs_own():
    assert SQS_DEFAULT_VISIBILITY.to_seconds() == fact("sqs.visibility_timeout_default").minimum
    assert SQS_DEFAULT_RETENTION.to_seconds() == fact("sqs.message_retention_default").minimum
    assert set(profiles._RETENTION_NAMES) == set(LOG_RETENTION_DAYS)


def test_the_facts_page_is_rendered_from_the_table():
    page = (ROOT / "docs" / "facts.md").read_text()
    assert render(page) == page, "stale docs/facts.md: run python tools/aws_facts.py docs/facts.md"


def test_every_fact_names_an_aws_page_and_the_day_it_was_checked():
    for f in FACTS:
        assert f.source.startswith("https://docs.aws.amazon.com/"), f.key
        assert len(f.checked) == 10 and f.checked.startswith("20"), f.key
