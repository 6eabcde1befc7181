"""FIFO lab: order per message group, interleaving across groups, deduplication, the FIFO DLQ.

Orders from a few customers (one message group each) are sent interleaved to a FIFO queue and
worked by several consumers at once. One customer's second order is poison. The lab records
who processed what, and when:

- within a group, orders are processed in the order they were sent, one batch at a time: while
  a consumer holds group B's messages, no other consumer receives group B;
- across groups, consumers work in parallel, so the overall order interleaves;
- the poison message blocks its group until maxReceiveCount moves it to the FIFO DLQ; then the
  group goes on without it (a FIFO DLQ trades the group's order for progress).

Then deduplication: the same send twice with one MessageDeduplicationId, and the same body twice
on a queue with content-based deduplication.

    python -m labs fifo [--groups 3] [--consumers 3] [--orders-per-group 4]
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated

import typer

from labs.engines import Engines, depth, make_queue
from labs.registry import lab
from labs.story import Story
from labs.teaching import play

GROUP_NAMES = "ABCDEFGHIJ"


@dataclass
class Processed:
    group: str
    sequence: int
    consumer: int
    at: float


@dataclass
class FifoObservation:
    groups: int
    per_group: int
    poison: str | None
    processed: list[Processed] = field(default_factory=list)
    overlapping_holds: int = 0  # times two consumers held the same group at once
    elapsed: float = 0.0
    dedup_explicit: tuple[int, int] = (0, 0)  # (sends, delivered)
    dedup_content: tuple[int, int] = (0, 0)
    dead_letter_group: str | None = None
    dead_lettered: list[str] = field(default_factory=list)

    def sequence(self, group: str) -> list[int]:
        return [p.sequence for p in self.processed if p.group == group]

    @property
    def order_kept(self) -> bool:
        return all(self.sequence(g) == sorted(self.sequence(g)) for g in self.group_names)

    @property
    def group_names(self) -> list[str]:
        return list(GROUP_NAMES[: self.groups])

    @property
    def switches(self) -> int:
        """How often the overall processing order changes group: interleaving."""
        ordered = sorted(self.processed, key=lambda p: p.at)
        return sum(1 for a, b in zip(ordered, ordered[1:], strict=False) if a.group != b.group)

    @property
    def headline(self) -> str:
        return (
            f"order kept in every group: {'yes' if self.order_kept else 'NO'}; the overall "
            f"order switched group {self.switches} times (interleaving); two consumers held "
            f"one group at once {self.overlapping_holds} times; duplicates delivered: "
            f"{self.dedup_explicit[1]} of {self.dedup_explicit[0]} sends with one id, "
            f"{self.dedup_content[1]} of {self.dedup_content[0]} identical bodies"
        )


def finish(group: str, left: Counter, holds: dict[str, int], lock: threading.Lock) -> None:
    """One of the batch's messages of ``group`` is done; the last one ends the hold."""
    left[group] -= 1
    if left[group] == 0:
        with lock:
            holds[group] -= 1


def consume(moto, url, consumer, observation, holds, lock, stop, started, processing, batch):
    sqs = moto.client("sqs")
    while not stop.is_set():
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["MessageGroupId", "ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            continue
        # A consumer holds a group from receiving its messages until it deletes or releases
        # the last of them in this batch; the hold ends just before that call, because SQS
        # may hand the group to another consumer the moment the call returns.
        left = Counter(m["Attributes"]["MessageGroupId"] for m in messages)
        with lock:
            for group in left:
                if holds.get(group):
                    observation.overlapping_holds += 1
                holds[group] = holds.get(group, 0) + 1

        failed_groups: set[str] = set()
        try:
            for message in messages:
                body = json.loads(message["Body"])
                group = message["Attributes"]["MessageGroupId"]
                if group in failed_groups or body.get("poison"):
                    # Keep the group's order: release this one and the rest of its group.
                    failed_groups.add(group)
                    finish(group, left, holds, lock)
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                    continue
                time.sleep(processing)
                with lock:
                    observation.processed.append(
                        Processed(group, body["sequence"], consumer, time.monotonic() - started)
                    )
                finish(group, left, holds, lock)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        finally:
            with lock:
                for group, count in left.items():
                    if count:
                        holds[group] -= 1


def deduplication(story: Story, sqs, observation: FifoObservation) -> None:
    story.step("deduplication: the same message sent twice within the 5-minute window")
    explicit = make_queue(sqs, "payments", fifo=True).url
    for _ in range(2):  # a producer retry after a timeout: same MessageDeduplicationId
        sqs.send_message(
            QueueUrl=explicit,
            MessageBody=json.dumps({"payment": "pay-0001", "cents": 1500}),
            MessageGroupId="customer-A",
            MessageDeduplicationId="pay-0001",
        )
    content = make_queue(
        sqs, "payments-by-content", fifo=True, attributes={"ContentBasedDeduplication": "true"}
    ).url
    for body in ('{"payment": "pay-0002"}', '{"payment": "pay-0002"}', '{"payment": "pay-0003"}'):
        sqs.send_message(QueueUrl=content, MessageBody=body, MessageGroupId="customer-B")
    delivered = {
        url: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for url in (explicit, content)
    }
    observation.dedup_explicit = (2, len(delivered[explicit]))
    observation.dedup_content = (3, len(delivered[content]))
    story.table(
        "",
        ["queue", "sends (all accepted)", "delivered"],
        [
            ["explicit MessageDeduplicationId, sent twice", 2, len(delivered[explicit])],
            ["content-based: body X, body X, body Y", 3, len(delivered[content])],
        ],
    )
    story.notice(
        "SendMessage succeeds for the duplicate too; SQS just does not deliver it. "
        "Content-based deduplication hashes the body (SHA-256), not the attributes."
    )
    story.moto(
        "AWS remembers a deduplication id for the 5-minute interval even after the message is "
        "received and deleted; moto only compares it with messages still in the queue, so the "
        "lab sends its duplicates while the first copy is still waiting. The window's end is "
        "not shown (it takes 5 minutes)."
    )


def run(
    story: Story,
    engines: Engines,
    *,
    groups: int = 3,
    consumers: int = 3,
    per_group: int = 4,
    processing: float = 0.2,
    batch: int = 1,
    max_receives: int = 2,
) -> FifoObservation:
    moto = engines.moto
    sqs = moto.client("sqs")
    names = list(GROUP_NAMES[:groups])
    poison = f"{names[1]}-2" if groups > 1 and per_group > 2 else None
    story.step(
        f"a FIFO queue with a FIFO DLQ (maxReceiveCount {max_receives}); {per_group} orders "
        f"from each of {groups} customers, sent interleaved, one message group per customer"
        + (f"; order {poison} is poison" if poison else "")
    )
    pair = make_queue(
        sqs, "orders", fifo=True, max_receives=max_receives, attributes={"VisibilityTimeout": "5"}
    )
    sent = []
    for sequence in range(1, per_group + 1):
        for group in names:
            label = f"{group}-{sequence}"
            body = {"group": group, "sequence": sequence, "poison": label == poison}
            sqs.send_message(
                QueueUrl=pair.url,
                MessageBody=json.dumps(body),
                MessageGroupId=group,
                MessageDeduplicationId=label,
            )
            sent.append(label)
    story.say(f"sent: {' '.join(sent)}")

    story.step(
        f"{consumers} consumers receive up to {batch} at a time, {processing:g} s per order; "
        "after a failure a consumer releases the rest of that group's messages in its batch"
    )
    observation = FifoObservation(groups=groups, per_group=per_group, poison=poison)
    lock, stop, holds = threading.Lock(), threading.Event(), {}
    started = time.monotonic()
    threads = [
        threading.Thread(
            target=consume,
            args=(moto, pair.url, n, observation, holds, lock, stop, started, processing, batch),
            daemon=True,
        )
        for n in range(1, consumers + 1)
    ]
    for thread in threads:
        thread.start()
    expected = groups * per_group - (1 if poison else 0)
    with story.progress() as bars:
        task = bars.add_task("orders processed", total=expected, note="")
        deadline = started + 60
        while time.monotonic() < deadline:
            bars.update(task, completed=len(observation.processed))
            with lock:
                busy = any(holds.values())
            if not busy and sum(depth(sqs, pair.url)) == 0:
                break
            time.sleep(0.05)
        bars.update(task, completed=len(observation.processed))
    observation.elapsed = time.monotonic() - started
    stop.set()  # nothing is held and the queue is empty: the consumers only wait on long polls
    for thread in threads:  # each ends within its 1-second long poll, before moto stops
        thread.join(timeout=5)
    story.table(
        "processed, per group (consumer that did it)",
        ["group", "order processed"],
        [
            [
                group,
                "  ".join(
                    f"{p.group}-{p.sequence}(#{p.consumer})"
                    for p in observation.processed
                    if p.group == group
                ),
            ]
            for group in names
        ],
    )
    story.say(
        "overall, by time: "
        + " ".join(
            f"{p.group}-{p.sequence}" for p in sorted(observation.processed, key=lambda p: p.at)
        )
    )
    story.say(f"all processed in {observation.elapsed:.1f} s")
    story.notice(
        "each group in its own order; groups interleave because different consumers hold "
        "different groups at once. One group is a single lane: --groups 1 makes the whole queue "
        "one lane, and it takes longer."
    )
    if batch > 1:
        story.moto(
            "moto fills a batch in send order across groups; AWS returns as many messages of "
            "one group as it can. How the work splits between consumers differs; the order "
            "within each group does not."
        )

    if poison:
        story.step("the poison message and the FIFO DLQ")
        dead = sqs.receive_message(
            QueueUrl=pair.dead_letter_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        observation.dead_lettered = []
        for message in dead:
            attributes = message["Attributes"]
            body = json.loads(message["Body"])
            label = f"{body['group']}-{body['sequence']}"
            observation.dead_lettered.append(label)
            observation.dead_letter_group = attributes.get("MessageGroupId")
            story.say(
                f"in the DLQ: {label}, MessageGroupId {attributes.get('MessageGroupId')}, "
                f"MessageDeduplicationId {attributes.get('MessageDeduplicationId')}, "
                f"received {attributes.get('ApproximateReceiveCount')} times"
            )
        story.notice(
            f"group {names[1]} waited until {poison} was moved, then went on without it: "
            f"{' '.join(f'{names[1]}-{s}' for s in observation.sequence(names[1]))}. The "
            "other groups were never held up."
        )
        if len(observation.dead_lettered) > 1:
            story.notice(
                "the orders received in the same batches as the poison, and released unprocessed "
                "to keep the group's order, had their receive counts raised with it, and were "
                "dead-lettered too: with FIFO, a poison message can take the rest of its batch "
                "with it (receive fewer at a time, or allow more receives)"
            )
        story.moto(
            "AWS resets a message's enqueue timestamp when a FIFO queue dead-letters it (a "
            "standard queue keeps it); moto keeps it for both, so this lab reads no retention "
            "from the FIFO DLQ"
        )
    deduplication(story, sqs, observation)
    return observation


def command(
    groups: Annotated[
        int, typer.Option(min=1, max=10, help="Message groups (customers); 1 = one lane.")
    ] = 3,
    consumers: Annotated[int, typer.Option(min=1, max=10, help="Consumers at once.")] = 3,
    orders_per_group: Annotated[int, typer.Option(min=1, max=20, help="Orders per group.")] = 4,
    processing: Annotated[
        float, typer.Option(min=0, max=5, help="Seconds to process one order.")
    ] = 0.2,
    batch: Annotated[int, typer.Option(min=1, max=10, help="MaxNumberOfMessages per receive.")] = 1,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """Ordering per message group, interleaving, deduplication, and what a FIFO DLQ keeps."""
    raise typer.Exit(
        play(
            lab("fifo"),
            lambda story, engines: run(
                story,
                engines,
                groups=groups,
                consumers=consumers,
                per_group=orders_per_group,
                processing=processing,
                batch=batch,
            ),
            quiz=quiz,
        )
    )
