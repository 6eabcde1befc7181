"""End to end on moto's server: publish to the orders topic with the deployed filter policies,
watch each queue get only its events, let the consumers process them, and see bad events land in
the DLQs. The subscriptions are made from the synthesized template, so the test exercises the
filter policies and delivery modes that `cdk deploy` would create."""

from __future__ import annotations

import json
import sys
import uuid

import pytest
from fanout_support import (
    LAYER,
    LambdaContext,
    load_handler,
    new_order_id,
    order_event,
    sqs_event_from_messages,
)

pytestmark = pytest.mark.engines
UNITS = ("Inventory", "Payment", "Shipping", "Audit")
MAX_RECEIVES = 2


@pytest.fixture(scope="module")
def deployed_subscriptions(synthesized_app):
    """{unit: (filter policy or None, raw delivery)} as synthesized for the sandbox profile."""
    template = synthesized_app("sandbox").template_json("OrderFanOut")
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::SNS::Subscription":
            continue
        props = resource["Properties"]
        queue_id = props["Endpoint"]["Fn::GetAtt"][0]
        unit = next(u for u in UNITS if queue_id.startswith(f"{u}Queue"))
        found[unit] = (props.get("FilterPolicy"), props.get("RawMessageDelivery", False))
    assert set(found) == set(UNITS)
    return found


@pytest.fixture(scope="module")
def fan_out(moto, deployed_subscriptions):
    """The topic and four queue pairs on moto, subscribed as the stack subscribes them."""
    sns, sqs = moto.client("sns"), moto.client("sqs")
    name = uuid.uuid4().hex[:8]
    topic = sns.create_topic(Name=f"orders-{name}")["TopicArn"]
    queues = {}
    for unit, (filter_policy, raw) in deployed_subscriptions.items():
        dlq = sqs.create_queue(QueueName=f"{unit}-dlq-{name}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue = sqs.create_queue(
            QueueName=f"{unit}-{name}",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
                )
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {"RawMessageDelivery": "true" if raw else "false"}
        if filter_policy:
            attributes["FilterPolicy"] = json.dumps(filter_policy)
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[unit] = (queue, dlq)
    return sns, sqs, topic, queues


def publish(sns, topic, event: dict) -> None:
    sys.path.insert(0, str(LAYER))
    from order_events import OrderEvent, message_attributes

    attributes = message_attributes(
        OrderEvent(
            event_id=event["eventId"],
            event_type=event["eventType"],
            order_id=event["orderId"],
            customer_id=event["customerId"],
            items=tuple(event["items"]),
            total_cents=sum(i["quantity"] * i["unitPriceCents"] for i in event["items"]),
            shippable=event["shippable"],
            occurred_at=event["occurredAt"],
        )
    )
    sns.publish(TopicArn=topic, Message=json.dumps(event), MessageAttributes=attributes)


def order_ids_in(sqs, queue, raw: bool) -> list[str]:
    """Peek (visibility 0) at the order ids waiting in a queue."""
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
    bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    return sorted((b if raw else json.loads(b["Message"]))["orderId"] for b in bodies)


def drain(sqs, queue, module) -> list[str]:
    """What Lambda's event source mapping does: invoke with a batch, delete the records that
    succeeded, let the failures come back (here at once) until SQS dead-letters them."""
    failures: list[str] = []
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            break
        response = module.handler(sqs_event_from_messages(messages), LambdaContext())
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        failures += sorted(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        retry = [m for m in messages if m["MessageId"] in failed]
        if retry:
            sqs.change_message_visibility_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(retry)
                ],
            )
    return failures


def test_each_queue_gets_only_the_events_its_filter_admits(fan_out, deployed_subscriptions, stock):
    sns, sqs, topic, queues = fan_out
    stock("BOOK-1", 1000)
    paid_parcel = order_event(new_order_id(), shippable=True)
    free_download = order_event(
        new_order_id(),
        shippable=False,
        items=[{"sku": "EBOOK-1", "quantity": 1, "unitPriceCents": 0}],
    )
    paid_download = order_event(new_order_id(), shippable=False)
    for event in (paid_parcel, free_download, paid_download):
        publish(sns, topic, event)

    def waiting(unit):
        return order_ids_in(sqs, queues[unit][0], raw=deployed_subscriptions[unit][1])

    assert waiting("Inventory") == sorted(
        [paid_parcel["orderId"], free_download["orderId"], paid_download["orderId"]]
    )
    assert waiting("Payment") == sorted([paid_parcel["orderId"], paid_download["orderId"]])
    assert waiting("Shipping") == [paid_parcel["orderId"]]
    assert waiting("Audit") == sorted(
        [paid_parcel["orderId"], free_download["orderId"], paid_download["orderId"]]
    )

    for unit in UNITS:
        module = load_handler(f"{unit.lower()}_consumer")
        assert drain(sqs, queues[unit][0], module) == [], unit


def test_a_bad_event_is_retried_then_dead_lettered_in_every_queue_it_reached(fan_out, stock):
    sns, sqs, topic, queues = fan_out
    bad = {**order_event(new_order_id(), shippable=True), "customerId": ""}  # breaks the contract
    publish(sns, topic, bad)
    for unit in UNITS:
        queue, dlq = queues[unit]
        failures = drain(sqs, queue, load_handler(f"{unit.lower()}_consumer"))
        assert len(failures) == MAX_RECEIVES, unit  # tried maxReceiveCount times, then moved
        dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        assert len(dead) == 1 and bad["orderId"] in dead[0]["Body"], unit
