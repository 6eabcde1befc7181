"""Lambda-batch lab: partial batch responses vs whole-batch retry, batch size and window,
maximum concurrency, with this project's real payment consumer.

Two identical queues each get the same stream of paid orders, one of them poison (its total
does not match its items). Each queue is drained by a model of the Lambda SQS event source
mapping that invokes the real `lambda/payment_consumer` handler (the Lambda runtime's import
path and event shape, from labs/lambda_local.py):

- left, ReportBatchItemFailures on: the handler's `batchItemFailures` are honoured, only the
  poison goes back to the queue;
- right, a function without partial batch responses: it raises when any record failed (the only
  way it can ask for a retry), so its whole batch goes back.

The model, not moto, plays the event source mapping (moto runs Lambda functions in Docker):
it receives up to 10 messages per ReceiveMessage, gathers a batch of up to `--batch-size`
records for up to `--window` seconds, runs at most `--max-concurrency` invocations at once,
deletes what succeeded, and makes failed records visible again at once (the real mapping waits
for the visibility timeout; the receive counts come out the same). Each invocation spends
`--work` seconds "working" in parallel with the others; the handler calls themselves take turns,
because Powertools' module-level batch processor is made for one invocation per process, as in
Lambda.

    python -m labs lambda-batch [--batch-size 10] [--window 0] [--max-concurrency 2]
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated

import typer

from labs.engines import Engines, depth, make_queue
from labs.registry import lab
from labs.story import Story
from labs.teaching import play

MAX_RECEIVES = 3
HANDLER_LOCK = threading.Lock()


@dataclass
class MappingStats:
    partial: bool
    invocations: int = 0
    records: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)
    active: int = 0
    peak: int = 0
    dead_lettered: list[str] = field(default_factory=list)

    @property
    def reprocessed(self) -> int:
        """Records handed to the function again after an earlier delivery."""
        return sum(n - 1 for n in self.deliveries.values())

    @property
    def mean_batch(self) -> float:
        return sum(self.batch_sizes) / len(self.batch_sizes) if self.batch_sizes else 0.0


@dataclass
class LambdaBatchObservation:
    partial: MappingStats
    whole: MappingStats
    poison: str
    payments_written: int
    good_orders: int

    @property
    def headline(self) -> str:
        collateral = [o for o in self.whole.dead_lettered if o != self.poison]
        return (
            f"re-processed records: {self.partial.reprocessed} with partial batch responses, "
            f"{self.whole.reprocessed} with whole-batch retry; dead-lettered: "
            f"{len(self.partial.dead_lettered)} vs {len(self.whole.dead_lettered)} "
            f"({len(collateral)} good orders that shared the poison's batch); "
            f"{self.whole.invocations} invocations of {self.whole.mean_batch:.1f} records on "
            f"average; at most {max(self.partial.peak, self.whole.peak)} at once"
        )


def paid_order(n: int, poison: bool = False) -> dict:
    cents = 1000 + n
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "OrderPlaced",
        "orderId": f"lab-batch-{uuid.uuid4().hex[:8]}-{n:03d}",
        "customerId": "lab-customer",
        "items": [{"sku": "BOOK-1", "quantity": 1, "unitPriceCents": cents}],
        "totalCents": 1 if poison else cents,
        "shippable": True,
        "occurredAt": "2026-12-02T12:00:00+00:00",
    }


def invoke(moto, url, handler, messages, stats, lock, work) -> None:
    from labs.lambda_local import LambdaContext, sqs_event, sqs_record

    sqs = moto.client("sqs")
    with lock:
        stats.records += len(messages)
        stats.batch_sizes.append(len(messages))
        for m in messages:
            order_id = json.loads(m["Body"])["orderId"]
            stats.deliveries[order_id] = stats.deliveries.get(order_id, 0) + 1
    try:
        event = sqs_event(
            *[
                sqs_record(
                    m["Body"],
                    message_id=m["MessageId"],
                    receipt_handle=m["ReceiptHandle"],
                    receive_count=int(m["Attributes"]["ApproximateReceiveCount"]),
                )
                for m in messages
            ]
        )
        time.sleep(work)  # the function's own work, concurrent with other invocations
        with HANDLER_LOCK:
            response = handler.handler(event, LambdaContext(function_name="payment-consumer"))
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        if failed and not stats.partial:
            raise RuntimeError(f"{len(failed)} records failed")  # no partial responses: raise
    except Exception:  # the invocation failed: the whole batch goes back
        failed = {m["MessageId"] for m in messages}
    done = [m for m in messages if m["MessageId"] not in failed]
    back = [m for m in messages if m["MessageId"] in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ],
        )
    if back:
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(back)
            ],
        )
    with lock:
        stats.active -= 1


def event_source_mapping(
    moto, url, handler, stats, lock, stop, *, batch_size, window, max_concurrency, work
) -> None:
    """Poll, gather a batch (size or window, whichever comes first), invoke within the
    concurrency limit."""
    sqs = moto.client("sqs")
    with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
        while not stop.is_set():
            with lock:
                busy = stats.active
            if busy >= max_concurrency:  # the limit: messages wait in the queue, not in Lambda
                time.sleep(0.01)
                continue
            batch: list[dict] = []
            gathering_since = time.monotonic()
            while len(batch) < batch_size and not stop.is_set():
                got = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, batch_size - len(batch)),
                    WaitTimeSeconds=0,
                    VisibilityTimeout=30,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                ).get("Messages", [])
                batch += got
                if batch and time.monotonic() - gathering_since >= window:
                    break
                if not got:
                    time.sleep(0.05)
            if batch:
                with lock:  # counted here, so the limit holds before the invocation starts
                    stats.active += 1
                    stats.peak = max(stats.peak, stats.active)
                    stats.invocations += 1
                pool.submit(invoke, moto, url, handler, batch, stats, lock, work)


def run(
    story: Story,
    engines: Engines,
    *,
    batch_size: int = 10,
    window: float = 0,
    max_concurrency: int = 2,
    orders: int = 40,
    spread: float = 2.0,
    work: float = 0.3,
) -> LambdaBatchObservation:
    from labs.fan_out_lab import create_tables, handler_environment
    from labs.lambda_local import load_handler

    moto = engines.moto
    os.environ.update(handler_environment(moto))
    create_tables(moto)
    handler = load_handler("payment_consumer")
    sqs = moto.client("sqs")
    story.step(
        f"two queues (redrive after {MAX_RECEIVES} receives), the same {orders} paid orders "
        f"arriving over {spread:g} s, one poison; each drained by an event source mapping model "
        f"(batch size {batch_size}, window {window:g} s, maximum concurrency {max_concurrency}) "
        "invoking the real payment consumer"
    )
    pairs = {
        partial: make_queue(sqs, "payments", max_receives=MAX_RECEIVES) for partial in (True, False)
    }
    stats = {partial: MappingStats(partial=partial) for partial in pairs}
    bodies = [paid_order(n) for n in range(orders - 1)]
    poison = paid_order(orders, poison=True)
    bodies.insert(len(bodies) // 2, poison)

    lock, stop = threading.Lock(), threading.Event()
    mappings = [
        threading.Thread(
            target=event_source_mapping,
            args=(moto, pairs[partial].url, handler, stats[partial], lock, stop),
            kwargs=dict(
                batch_size=batch_size, window=window, max_concurrency=max_concurrency, work=work
            ),
            daemon=True,
        )
        for partial in pairs
    ]
    for thread in mappings:
        thread.start()
    started = time.monotonic()
    with story.progress() as bars:
        tasks = {
            partial: bars.add_task(
                "partial batch responses" if partial else "whole-batch retry",
                total=orders,
                note="",
            )
            for partial in pairs
        }
        for n, body in enumerate(bodies):  # the producer
            for pair in pairs.values():
                sqs.send_message(QueueUrl=pair.url, MessageBody=json.dumps(body))
            time.sleep(max(0.0, started + (n + 1) * spread / orders - time.monotonic()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            settled = True
            for partial, pair in pairs.items():
                with lock:
                    s = stats[partial]
                    note = f"invocations {s.invocations}, in flight {s.active}"
                    done = len(s.deliveries)
                bars.update(tasks[partial], completed=done, note=note)
                if s.active or sum(depth(sqs, pair.url)):
                    settled = False
            if settled:
                break
            time.sleep(0.1)
    stop.set()
    for thread in mappings:
        thread.join(timeout=10)
    for partial, pair in pairs.items():
        dead = sqs.receive_message(
            QueueUrl=pair.dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        stats[partial].dead_lettered = sorted(json.loads(m["Body"])["orderId"] for m in dead)

    dynamodb = moto.client("dynamodb")
    good_ids = {b["orderId"] for b in bodies if b is not poison}
    written = 0
    for order_id in good_ids:
        item = dynamodb.get_item(TableName="payments", Key={"orderId": {"S": order_id}})
        written += "Item" in item
    story.table(
        "",
        ["", "invocations", "records", "re-processed", "mean batch", "peak", "DLQ"],
        [
            [
                "partial" if partial else "whole batch",
                s.invocations,
                s.records,
                s.reprocessed,
                f"{s.mean_batch:.1f}",
                s.peak,
                len(s.dead_lettered),
            ]
            for partial, s in stats.items()
        ],
    )
    story.notice(
        "with partial batch responses only the poison came back; without them every record "
        "in its batch was delivered again with it, and those that kept sharing its batch used "
        f"up their {MAX_RECEIVES} receives and were dead-lettered with it although they had "
        "been processed"
    )
    story.say(
        f"payments recorded: {written} for {len(good_ids)} good orders, one row each: the "
        "consumer writes conditionally and is idempotent on (orderId, eventType), so a "
        "re-processed order is not charged again"
    )
    story.say(
        f"batching: window {window:g} s gave {stats[True].invocations} invocations of "
        f"{stats[True].mean_batch:.1f} records on average; a longer window means fewer, fuller "
        "batches and more latency. Maximum concurrency capped parallel invocations at "
        f"{max_concurrency}: the rest waited in the queue, not as throttled invocations."
    )
    story.moto(
        "the event source mapping here is a model (see the module's docstring): real Lambda "
        "runs pollers it scales itself and backs off after function errors; what it does with "
        "a batch's outcome is what this model does"
    )
    return LambdaBatchObservation(
        partial=stats[True],
        whole=stats[False],
        poison=poison["orderId"],
        payments_written=written,
        good_orders=len(good_ids),
    )


def command(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Records per invocation (BatchSize).")
    ] = 10,
    window: Annotated[
        float, typer.Option(min=0, max=300, help="MaximumBatchingWindowInSeconds.")
    ] = 0,
    max_concurrency: Annotated[
        int, typer.Option(min=2, max=1000, help="ScalingConfig.MaximumConcurrency.")
    ] = 2,
    orders: Annotated[int, typer.Option(min=2, max=500, help="Orders to send.")] = 40,
    work: Annotated[
        float, typer.Option(min=0, max=10, help="Seconds each invocation spends working.")
    ] = 0.3,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """Partial batch responses vs whole-batch retry; batch size, window, maximum concurrency."""
    raise typer.Exit(
        play(
            lab("lambda-batch"),
            lambda story, engines: run(
                story,
                engines,
                batch_size=batch_size,
                window=window,
                max_concurrency=max_concurrency,
                orders=orders,
                work=work,
            ),
            quiz=quiz,
        )
    )
