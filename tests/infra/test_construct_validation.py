"""Bad props fail synth with a message that names the construct, the prop and the rule."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from queue_patterns import (
    AlarmTopic,
    AuroraPostgresDatabase,
    PostgresDatabase,
    QueueAlarms,
    QueueWithDeadLetter,
    QueueWorkerFleet,
    RestApiToQueue,
    WorkerNetwork,
)

from stacks.write_buffer_stack import WORKER_CODE

ORDER_SCHEMA = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}


@pytest.fixture(scope="module")
def vpc():
    stack = cdk.Stack(cdk.App(), "Network")
    return ec2.Vpc(stack, "Vpc", nat_gateways=0)


@pytest.fixture
def stack():
    return cdk.Stack(cdk.App(), "Test")


@pytest.fixture
def queue(stack):
    return sqs.Queue(stack, "Queue")


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"max_receive_count": 0}, r"QueueWithDeadLetter.max_receive_count: 0 is outside 1..1000"),
        (
            {
                "retention_period": Duration.days(14),
                "dead_letter_retention_period": Duration.days(7),
            },
            r"dead_letter_retention_period: 604800s is not longer than retention_period",
        ),
        ({"receive_wait_time": Duration.seconds(30)}, r"receive_wait_time: 30s is outside 0..20s"),
        ({"visibility_timeout": Duration.hours(13)}, r"visibility_timeout: 46800s is outside"),
        ({"content_based_deduplication": True}, r"content_based_deduplication: True needs fifo"),
    ],
)
def test_queue_with_dead_letter_rejects(stack, props, message):
    with pytest.raises(ValueError, match=message):
        QueueWithDeadLetter(stack, "Orders", **props)


def test_fifo_queue_with_dead_letter_makes_both_queues_fifo(stack):
    orders = QueueWithDeadLetter(stack, "Orders", fifo=True, content_based_deduplication=True)
    assert orders.queue.fifo and orders.dead_letter_queue.fifo


def test_a_fifo_dead_letter_queue_may_be_shorter_lived_than_its_source(stack):
    """FIFO queues reset a message's enqueue timestamp when it moves to the DLQ, so a dead letter
    gets the DLQ's whole retention however long it waited in the source (a standard DLQ must
    outlive its source: see the rejections above)."""
    ledger = QueueWithDeadLetter(
        stack,
        "Ledger",
        fifo=True,
        retention_period=Duration.days(4),
        dead_letter_retention_period=Duration.days(1),
    )
    assert ledger.dead_letter_queue.fifo


def test_a_customer_managed_key_keeps_sqs_default_data_key_reuse(stack):
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Match, Template

    QueueWithDeadLetter(stack, "Orders", encryption_key=kms.Key(stack, "Key"))
    Template.from_stack(stack).all_resources_properties(
        "AWS::SQS::Queue", {"KmsDataKeyReusePeriodSeconds": Match.absent()}
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {
                "request_schema": {
                    **ORDER_SCHEMA,
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                }
            },
            r"RestApiToQueue.request_schema: .* is not JSON Schema draft 4",
        ),
        ({"request_schema": {"type": "array"}}, r"request_schema: type 'array' is not 'object'"),
        ({"resource_path": "orders/new"}, r"resource_path: 'orders/new' must be one path segment"),
        (
            {"throttle_rate_limit": 100, "throttle_burst_limit": 10},
            r"throttle_burst_limit: 10 is less than throttle_rate_limit",
        ),
        ({"waf_rate_limit_per_ip": 5}, r"waf_rate_limit_per_ip: 5 is outside"),
    ],
)
def test_rest_api_to_queue_rejects(stack, queue, props, message):
    with pytest.raises(ValueError, match=message):
        RestApiToQueue(stack, "Api", queue=queue, **{"request_schema": ORDER_SCHEMA, **props})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"code_path": "/nonexistent"},
            r"QueueWorkerFleet.code_path: '/nonexistent' has no requirements.txt",
        ),
        ({"module": "rm -rf"}, r"module: 'rm -rf' is not a Python module name"),
        (
            {"instance_type": ec2.InstanceType("t3.micro")},
            r"instance_type: t3.micro is not a Graviton",
        ),
        (
            {"min_capacity": 3, "max_capacity": 2},
            r"max_capacity: 2 must be at least 1 and at least min_capacity \(3\)",
        ),
        ({"scaling": "memory"}, r"scaling: 'memory' is not one of step, backlog_per_instance, cpu"),
        (
            {"scale_out_steps": ((10, 1), (5, 2))},
            r"scale_out_steps: thresholds \[10, 5\] must start at 1 or more and rise",
        ),
        ({"scale_out_steps": ((1, 0),)}, r"scale_out_steps: .* adds fewer than 1 instance"),
        ({"scale_in_after": Duration.seconds(90)}, r"scale_in_after: 90s must be whole minutes"),
        (
            {"scaling": "backlog_per_instance", "min_capacity": 0},
            r"min_capacity: 0 with scaling='backlog_per_instance' cannot work",
        ),
        ({"shutdown_grace": Duration.minutes(10)}, r"shutdown_grace: 600s is outside 1..300s"),
    ],
)
def test_queue_worker_fleet_rejects(vpc, props, message):
    stack = cdk.Stack(vpc.stack.node.scope, f"Fleet{abs(hash(message))}")
    queue = sqs.Queue(stack, "Queue")
    base = {
        "vpc": vpc,
        "queue": queue,
        "code_path": str(WORKER_CODE),
        "module": "write_buffer_worker",
    }
    with pytest.raises(ValueError, match=message):
        QueueWorkerFleet(stack, "Workers", **{**base, **props})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"database_name": "orders-db"}, r"PostgresDatabase.database_name: 'orders-db' must be"),
        # Python identifiers, but RDS wants an ASCII letter first.
        ({"database_name": "_orders"}, r"database_name: '_orders' must be .* beginning with a"),
        ({"database_name": "ördrs"}, r"database_name: 'ördrs' must be 1 to 63 ASCII"),
        ({"allocated_storage_gib": 5}, r"allocated_storage_gib: 5 is outside 20..65536"),
        ({"backup_retention": Duration.days(0)}, r"backup_retention: 0 days is outside 1..35"),
    ],
)
def test_postgres_database_rejects(vpc, props, message):
    stack = cdk.Stack(vpc.stack.node.scope, f"Db{abs(hash(message))}")
    with pytest.raises(ValueError, match=message):
        PostgresDatabase(stack, "Database", vpc=vpc, **props)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"database_name": "orders-db"}, r"AuroraPostgresDatabase.database_name: 'orders-db'"),
        ({"min_capacity": 0.25}, r"min_capacity: 0.25 ACUs is not 0..256 in steps of 0.5"),
        ({"min_capacity": 4, "max_capacity": 2}, r"max_capacity: 2 ACUs .* at least min_capacity"),
        ({"auto_pause_after": Duration.minutes(1)}, r"auto_pause_after: 60s is outside 300..86400"),
        ({"readers": 16}, r"AuroraPostgresDatabase.readers: 16 is outside 0..15"),
    ],
)
def test_aurora_postgres_database_rejects(vpc, props, message):
    stack = cdk.Stack(vpc.stack.node.scope, f"Aurora{abs(hash(message))}")
    with pytest.raises(ValueError, match=message):
        AuroraPostgresDatabase(stack, "Database", vpc=vpc, **props)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"setup_environment": {"A": "1"}}, r"setup_environment: given without setup_module"),
        ({"setup_module": "not a module"}, r"setup_module: 'not a module' is not a Python module"),
        ({"boot_downloads": {"ca.pem": "http://example.com/ca.pem"}}, r"is not an https URL"),
        ({"boot_downloads": {"../ca.pem": "https://example.com/ca.pem"}}, r"not a plain file name"),
    ],
)
def test_queue_worker_fleet_rejects_a_bad_setup_step(vpc, props, message):
    stack = cdk.Stack(vpc.stack.node.scope, f"Setup{abs(hash(message))}")
    queue = sqs.Queue(stack, "Queue")
    with pytest.raises(ValueError, match=message):
        QueueWorkerFleet(
            stack,
            "Workers",
            vpc=vpc,
            queue=queue,
            code_path=str(WORKER_CODE),
            module="write_buffer_worker",
            **props,
        )


def test_worker_network_needs_two_azs_for_the_database(stack):
    with pytest.raises(ValueError, match=r"WorkerNetwork.max_azs: 1 is outside 2..6"):
        WorkerNetwork(stack, "Network", max_azs=1)


def test_worker_network_rejects_more_nat_gateways_than_azs(stack):
    with pytest.raises(
        ValueError, match=r"WorkerNetwork.nat_gateways: 3 is outside 0..max_azs \(2\)"
    ):
        WorkerNetwork(stack, "Network", max_azs=2, nat_gateways=3)


def test_queue_alarms_reject_an_age_threshold_under_the_metric_period(stack, queue):
    with pytest.raises(ValueError, match=r"QueueAlarms.max_message_age: 30s is under 60s"):
        QueueAlarms(
            stack,
            "Alarms",
            queue=queue,
            dead_letter_queue=queue,
            max_message_age=Duration.seconds(30),
        )


def test_alarm_topic_rejects_a_subscriber_that_is_not_an_email(stack):
    with pytest.raises(ValueError, match=r"AlarmTopic.email_subscribers: 'ops' is not an email"):
        AlarmTopic(stack, "Alarms", email_subscribers=["ops"])


def _expiry_threshold(alarms: QueueAlarms) -> float:
    stack = cdk.Stack.of(alarms)
    return stack.resolve(alarms.dead_letters_expiring.node.default_child.threshold)


def _queues(stack, *, fifo=False, retention=Duration.days(4), dead_letter=Duration.days(14)):
    return QueueWithDeadLetter(
        stack,
        "Orders",
        fifo=fifo,
        retention_period=retention,
        dead_letter_retention_period=dead_letter,
    )


def test_dead_letter_expiry_alarm_fires_before_any_standard_dead_letter_can_expire(stack):
    """A standard DLQ's age metric counts from the move, expiry from the original enqueue: a
    message that waited the source's whole 4 days expires after 10 days in a 14-day DLQ, so the
    alarm must fire at 75% of 10 days, not of 14 (which would be 10.5 days: too late)."""
    orders = _queues(stack)
    alarms = QueueAlarms(
        stack,
        "Alarms",
        queue=orders.queue,
        dead_letter_queue=orders.dead_letter_queue,
        dead_letter_retention=Duration.days(14),
    )
    threshold = _expiry_threshold(alarms)
    assert threshold == 0.75 * Duration.days(10).to_seconds()
    earliest_expiry_in_dlq = Duration.days(14 - 4).to_seconds()
    assert threshold < earliest_expiry_in_dlq


def test_dead_letter_expiry_alarm_uses_the_whole_retention_when_the_clock_restarts(stack):
    """FIFO queues reset the enqueue timestamp on the move; an SNS subscription's DLQ (queue and
    DLQ are one) receives its messages new. Either way DLQ age and expiry share one clock."""
    ledger = _queues(stack, fifo=True)
    fifo = QueueAlarms(
        stack,
        "LedgerAlarms",
        queue=ledger.queue,
        dead_letter_queue=ledger.dead_letter_queue,
        dead_letter_retention=Duration.days(14),
    )
    subscription_dlq = sqs.Queue(
        stack, "SubscriptionDeadLetter", retention_period=Duration.days(14)
    )
    delivery = QueueAlarms(
        stack,
        "DeliveryAlarms",
        queue=subscription_dlq,
        dead_letter_queue=subscription_dlq,
        max_message_age=None,
        dead_letter_retention=Duration.days(14),
    )
    for alarms in (fifo, delivery):
        assert _expiry_threshold(alarms) == 0.75 * Duration.days(14).to_seconds()


def test_dead_letter_expiry_alarm_reads_an_imported_source_retention_from_its_prop(stack):
    source = sqs.Queue.from_queue_arn(stack, "Source", "arn:aws:sqs:us-east-1:123456789012:orders")
    dead_letters = sqs.Queue(stack, "DeadLetters", retention_period=Duration.days(14))
    with pytest.raises(ValueError, match=r"QueueAlarms.queue_retention_period: required"):
        QueueAlarms(
            stack,
            "Alarms",
            queue=source,
            dead_letter_queue=dead_letters,
            dead_letter_retention=Duration.days(14),
        )
    alarms = QueueAlarms(
        stack,
        "Stated",
        queue=source,
        dead_letter_queue=dead_letters,
        dead_letter_retention=Duration.days(14),
        queue_retention_period=Duration.days(7),
    )
    assert _expiry_threshold(alarms) == 0.75 * Duration.days(7).to_seconds()


def test_dead_letter_expiry_alarm_rejects_a_retention_the_dlq_does_not_have(stack):
    orders = _queues(stack)
    with pytest.raises(
        ValueError,
        match=r"QueueAlarms.dead_letter_retention: 864000s is not the retention of "
        r"Test/Orders/DeadLetter \(1209600s\)",
    ):
        QueueAlarms(
            stack,
            "Alarms",
            queue=orders.queue,
            dead_letter_queue=orders.dead_letter_queue,
            dead_letter_retention=Duration.days(10),
        )


def test_dead_letter_expiry_alarm_rejects_a_standard_dlq_that_does_not_outlive_its_source(stack):
    source = sqs.Queue.from_queue_arn(stack, "Source", "arn:aws:sqs:us-east-1:123456789012:orders")
    dead_letters = sqs.Queue(stack, "DeadLetters", retention_period=Duration.days(4))
    with pytest.raises(
        ValueError,
        match=r"QueueAlarms.dead_letter_retention: 345600s is not longer than the source "
        r"queue's retention \(345600s\)",
    ):
        QueueAlarms(
            stack,
            "Alarms",
            queue=source,
            dead_letter_queue=dead_letters,
            dead_letter_retention=Duration.days(4),
            queue_retention_period=Duration.days(4),
        )
