"""Fan-out lab: publish an order, watch the queues, let the consumers work, on local engines.

Runs on moto's SNS, SQS and DynamoDB with the subscriptions exactly as `cdk synth` writes them
(filter policies and raw delivery are read from the synthesized OrderFanOut template):

  1. three orders are published once each: a paid parcel, a paid download, a free download;
  2. each queue shows which orders its filter let in (shipping never sees a download, payment
     never sees a free order, audit sees everything with its SNS envelope);
  3. the four real Lambda handlers consume their queues (as the event source mapping would);
  4. the same order is published again: idempotent consumers change nothing;
  5. an event that breaks the contract fails in every consumer and lands in every DLQ.

    python -m labs.fan_out_lab
    python -m labs.fan_out_lab --template cdk.out/OrderFanOut.template.json   # already synthesized
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from labs.lambda_local import LAYER, deliver, load_handler

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("Inventory", "Payment", "Shipping", "Audit")
TABLES = {  # environment variable -> (table, partition key, sort key)
    "INVENTORY_TABLE": ("inventory", "pk", None),
    "PAYMENTS_TABLE": ("payments", "orderId", None),
    "SHIPMENTS_TABLE": ("shipments", "orderId", None),
    "EVENTS_TABLE": ("order-events", "orderId", "eventKey"),
    "IDEMPOTENCY_TABLE": ("idempotency", "id", None),
    "LEDGER_TABLE": ("payment-ledger", "orderId", None),
}


STACK_NAME = "queue-patterns-order-fan-out-sandbox"


def subscriptions_from_template(template: dict) -> dict[str, tuple[dict | None, bool]]:
    """{unit: (filter policy, raw delivery)} for each SNS subscription in the template."""
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::SNS::Subscription":
            props = resource["Properties"]
            queue_id = props["Endpoint"]["Fn::GetAtt"][0]
            unit = next(u for u in UNITS if queue_id.startswith(f"{u}Queue"))
            found[unit] = (props.get("FilterPolicy"), bool(props.get("RawMessageDelivery", False)))
    return found


def synthesized_subscriptions() -> dict[str, tuple[dict | None, bool]]:
    """Synthesize the OrderFanOut stack (sandbox), alone, and read its subscriptions."""
    import tempfile

    import aws_cdk as cdk

    sys.path.insert(0, str(ROOT / "constructs"))
    from stacks.order_fan_out_stack import OrderFanOutStack
    from stacks.profiles import SANDBOX

    context = json.loads((ROOT / "cdk.json").read_text())["context"] | {"profile": "sandbox"}
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(context=context, outdir=outdir, builtin_cloud_formation_validation=False)
        OrderFanOutStack(app, "OrderFanOut", stack_name=STACK_NAME, profile=SANDBOX)
        template = app.synth().get_stack_by_name(STACK_NAME).template
    return subscriptions_from_template(template)


@dataclass
class LocalFanOut:
    sns: object
    sqs: object
    topic_arn: str
    queues: dict[str, tuple[str, str]]  # unit -> (queue url, dlq url)
    raw: dict[str, bool]

    @classmethod
    def create(cls, moto, subscriptions, max_receives: int = 2) -> LocalFanOut:
        """The topic and a queue + DLQ per unit, subscribed as the stack subscribes them."""
        sns, sqs = moto.client("sns"), moto.client("sqs")
        name = uuid.uuid4().hex[:8]
        topic = sns.create_topic(Name=f"orders-{name}")["TopicArn"]
        queues = {}
        for unit, (filter_policy, raw) in subscriptions.items():
            dlq = sqs.create_queue(QueueName=f"{unit.lower()}-dlq-{name}")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            queue = sqs.create_queue(
                QueueName=f"{unit.lower()}-{name}",
                Attributes={
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}
                    )
                },
            )["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            attributes = {"RawMessageDelivery": "true" if raw else "false"}
            if filter_policy:
                attributes["FilterPolicy"] = json.dumps(filter_policy)
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
            queues[unit] = (queue, dlq)
        return cls(sns, sqs, topic, queues, {u: raw for u, (_, raw) in subscriptions.items()})

    def publish(self, event: dict) -> None:
        """Publish as the order service does: the event, plus the attributes filters match."""
        if str(LAYER) not in sys.path:
            sys.path.insert(0, str(LAYER))
        from order_events import message_attributes, parse_event

        try:
            attributes = message_attributes(parse_event(event))
        except ValueError:  # a broken event still carries the attributes its sender claims
            attributes = {
                "eventType": {"DataType": "String", "StringValue": event["eventType"]},
                "amountCents": {"DataType": "Number", "StringValue": "1"},
                "shippable": {"DataType": "String", "StringValue": "true"},
            }
        self.sns.publish(
            TopicArn=self.topic_arn, Message=json.dumps(event), MessageAttributes=attributes
        )

    def waiting(self, unit: str) -> list[str]:
        """Order ids waiting in a unit's queue (peeked: they stay)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queues[unit][0], MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        bodies = [json.loads(m["Body"]) for m in messages]
        return sorted(
            (b if self.raw[unit] else json.loads(b["Message"]))["orderId"] for b in bodies
        )

    def dead_letters(self, unit: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[unit][1], AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def consume(self, unit: str) -> list[str]:
        return deliver(self.sqs, self.queues[unit][0], load_handler(f"{unit.lower()}_consumer"))


def create_tables(moto) -> None:
    dynamodb = moto.client("dynamodb")
    existing = dynamodb.list_tables()["TableNames"]
    for name, partition, sort in TABLES.values():
        if name in existing:
            continue
        keys = [{"AttributeName": partition, "KeyType": "HASH"}]
        attributes = [{"AttributeName": partition, "AttributeType": "S"}]
        if sort:
            keys.append({"AttributeName": sort, "KeyType": "RANGE"})
            attributes.append({"AttributeName": sort, "AttributeType": "S"})
        dynamodb.create_table(
            TableName=name,
            KeySchema=keys,
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
        )


def handler_environment(moto) -> dict[str, str]:
    return {
        **moto.environment(),
        "POWERTOOLS_SERVICE_NAME": "fan-out-lab",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",  # the lab tells its own story
        **{variable: name for variable, (name, _, _) in TABLES.items()},
    }


def event(order_id: str, sku: str, cents: int, shippable: bool) -> dict:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "OrderPlaced",
        "orderId": order_id,
        "customerId": "lab-customer",
        "items": [{"sku": sku, "quantity": 1, "unitPriceCents": cents}],
        "totalCents": cents,
        "shippable": shippable,
        "occurredAt": "2026-11-24T12:00:00+00:00",
    }


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--template",
        type=Path,
        help="the OrderFanOut template `cdk synth -c profile=sandbox` wrote (default: synthesize "
        "the stack now)",
    )
    args = parser.parse_args(argv)

    from labs.local_engines import moto_server

    if args.template:
        print(f"reading the fan-out subscriptions from {args.template}", flush=True)
        subscriptions = subscriptions_from_template(json.loads(args.template.read_text()))
    else:
        print("synthesizing the app to read the fan-out subscriptions ...", flush=True)
        subscriptions = synthesized_subscriptions()
    with moto_server() as moto:
        os.environ.update(handler_environment(moto))
        create_tables(moto)
        for sku in ("BOOK-1", "EBOOK-1", "EBOOK-2"):
            moto.client("dynamodb").put_item(
                TableName="inventory",
                Item={"pk": {"S": f"SKU#{sku}"}, "available": {"N": "10"}, "reserved": {"N": "0"}},
            )
        fan_out = LocalFanOut.create(moto, subscriptions)
        orders = {
            "paid parcel": event("lab-parcel-0001", "BOOK-1", 1500, True),
            "paid download": event("lab-download-0002", "EBOOK-1", 900, False),
            "free download": event("lab-freebie-0003", "EBOOK-2", 0, False),
        }
        print("\n1. publish three orders, once each")
        for label, order in orders.items():
            fan_out.publish(order)
            print(f"   {label:14s} {order['orderId']}")
        print("\n2. what each queue received (its subscription filter decides)")
        for unit in UNITS:
            print(f"   {unit:10s} {', '.join(fan_out.waiting(unit)) or '-'}")
        print("\n3. the consumers process their queues")
        for unit in UNITS:
            failures = fan_out.consume(unit)
            print(f"   {unit:10s} failures: {len(failures)}")
        dynamodb = moto.client("dynamodb")
        stock = dynamodb.get_item(TableName="inventory", Key={"pk": {"S": "SKU#BOOK-1"}})["Item"]
        print(
            f"   stock BOOK-1: available {stock['available']['N']}, reserved {stock['reserved']['N']}"
        )
        print(
            f"   payments: {dynamodb.scan(TableName='payments')['Count']}, "
            f"shipments: {dynamodb.scan(TableName='shipments')['Count']}, "
            f"audit trail: {dynamodb.scan(TableName='order-events')['Count']}"
        )
        print("\n4. the paid parcel is published again (a publisher retry)")
        fan_out.publish(orders["paid parcel"])
        for unit in UNITS:
            fan_out.consume(unit)
        stock = dynamodb.get_item(TableName="inventory", Key={"pk": {"S": "SKU#BOOK-1"}})["Item"]
        print(
            f"   stock BOOK-1 still: available {stock['available']['N']}; "
            f"payments still {dynamodb.scan(TableName='payments')['Count']}"
        )
        print("\n5. an event whose total does not match its items")
        fan_out.publish({**orders["paid parcel"], "orderId": "lab-broken-0004", "totalCents": 1})
        for unit in UNITS:
            failures = fan_out.consume(unit)
            print(
                f"   {unit:10s} failed {len(failures)} times, dead letters now {fan_out.dead_letters(unit)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
