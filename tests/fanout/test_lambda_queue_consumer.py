"""LambdaQueueConsumer refuses, at synth, what SQS and Lambda would refuse or get wrong."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from queue_patterns import LambdaQueueConsumer

CODE = str(Path(__file__).resolve().parents[2] / "lambda" / "payment_ledger")
HANDLER = "payment_ledger.handler"


def build(*, fifo=False, visibility=60, dead_letters=True, **props):
    stack = cdk.Stack(cdk.App(), "Test")
    dead_letter_queue = sqs.Queue(stack, "DeadLetters", fifo=fifo or None)
    queue = sqs.Queue(
        stack,
        "Queue",
        fifo=fifo or None,
        visibility_timeout=Duration.seconds(visibility) if visibility else None,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=5)
        if dead_letters
        else None,
    )
    return LambdaQueueConsumer(
        stack,
        "Consumer",
        queue=queue,
        code_path=CODE,
        **{"handler": HANDLER, "timeout": Duration.seconds(10), **props},
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"visibility": 30},
            r"LambdaQueueConsumer.visibility_timeout: 30s is less than 6 x the function timeout "
            r"\(10s\); AWS recommends at least 6x so that retries of a throttled batch do not "
            r"redeliver it early",
        ),
        ({"visibility": None}, r"visibility_timeout: 30s is less than 6 x"),  # SQS's default
        (
            {"fifo": True, "max_batching_window": Duration.seconds(1)},
            r"max_batching_window: 1s is set on a FIFO queue",
        ),
        ({"fifo": True, "batch_size": 11}, r"batch_size: 11 is outside 1..10, the most a FIFO"),
        (
            {"batch_size": 10_001, "max_batching_window": Duration.seconds(5)},
            r"batch_size: 10001 is outside 1..10000",
        ),
        ({"batch_size": 100}, r"batch_size: 100 is over 10 without max_batching_window"),
        ({"max_concurrency": 1}, r"max_concurrency: 1 is outside 2..1000"),
        ({"max_concurrency": 1001}, r"max_concurrency: 1001 is outside 2..1000"),
        ({"max_batching_window": Duration.minutes(6)}, r"max_batching_window: 360s is outside"),
        (
            {"timeout": Duration.minutes(20), "visibility": 43_200},
            r"timeout: 1200s is outside 1..900s",
        ),
        ({"memory_size": 64}, r"memory_size: 64 is outside 128..10240"),
        ({"max_message_age": Duration.seconds(30)}, r"max_message_age: 30s is under 60s"),
        (
            {"dead_letters": False},
            r"LambdaQueueConsumer.queue: Test/Queue has no dead-letter queue; a record that "
            r"always fails would be retried until retention deletes it",
        ),
        ({"handler": "handler"}, r"handler: 'handler' is not `module.function`"),
        ({"handler": "missing_module.handler"}, r"code_path: .* has no missing_module.py"),
    ],
)
def test_bad_props_fail_synth_naming_the_prop_and_the_rule(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_an_imported_queue_needs_its_visibility_timeout_stated():
    stack = cdk.Stack(cdk.App(), "Test")
    queue = sqs.Queue.from_queue_arn(stack, "Queue", "arn:aws:sqs:us-east-1:123456789012:orders")
    with pytest.raises(
        ValueError, match=r"queue_visibility_timeout: required for a queue defined outside"
    ):
        LambdaQueueConsumer(stack, "Consumer", queue=queue, code_path=CODE, handler=HANDLER)
    consumer = LambdaQueueConsumer(
        stack,
        "Stated",
        queue=queue,
        code_path=CODE,
        handler=HANDLER,
        queue_visibility_timeout=Duration.minutes(3),
    )
    assert consumer.function.runtime.name == "python3.14"


def test_valid_props_build_a_consumer_with_partial_batch_responses():
    consumer = build(batch_size=100, max_batching_window=Duration.seconds(2), max_concurrency=50)
    template = cdk.assertions.Template.from_stack(cdk.Stack.of(consumer))
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 2,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 50},
        },
    )
    template.resource_count_is("AWS::CloudWatch::Alarm", 4)
    assert [a.node.id for a in consumer.alarms] == [
        "Errors",
        "Throttles",
        "MessageAge",
        "DeadLetters",
    ]


def test_age_and_dead_letter_alarms_can_be_left_to_another_construct():
    consumer = build(max_message_age=None, dead_letter_alarm=False)
    assert [a.node.id for a in consumer.alarms] == ["Errors", "Throttles"]
