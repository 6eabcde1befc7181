"""Dead-letter lab: a poison message, maxReceiveCount, the DLQ, the retention trap, redrive.

Locally, on moto: a queue with a redrive policy receives a handful of orders. One is poison
(a currency the consumer does not support yet): it fails every time. One is flaky: it fails
once (a database blip) and would succeed on a retry. The consumer releases a failed message at
once (ChangeMessageVisibility 0) rather than waiting out the visibility timeout, to keep the
lab short; the receive counts are the same either way.

Then the dead letter is looked at the way an operator would, including how long it has left
(a standard queue keeps the enqueue time when it dead-letters a message), the consumer is
fixed, and `tools/redrive.py` moves the dead letters back to be processed.

Against a deployed WriteBuffer stack (`--stack-outputs outputs.json`) it puts one poison
message on the real orders queue, waits for the real workers to give up on it, and reads the
dead letter's timestamps and both queues' retention from AWS.

    python -m labs dead-letter [--max-receives 3] [--dlq-retention-days 14]
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from labs.engines import Engines, depth, make_queue
from labs.registry import lab
from labs.story import Story
from labs.teaching import play

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400
SUPPORTED_V1 = {"EUR", "USD"}
SUPPORTED_V2 = {"EUR", "USD", "XTS"}


@dataclass
class DeadLetterObservation:
    max_receives: int
    poison_receives: int = 0
    dead_lettered: list[str] = field(default_factory=list)
    redriven: int = 0
    processed: dict[str, int] = field(default_factory=dict)
    orders: int = 0
    sent_timestamp_kept: bool = False

    @property
    def lost(self) -> int:
        return self.orders - len(self.processed)

    @property
    def headline(self) -> str:
        flaky = (
            "was dead-lettered too: one transient failure used up its only receive"
            if "flaky" in " ".join(self.dead_lettered)
            else "survived its one transient failure"
        )
        return (
            f"the poison order was received {self.poison_receives} times "
            f"(maxReceiveCount {self.max_receives}), then moved to the DLQ; the flaky order "
            f"{flaky}; after the fix redrive moved {self.redriven} back and "
            f"{len(self.processed)} of {self.orders} orders were processed, none lost"
        )


def order(kind: str, n: int) -> dict:
    currency = "XTS" if kind == "poison" else "EUR"
    return {"orderId": f"{kind}-{n:03d}", "currency": currency, "totalCents": 1000 + n}


def consume(
    story: Story,
    sqs,
    url: str,
    supported: set[str],
    observation: DeadLetterObservation,
    attempts: dict[str, int],
    *,
    log_rows: list | None = None,
) -> None:
    """Receive until the queue is empty; delete what succeeds, release what fails at once."""
    for _ in range(200):
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            if sum(depth(sqs, url)) == 0:
                return
            time.sleep(0.1)
            continue
        for message in messages:
            body = json.loads(message["Body"])
            order_id = body["orderId"]
            count = int(message["Attributes"]["ApproximateReceiveCount"])
            attempts[order_id] = attempts.get(order_id, 0) + 1
            if body["currency"] not in supported:
                outcome = f"failed: currency {body['currency']} not supported"
            elif order_id.startswith("flaky") and attempts[order_id] == 1:
                outcome = "failed: database connection reset (transient)"
            else:
                outcome = "processed"
            if order_id.startswith("poison"):
                observation.poison_receives = max(observation.poison_receives, count)
            if log_rows is not None and not order_id.startswith("order"):
                log_rows.append([order_id, count, outcome])
            if outcome == "processed":
                observation.processed[order_id] = observation.processed.get(order_id, 0) + 1
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:  # release it now; a consumer that just stops would wait out the timeout
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )


def retention_table(story: Story, retention_days: float, dlq_retention_days: float) -> None:
    rows = []
    for days_in_source in (0.0, 1.0, retention_days - 0.1):
        left = dlq_retention_days - days_in_source
        rows.append(
            [
                f"{days_in_source:g}",
                f"{max(left, 0):g}" + ("  (deleted on arrival)" if left <= 0 else ""),
                f"{dlq_retention_days:g}",
            ]
        )
    story.table(
        f"time left in the DLQ (retention {dlq_retention_days:g} days), "
        f"by time spent in the source queue (retention {retention_days:g} days)",
        ["days in the source before the move", "days left: standard queue", "FIFO queue"],
        rows,
    )


def run(
    story: Story,
    engines: Engines,
    *,
    max_receives: int = 3,
    retention_days: float = 4,
    dlq_retention_days: float = 14,
    good_orders: int = 6,
) -> DeadLetterObservation:
    sqs = engines.moto.client("sqs")
    story.step(
        f"a standard queue (retention {retention_days:g} days) with a DLQ (retention "
        f"{dlq_retention_days:g} days) and a redrive policy: maxReceiveCount {max_receives}"
    )
    pair = make_queue(
        sqs,
        "orders",
        max_receives=max_receives,
        attributes={
            "VisibilityTimeout": "5",
            "MessageRetentionPeriod": str(int(retention_days * DAY)),
        },
        dead_letter_attributes={"MessageRetentionPeriod": str(int(dlq_retention_days * DAY))},
    )
    orders = [order("order", n) for n in range(1, good_orders + 1)]
    orders += [order("flaky", 1), order("poison", 1)]
    observation = DeadLetterObservation(max_receives=max_receives, orders=len(orders))
    for body in orders:
        sqs.send_message(QueueUrl=pair.url, MessageBody=json.dumps(body))
    story.say(
        f"{good_orders} good orders, 1 flaky (fails once), 1 poison (currency XTS, which "
        "consumer v1 does not support)"
    )

    story.step("consumer v1 works the queue; every receive of the two odd orders:")
    rows: list = []
    attempts: dict[str, int] = {}
    consume(story, sqs, pair.url, SUPPORTED_V1, observation, attempts, log_rows=rows)
    story.table("", ["order", "ApproximateReceiveCount", "outcome"], rows)
    dead = sqs.receive_message(
        QueueUrl=pair.dead_letter_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["All"],
    ).get("Messages", [])
    observation.dead_lettered = sorted(json.loads(m["Body"])["orderId"] for m in dead)
    story.say(
        f"source queue empty; good orders processed: "
        f"{sum(1 for o in observation.processed if o.startswith('order'))}; "
        f"in the DLQ: {', '.join(observation.dead_lettered)}"
    )
    story.notice(
        f"SQS moved the poison on the receive after its count reached {max_receives}; the good "
        "orders flowed past it (a standard queue has no order to keep)"
    )

    story.step("the operator reads the dead letter (what the DLQ alarm would have sent you to)")
    now_ms = int(time.time() * 1000)
    for message in dead:
        attributes = message["Attributes"]
        sent = int(attributes["SentTimestamp"])
        observation.sent_timestamp_kept = observation.sent_timestamp_kept or sent < now_ms
        story.say(
            f"{json.loads(message['Body'])['orderId']}: SentTimestamp "
            f"{datetime.fromtimestamp(sent / 1000, UTC):%H:%M:%S.%f}"[:-3]
            + f" UTC, {(now_ms - sent) / 1000:.1f} s ago: the time it was first sent, "
            "not the time it was dead-lettered"
        )
    story.notice(
        "a standard queue keeps a message's enqueue time when it dead-letters it, and the DLQ "
        "expires it by that time; a FIFO queue resets it when the message moves"
    )
    retention_table(story, retention_days, dlq_retention_days)
    if dlq_retention_days <= retention_days:
        story.notice(
            "the trap: with a DLQ retention no longer than the source's, a message that waited "
            "long in the source is deleted from the DLQ before anyone reads it"
        )
    story.moto(
        "the table is the documented rule applied to days the lab cannot wait; moto keeps the "
        "SentTimestamp for FIFO dead letters too, where AWS resets it, so the lab does not use "
        "moto for the FIFO column"
    )

    story.step("the fix ships (consumer v2 supports XTS); redrive the DLQ with tools/redrive.py")
    sys.path.insert(0, str(ROOT))
    from tools.redrive import redrive

    result = redrive(
        sqs,
        pair.dead_letter_url,
        pair.url,
        log=lambda line: story.say(line),
        wait_seconds=0,
    )
    observation.redriven = result.moved
    consume(story, sqs, pair.url, SUPPORTED_V2, observation, attempts)
    story.table(
        "after redrive",
        ["order", "times processed"],
        [[o, n] for o, n in sorted(observation.processed.items()) if not o.startswith("order")],
    )
    story.moto(
        "moto has no StartMessageMoveTask, so redrive.py moved the messages itself (receive, "
        "send, delete only what was sent); on AWS the same command starts SQS's own move task"
    )
    return observation


def deployed(story: Story, outputs_file: str, timeout: float) -> DeadLetterObservation:
    """Poison the deployed WriteBuffer queue once and read its dead letter from AWS."""
    import boto3

    outputs = json.loads(Path(outputs_file).read_text())
    stack = next(v for v in outputs.values() if "OrdersDeadLetterQueueUrl" in v)
    queue, dlq = stack["OrdersQueueUrl"], stack["OrdersDeadLetterQueueUrl"]
    sqs = boto3.client("sqs", region_name=queue.split(".")[1])
    attributes = {
        url: sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["MessageRetentionPeriod", "RedrivePolicy"]
        )["Attributes"]
        for url in (queue, dlq)
    }
    max_receives = json.loads(attributes[queue]["RedrivePolicy"])["maxReceiveCount"]
    poison_id = f"lab-poison-{uuid.uuid4().hex[:12]}"
    story.step(f"one poison message on {queue} (valid JSON, not an order): {poison_id}")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"orderId": poison_id}))
    story.say(
        f"the workers will try it {max_receives} times (they start from zero instances: the "
        "first scale-out takes a few minutes); waiting for it in the DLQ"
    )
    observation = DeadLetterObservation(max_receives=max_receives, orders=1)
    started = time.monotonic()
    found = None
    with story.progress() as bars:
        task = bars.add_task("waiting for the dead letter", total=None, note="")
        while time.monotonic() - started < timeout and found is None:
            for message in sqs.receive_message(
                QueueUrl=dlq,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=10,
                VisibilityTimeout=5,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", []):
                if poison_id in message["Body"]:
                    found = message
            bars.update(task, note=f"{time.monotonic() - started:.0f} s")
    if found is None:
        story.say(f"not dead-lettered within {timeout:.0f} s; check the workers and the dashboard")
        return observation
    sent = int(found["Attributes"]["SentTimestamp"]) / 1000
    retention = int(attributes[dlq]["MessageRetentionPeriod"])
    observation.dead_lettered = [poison_id]
    observation.poison_receives = max_receives
    story.table(
        "the dead letter, read from AWS",
        ["", "value"],
        [
            ["sent (SentTimestamp)", datetime.fromtimestamp(sent, UTC).isoformat()],
            ["found in the DLQ", datetime.now(UTC).isoformat()],
            [
                "source retention",
                f"{int(attributes[queue]['MessageRetentionPeriod']) / DAY:g} days",
            ],
            ["DLQ retention", f"{retention / DAY:g} days"],
            ["the DLQ deletes it at", datetime.fromtimestamp(sent + retention, UTC).isoformat()],
        ],
    )
    story.notice("the expiry is counted from the first send, not from the move to the DLQ")
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=found["ReceiptHandle"])
    story.say(
        "the lab's poison message is deleted from the DLQ again; the DeadLetters alarm returns "
        f"to OK within minutes. For real dead letters, after a fix: "
        f"python tools/redrive.py --dlq {dlq}"
    )
    return observation


def command(
    max_receives: Annotated[
        int, typer.Option(min=1, max=1000, help="maxReceiveCount of the redrive policy.")
    ] = 3,
    retention_days: Annotated[
        float, typer.Option(min=1 / 1440, max=14, help="Source queue retention, days.")
    ] = 4,
    dlq_retention_days: Annotated[
        float, typer.Option(min=1 / 1440, max=14, help="DLQ retention, days.")
    ] = 14,
    stack_outputs: Annotated[
        str | None, typer.Option(help="cdk deploy --outputs-file JSON of a WriteBuffer stack.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Deployed mode: seconds to wait for the dead letter.")
    ] = 900,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """A poison message, maxReceiveCount, the DLQ, its retention trap, and redrive."""

    def experiment(story, engines):
        if stack_outputs:
            return deployed(story, stack_outputs, timeout)
        return run(
            story,
            engines,
            max_receives=max_receives,
            retention_days=retention_days,
            dlq_retention_days=dlq_retention_days,
        )

    raise typer.Exit(play(lab("dead-letter"), experiment, quiz=quiz))
