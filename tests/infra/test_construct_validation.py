"""Bad props fail synth with a message that names the construct, the prop and the rule."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from queue_patterns import (
    AlarmTopic,
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
        ({"allocated_storage_gib": 5}, r"allocated_storage_gib: 5 is outside 20..65536"),
        ({"backup_retention": Duration.days(0)}, r"backup_retention: 0 days is outside 1..35"),
        ({"rotate_secret": True}, r"rotation_subnets: required when rotate_secret is True"),
    ],
)
def test_postgres_database_rejects(vpc, props, message):
    stack = cdk.Stack(vpc.stack.node.scope, f"Db{abs(hash(message))}")
    with pytest.raises(ValueError, match=message):
        PostgresDatabase(stack, "Database", vpc=vpc, **props)


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
