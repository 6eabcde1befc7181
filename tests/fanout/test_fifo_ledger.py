"""Where order matters: FIFO topic -> FIFO queue keeps each order's events in sequence, and the
ledger applies them strictly in order."""

from __future__ import annotations

import json
import uuid

import pytest
from fanout_support import LambdaContext, failed_ids, load_handler, sqs_event, sqs_record

pytestmark = pytest.mark.engines

STEPS = ["PaymentAuthorized", "PaymentCaptured", "PaymentRefunded"]


@pytest.fixture(scope="module")
def ledger(lambda_environment):
    return load_handler("payment_ledger")


def payment(order: str, step: int) -> dict:
    return {"eventType": STEPS[step], "orderId": order, "sequence": step + 1}


def fifo_event(*events: dict) -> dict:
    return sqs_event(*[sqs_record(json.dumps(e), group=e["orderId"]) for e in events])


def state(dynamodb, env, order):
    return dynamodb.Table(env["LEDGER_TABLE"]).get_item(Key={"orderId": order}).get("Item", {})


def drain(sqs, queue: str) -> list[dict]:
    """Receive and delete until the queue is empty, in the order SQS hands messages out."""
    received = []
    while batch := sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", []):
        received += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return received


def test_fifo_topic_fans_out_each_orders_events_in_order_to_every_fifo_queue(moto):
    """Interleaved publishes for several orders reach two FIFO subscribers (the ledger and, say,
    a reconciliation queue), each in per-order sequence, on moto's SNS and SQS."""
    sns, sqs = moto.client("sns"), moto.client("sqs")
    name = uuid.uuid4().hex[:8]
    topic = sns.create_topic(
        Name=f"payments-{name}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    queues = []
    for subscriber in ("ledger", "reconciliation"):
        queue = sqs.create_queue(
            QueueName=f"{subscriber}-{name}.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        queues.append(queue)
    orders = [f"order-{name}-{n}" for n in range(4)]
    for step in range(3):
        for order in orders:  # interleaved across orders
            sns.publish(
                TopicArn=topic, Message=json.dumps(payment(order, step)), MessageGroupId=order
            )
    # A publisher's retry of the first event: same body, so the same deduplication id.
    sns.publish(TopicArn=topic, Message=json.dumps(payment(orders[0], 0)), MessageGroupId=orders[0])
    for queue in queues:
        received = drain(sqs, queue)
        assert len(received) == 12, queue  # the retried publish was dropped by deduplication
        for order in orders:
            assert [e["sequence"] for e in received if e["orderId"] == order] == [1, 2, 3]


def test_ledger_applies_each_orders_events_in_sequence(ledger, dynamodb, lambda_environment):
    order = f"order-{uuid.uuid4().hex[:10]}"
    response = ledger.handler(fifo_event(*[payment(order, s) for s in range(3)]), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert state(dynamodb, lambda_environment, order)["state"] == "refunded"


def test_an_event_before_its_predecessor_fails_with_the_rest_of_its_group_only(
    ledger, dynamodb, lambda_environment
):
    late, other = f"order-{uuid.uuid4().hex[:10]}", f"order-{uuid.uuid4().hex[:10]}"
    event = fifo_event(payment(late, 1), payment(late, 2), payment(other, 0))
    response = ledger.handler(event, LambdaContext())
    records = event["Records"]
    assert failed_ids(response) == [records[0]["messageId"], records[1]["messageId"]]
    assert state(dynamodb, lambda_environment, late) == {}
    assert state(dynamodb, lambda_environment, other)["state"] == "authorized"


def test_a_redelivered_event_is_applied_once(ledger, dynamodb, lambda_environment):
    order = f"order-{uuid.uuid4().hex[:10]}"
    ledger.handler(fifo_event(payment(order, 0), payment(order, 1)), LambdaContext())
    response = ledger.handler(fifo_event(payment(order, 1)), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert state(dynamodb, lambda_environment, order)["sequence"] == 2


def test_something_that_is_not_a_payment_event_fails_alone(ledger):
    order = f"order-{uuid.uuid4().hex[:10]}"
    event = fifo_event(payment(order, 0))
    bad = sqs_record('{"eventType": "Unknown"}', group="someone-else")
    event["Records"].append(bad)
    assert failed_ids(ledger.handler(event, LambdaContext())) == [bad["messageId"]]
