"""Fan-out lab: SNS filter policies (attributes and body), raw delivery vs the envelope, a
subscription's DLQ, and a new subscriber that the publisher never hears about.

One topic, one publisher function, and queues subscribed the way the OrderFanOut stack does it:

- payments: a filter on the `amountCents` message attribute (paid orders only), raw delivery;
- big-orders: a filter on the message *body* (`totalCents` at or above `--big-order-cents`);
- audit: no filter, the SNS envelope kept (raw delivery off), for the message id and timestamp;
- every subscription names a dead-letter queue for deliveries SNS cannot make.

Then an analytics queue subscribes; the publisher's code does not change, and the next order
reaches it too.

Against a deployed OrderFanOut stack (`--stack-outputs outputs.json`) it reads the real
subscriptions' filter policies, delivery mode and redrive policy, publishes three orders, and
reads what the consumers wrote to their tables.

    python -m labs fan-out [--big-order-cents 10000] [--payments-raw/--payments-envelope]
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from labs.engines import Engines, drain, make_queue, queue_arn, unique
from labs.registry import lab
from labs.story import Story
from labs.teaching import play

LAYER = Path(__file__).resolve().parent.parent / "lambda" / "order_events_layer" / "python"


@dataclass
class FanOutObservation:
    received: dict[str, list[str]] = field(default_factory=dict)
    envelope_keys: list[str] = field(default_factory=list)
    raw_is_event: bool = False
    late_subscriber_got: list[str] = field(default_factory=list)
    redrive_policies: int = 0

    @property
    def headline(self) -> str:
        got = "; ".join(f"{q}: {', '.join(ids) or '-'}" for q, ids in self.received.items())
        return (
            f"{got}; the late analytics subscriber got {', '.join(self.late_subscriber_got)} "
            "and nothing published before it subscribed"
        )


def order_event(order_id: str, cents: int, shippable: bool) -> dict:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "OrderPlaced",
        "orderId": order_id,
        "customerId": "lab-customer",
        "items": [
            {"sku": "BOOK-1" if shippable else "EBOOK-1", "quantity": 1, "unitPriceCents": cents}
        ],
        "totalCents": cents,
        "shippable": shippable,
        "occurredAt": "2026-12-02T12:00:00+00:00",
    }


def attributes_for(event: dict) -> dict:
    """The message attributes the filter policies match on, from the shared event contract."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    from order_events import message_attributes, parse_event

    return message_attributes(parse_event(event))


def publish(sns, topic_arn: str, event: dict) -> None:
    """The publisher: it knows the topic and the event, and nothing of its subscribers."""
    sns.publish(
        TopicArn=topic_arn, Message=json.dumps(event), MessageAttributes=attributes_for(event)
    )


def order_id_of(body: str) -> str:
    document = json.loads(body)
    if document.get("Type") == "Notification":
        document = json.loads(document["Message"])
    return document["orderId"]


def run(
    story: Story,
    engines: Engines,
    *,
    big_order_cents: int = 10_000,
    payments_raw: bool = True,
) -> FanOutObservation:
    moto = engines.moto
    sns, sqs = moto.client("sns"), moto.client("sqs")
    observation = FanOutObservation()
    topic = sns.create_topic(Name=unique("orders"))["TopicArn"]
    delivery_failures = make_queue(sqs, "subscription-dlq").url
    redrive = json.dumps({"deadLetterTargetArn": queue_arn(sqs, delivery_failures)})
    subscriptions = {
        "payments": {
            "FilterPolicy": json.dumps({"amountCents": [{"numeric": [">", 0]}]}),
            "RawMessageDelivery": "true" if payments_raw else "false",
        },
        "big-orders": {
            "FilterPolicyScope": "MessageBody",
            "FilterPolicy": json.dumps({"totalCents": [{"numeric": [">=", big_order_cents]}]}),
            "RawMessageDelivery": "true",
        },
        "audit": {"RawMessageDelivery": "false"},
    }
    queues: dict[str, str] = {}
    story.step("one topic, three subscribed queues, one subscription DLQ")
    rows = []
    for name, attributes in subscriptions.items():
        queues[name] = make_queue(sqs, name).url
        arn = sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn(sqs, queues[name]),
            Attributes={**attributes, "RedrivePolicy": redrive},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        kept = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        observation.redrive_policies += "RedrivePolicy" in kept
        rows.append(
            [
                name,
                kept.get("FilterPolicyScope", "-") if kept.get("FilterPolicy") else "-",
                kept.get("FilterPolicy", "(none: everything)"),
                "raw" if kept.get("RawMessageDelivery") == "true" else "envelope",
                "yes" if "RedrivePolicy" in kept else "no",
            ]
        )
    story.table("subscriptions", ["queue", "filter on", "filter policy", "delivery", "DLQ"], rows)

    orders = {
        "free-download": order_event("lab-free-0001", 0, False),
        "small-paid": order_event("lab-small-0002", 1_500, True),
        "big-paid": order_event("lab-big-0003", 25_000, True),
    }
    story.step("the publisher publishes three orders, with the attributes the filters match on")
    for label, event in orders.items():
        publish(sns, topic, event)
        story.say(f"{label:14s} {event['orderId']}  totalCents {event['totalCents']}")
    time.sleep(0.05)  # moto delivers at once; SNS within moments
    bodies = {name: drain(sqs, url) for name, url in queues.items()}
    observation.received = {
        name: sorted(order_id_of(m["Body"]) for m in messages) for name, messages in bodies.items()
    }
    story.table(
        "what each queue received",
        ["queue", "orders"],
        [[name, ", ".join(ids) or "-"] for name, ids in observation.received.items()],
    )
    story.notice(
        "payments never saw the free order (attribute filter); big-orders saw only the order "
        f"with totalCents ≥ {big_order_cents} (body filter); audit saw everything"
    )

    story.step("the same order as two subscribers got it: raw delivery vs the SNS envelope")
    same = orders["small-paid"]["orderId"]

    def body_of(queue: str) -> str:
        return next(m["Body"] for m in bodies[queue] if order_id_of(m["Body"]) == same)

    raw, wrapped = body_of("payments"), body_of("audit")
    observation.envelope_keys = sorted(json.loads(wrapped))
    observation.raw_is_event = payments_raw and "orderId" in json.loads(raw)
    story.table(
        f"order {same}",
        ["subscriber", "body starts", "bytes"],
        [
            [
                f"payments ({'raw' if payments_raw else 'envelope'})",
                " ".join(raw.split())[:60] + "…",
                len(raw),
            ],
            ["audit (envelope)", " ".join(wrapped.split())[:60] + "…", len(wrapped)],
        ],
    )
    story.say(f"envelope keys: {', '.join(observation.envelope_keys)}")
    story.notice(
        "with the envelope the consumer unwraps Message (a JSON string) and gets SNS's "
        "MessageId and Timestamp; with raw delivery the body is the event itself, and the "
        "message attributes arrive as SQS message attributes"
    )

    story.step("a new team subscribes an analytics queue; the publisher is not touched")
    queues["analytics"] = make_queue(sqs, "analytics").url
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn(sqs, queues["analytics"]),
        Attributes={"RawMessageDelivery": "true", "RedrivePolicy": redrive},
    )
    late = order_event("lab-late-0004", 4_200, True)
    publish(sns, topic, late)
    time.sleep(0.05)  # moto delivers at once; SNS within moments
    observation.late_subscriber_got = sorted(
        order_id_of(m["Body"]) for m in drain(sqs, queues["analytics"])
    )
    story.say(f"analytics received: {', '.join(observation.late_subscriber_got)}")
    story.notice(
        "the new subscriber gets what is published from now on, not the three earlier orders: "
        "a standard topic keeps no messages (FIFO topics can archive and replay)"
    )

    story.step("the subscription DLQ")
    story.say(
        f"every subscription has a RedrivePolicy naming one DLQ ({observation.redrive_policies} "
        "of 3 read back from SNS)"
    )
    story.moto(
        "moto does not model SNS delivery failures: if a subscribed queue is deleted, moto fails "
        "the Publish call itself, where AWS accepts the publish and puts that subscription's "
        "copy in its DLQ (client-side errors are not retried; server-side errors are retried by "
        "the delivery policy first). So the lab shows the setting, not a failed delivery; "
        "--stack-outputs reads the deployed stack's subscription DLQ."
    )
    return observation


def deployed(story: Story, outputs_file: str) -> FanOutObservation:
    """The deployed OrderFanOut stack: its subscriptions as SNS has them, and three orders."""
    import boto3

    outputs = json.loads(Path(outputs_file).read_text())
    stack = next(v for v in outputs.values() if "OrdersTopicArn" in v)
    topic = stack["OrdersTopicArn"]
    region = topic.split(":")[3]
    sns = boto3.client("sns", region_name=region)
    dynamodb = boto3.client("dynamodb", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    story.step(f"the subscriptions of {topic}, as SNS has them")
    rows = []
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=topic):
        for subscription in page["Subscriptions"]:
            attributes = sns.get_subscription_attributes(
                SubscriptionArn=subscription["SubscriptionArn"]
            )["Attributes"]
            rows.append(
                [
                    subscription["Endpoint"].split(":")[-1],
                    attributes.get("FilterPolicy", "(none)"),
                    "raw" if attributes.get("RawMessageDelivery") == "true" else "envelope",
                    "yes" if attributes.get("RedrivePolicy") else "no",
                ]
            )
    story.table("", ["queue", "filter policy", "delivery", "DLQ"], rows)
    orders = {
        "paid parcel": order_event(f"lab-{uuid.uuid4().hex[:10]}", 1_500, True),
        "paid download": order_event(f"lab-{uuid.uuid4().hex[:10]}", 900, False),
        "free download": order_event(f"lab-{uuid.uuid4().hex[:10]}", 0, False),
    }
    story.step("three orders published to the real topic; the consumers get a minute")
    for label, event in orders.items():
        publish(sns, topic, event)
        story.say(f"{label:14s} {event['orderId']}")
    time.sleep(60)
    observation = FanOutObservation()
    table_rows = []
    for label, event in orders.items():
        found = []
        for unit in ("Payment", "Shipping"):
            key = {"orderId": {"S": event["orderId"]}}
            if dynamodb.get_item(TableName=stack[f"{unit}TableName"], Key=key).get("Item"):
                found.append(unit.lower())
        observation.received[label] = found
        table_rows.append([label, ", ".join(found) or "-"])
    story.table("which consumers recorded each order", ["order", "recorded by"], table_rows)
    dead = sqs.get_queue_attributes(
        QueueUrl=stack["SubscriptionDeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    story.say(f"messages in the subscription DLQ (deliveries SNS could not make): {dead}")
    return observation


def command(
    big_order_cents: Annotated[
        int, typer.Option(min=0, help="The body filter's threshold on totalCents.")
    ] = 10_000,
    payments_raw: Annotated[
        bool,
        typer.Option("--payments-raw/--payments-envelope", help="Raw delivery for payments."),
    ] = True,
    stack_outputs: Annotated[
        str | None, typer.Option(help="cdk deploy --outputs-file JSON of an OrderFanOut stack.")
    ] = None,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """SNS filter policies, raw delivery vs envelope, a subscription DLQ, a new subscriber."""

    def experiment(story, engines):
        if stack_outputs:
            return deployed(story, stack_outputs)
        return run(story, engines, big_order_cents=big_order_cents, payments_raw=payments_raw)

    raise typer.Exit(play(lab("fan-out"), experiment, quiz=quiz))
