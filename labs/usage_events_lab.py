"""Usage events lab: fan-in from EventBridge into the usage queue, beside direct producers.

Runs on moto's EventBridge, SQS and S3 with the rule exactly as `cdk synth` writes it (its event
pattern and input transformation are read from the synthesized UsageMetering stack):

  1. services put events on the usage bus: three "Usage Recorded" events, an "Order Placed"
     event, a usage event with a negative quantity and one without a customer;
  2. the rule chooses the three, transformed into the usage message direct producers send;
     a direct producer sends one more through the other door (SendMessage);
  3. the scheduled batcher (the real handler) writes all four into one object, with a summary.

    python -m labs.usage_events_lab
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

from labs.lambda_local import LambdaContext, load_handler

ROOT = Path(__file__).resolve().parent.parent


def synthesized_usage_rule() -> dict:
    """Synthesize the UsageMetering stack alone (sandbox) and return its Usage Recorded rule."""
    import aws_cdk as cdk

    sys.path.insert(0, str(ROOT / "constructs"))
    from stacks.profiles import SANDBOX
    from stacks.usage_metering_stack import UsageMeteringStack

    context = json.loads((ROOT / "cdk.json").read_text())["context"] | {"profile": "sandbox"}
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(context=context, outdir=outdir, builtin_cloud_formation_validation=False)
        UsageMeteringStack(app, "UsageMetering", profile=SANDBOX)
        template = app.synth().get_stack_by_name("UsageMetering").template
    [rule] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    ]
    return rule


def moto_input_transformer(
    transformer: dict, numbers: tuple[str, ...] = ("detail-quantity",)
) -> dict:
    """The synthesized input transformer in moto's dialect. EventBridge writes a string variable
    placed bare in a JSON template as a JSON string (it adds the quotes); moto inserts the text
    as it is, so the string variables are quoted here. Number variables stay bare, as synthesized."""
    template = transformer["InputTemplate"]
    for name in transformer["InputPathsMap"]:
        if name not in numbers:
            template = template.replace(f"<{name}>", f'"<{name}>"')
    return {**transformer, "InputTemplate": template}


def usage_event(source: str, customer: str | None, meter: str = "api-calls", quantity=1) -> dict:
    detail = {"meter": meter, "quantity": quantity}
    if customer:
        detail["customerId"] = customer
    return {"Source": source, "DetailType": "Usage Recorded", "Detail": json.dumps(detail)}


def main() -> int:
    from labs.local_engines import moto_server

    print("synthesizing the UsageMetering stack to read the usage rule ...", flush=True)
    rule = synthesized_usage_rule()
    [target] = rule["Targets"]
    with moto_server() as moto:
        sqs, s3, eventbridge = moto.client("sqs"), moto.client("s3"), moto.client("events")
        queue = sqs.create_queue(QueueName="usage")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        eventbridge.create_event_bus(Name="usage")
        eventbridge.put_rule(
            Name="usage-recorded",
            EventBusName="usage",
            EventPattern=json.dumps(rule["EventPattern"]),
        )
        eventbridge.put_targets(
            Rule="usage-recorded",
            EventBusName="usage",
            Targets=[
                {
                    "Id": "Queue",
                    "Arn": arn,
                    "InputTransformer": moto_input_transformer(target["InputTransformer"]),
                }
            ],
        )
        print(f"   rule: {json.dumps(rule['EventPattern'])}")
        print(f"   retry policy {target['RetryPolicy']}, dead letters to the target's own DLQ")

        print("\n1. services put six events on the usage bus")
        events = {
            "usage, customer-1, 1 api call": usage_event("billing.gateway", "customer-1"),
            "usage, customer-2, 3 api calls": usage_event(
                "billing.gateway", "customer-2", quantity=3
            ),
            "usage, customer-1, 2.5 GB-hours": usage_event(
                "storage.service", "customer-1", "storage-gb-hours", 2.5
            ),
            "Order Placed": {
                "Source": "shop.orders",
                "DetailType": "Order Placed",
                "Detail": json.dumps({"orderId": "o-1"}),
            },
            "usage with quantity -1": usage_event("billing.gateway", "customer-1", quantity=-1),
            "usage without a customer": usage_event("billing.gateway", None),
        }
        for label, event in events.items():
            eventbridge.put_events(Entries=[{**event, "EventBusName": "usage"}])
            print(f"   put {label}")

        print("\n2. what reached the usage queue (the rule chose, the transformer rewrote)")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
        for message in messages.get("Messages", []):
            print(f"   {message['Body']}")
        direct = {
            "eventId": str(uuid.uuid4()),
            "producer": "service-0",
            "customerId": "customer-1",
            "meter": "api-calls",
            "quantity": 1,
        }
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(direct))
        print(f"   + a direct producer's SendMessage: {json.dumps(direct)}")

        print("\n3. the scheduled batcher's run")
        bucket = "usage-batches"
        s3.create_bucket(Bucket=bucket)
        os.environ.update(
            {
                **moto.environment(),
                "QUEUE_URL": queue,
                "BATCH_BUCKET": bucket,
                "POWERTOOLS_LOG_LEVEL": "CRITICAL",
            }
        )
        batcher = load_handler("usage_batcher")
        batcher.SETTINGS = batcher.settings()
        result = batcher.handler({}, LambdaContext(function_name="usage-batcher"))
        lines = gzip.decompress(
            s3.get_object(Bucket=bucket, Key=result["key"])["Body"].read()
        ).splitlines()
        print(f"   one object, {result['written']} events: s3://{bucket}/{result['key']}")
        print(f"   summary: {json.loads(lines[-1])['summary']}")
    return 0 if result["written"] == 4 else 1


if __name__ == "__main__":
    sys.exit(main())
