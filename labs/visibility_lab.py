"""Visibility lab: processing that outlasts the visibility timeout is processed twice.

Two groups of consumers work side by side on two identical queues (same visibility timeout,
same messages, same processing time). The only difference: the second group runs a heartbeat,
a ChangeMessageVisibility call every third of the timeout while a message is being worked on.
There are more consumers than messages, as in a fleet scaled out for a burst, so when a
message's visibility timeout runs out an idle consumer is there to receive it again.

    python -m labs visibility [--visibility 2] [--processing 3] [--messages 3] [--consumers 6]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Annotated

import typer
from botocore.exceptions import ClientError

from labs.engines import Engines, depth, make_queue
from labs.registry import lab
from labs.story import Story
from labs.teaching import play


@dataclass
class Delivery:
    message: str
    consumer: int
    at: float
    receive_count: int


@dataclass
class GroupResult:
    heartbeat: bool
    messages: int
    deliveries: list[Delivery] = field(default_factory=list)
    completions: dict[str, int] = field(default_factory=dict)  # message -> times processed
    extensions: int = 0
    elapsed: float = 0.0

    @property
    def duplicates(self) -> int:
        """Deliveries beyond the first of each message."""
        return len(self.deliveries) - len({d.message for d in self.deliveries})

    @property
    def processed_twice(self) -> int:
        """Messages whose processing (and its side effects) ran more than once."""
        return sum(1 for n in self.completions.values() if n > 1)


@dataclass
class VisibilityObservation:
    without: GroupResult
    with_heartbeat: GroupResult

    @property
    def headline(self) -> str:
        return (
            f"duplicate deliveries: {self.without.duplicates} without the heartbeat, "
            f"{self.with_heartbeat.duplicates} with it "
            f"({self.with_heartbeat.extensions} ChangeMessageVisibility calls)"
        )


def consume(
    moto,
    url: str,
    result: GroupResult,
    consumer: int,
    *,
    visibility: int,
    processing: float,
    started: float,
    stop: threading.Event,
    lock: threading.Lock,
) -> None:
    sqs = moto.client("sqs")
    while not stop.is_set():
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        for message in messages:
            name = message["Body"]
            with lock:
                result.deliveries.append(
                    Delivery(
                        name,
                        consumer,
                        time.monotonic() - started,
                        int(message["Attributes"]["ApproximateReceiveCount"]),
                    )
                )
            done = threading.Event()
            if result.heartbeat:
                threading.Thread(
                    target=heartbeat,
                    args=(sqs, url, message["ReceiptHandle"], visibility, done, result, lock),
                    daemon=True,
                ).start()
            time.sleep(processing)  # the work: longer than the visibility timeout
            done.set()
            with lock:
                result.completions[name] = result.completions.get(name, 0) + 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def heartbeat(sqs, url, receipt_handle, visibility, done, result, lock) -> None:
    """Keep the message hidden while it is being worked on: extend it every third of the
    timeout, by a whole timeout, so two missed beats still leave it hidden. (The consumer's
    client is shared: boto3 clients are thread-safe, and a new one per beat would be slow.)"""
    while not done.wait(max(visibility / 3, 0.2)):
        try:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=visibility
            )
        except ClientError:  # the message is gone (deleted): nothing left to keep hidden
            return
        with lock:
            result.extensions += 1


def run(
    story: Story,
    engines: Engines,
    *,
    visibility: int = 2,
    processing: float = 3.0,
    messages: int = 3,
    consumers: int = 6,
) -> VisibilityObservation:
    moto = engines.moto
    sqs = moto.client("sqs")
    story.step(
        f"two standard queues, visibility timeout {visibility} s; {messages} messages in each; "
        f"{consumers} consumers per queue, each message takes {processing:g} s to process"
    )
    groups = {}
    for heartbeat_on in (False, True):
        url = make_queue(sqs, "visibility", attributes={"VisibilityTimeout": str(visibility)}).url
        for n in range(messages):
            sqs.send_message(QueueUrl=url, MessageBody=f"order-{n + 1}")
        groups[heartbeat_on] = (url, GroupResult(heartbeat=heartbeat_on, messages=messages))

    story.step("both groups consume at once (left: no heartbeat; right: heartbeat)")
    lock = threading.Lock()
    stop = threading.Event()
    started = time.monotonic()
    threads = [
        threading.Thread(
            target=consume,
            args=(moto, url, result, consumer),
            kwargs=dict(
                visibility=visibility,
                processing=processing,
                started=started,
                stop=stop,
                lock=lock,
            ),
            daemon=True,
        )
        for url, result in groups.values()
        for consumer in range(1, consumers + 1)
    ]
    for thread in threads:
        thread.start()
    deadline = started + 6 * (visibility + processing) + 10
    finished = {False: 0.0, True: 0.0}
    with story.progress() as bars:
        tasks = {
            h: bars.add_task(
                "with heartbeat" if h else "without heartbeat", total=messages, note=""
            )
            for h in groups
        }
        while time.monotonic() < deadline:
            for heartbeat_on, (url, result) in groups.items():
                with lock:
                    done = len(result.completions)
                    delivered = len(result.deliveries)
                bars.update(tasks[heartbeat_on], completed=done, note=f"deliveries {delivered}")
                if not finished[heartbeat_on] and done == messages and sum(depth(sqs, url)) == 0:
                    finished[heartbeat_on] = time.monotonic() - started
            if all(finished.values()):
                break
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(timeout=processing + 5)
    for heartbeat_on, (_, result) in groups.items():
        result.elapsed = finished[heartbeat_on] or time.monotonic() - started

    without, with_heartbeat = groups[False][1], groups[True][1]
    story.table(
        "what the consumers saw",
        ["", "deliveries", "duplicate deliveries", "processed twice", "visibility extensions"],
        [
            [
                "without heartbeat",
                len(without.deliveries),
                without.duplicates,
                without.processed_twice,
                0,
            ],
            [
                "with heartbeat",
                len(with_heartbeat.deliveries),
                with_heartbeat.duplicates,
                with_heartbeat.processed_twice,
                with_heartbeat.extensions,
            ],
        ],
    )
    story.table(
        "deliveries without the heartbeat (time since start, consumer, ApproximateReceiveCount)",
        ["message", "deliveries"],
        [
            [
                name,
                ", ".join(
                    f"{d.at:.1f} s #{d.consumer} (count {d.receive_count})"
                    for d in without.deliveries
                    if d.message == name
                ),
            ]
            for name in sorted({d.message for d in without.deliveries})
        ],
    )
    if processing > visibility:
        story.notice(
            f"after {visibility} s the message is visible again while its first consumer still "
            "works on it; an idle consumer receives it (receive count 2) and processes it again"
        )
    story.moto(
        "moto deletes a message with any receipt handle it ever had. AWS documents that a "
        "DeleteMessage with an older receipt handle succeeds but might not delete the message, "
        "so on AWS the first consumer's delete can leave the message to be delivered yet again "
        "(and, with a redrive policy, end in the DLQ after it was processed). The duplicates "
        "counted here are the fewest AWS would show."
    )
    return VisibilityObservation(without, with_heartbeat)


def command(
    visibility: Annotated[
        int, typer.Option(min=0, max=43200, help="Visibility timeout, whole seconds.")
    ] = 2,
    processing: Annotated[
        float, typer.Option(min=0.1, max=20, help="Seconds each message takes to process.")
    ] = 3.0,
    messages: Annotated[int, typer.Option(min=1, max=20, help="Messages per queue.")] = 3,
    consumers: Annotated[int, typer.Option(min=1, max=20, help="Consumers per queue.")] = 6,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """Processing longer than the visibility timeout: duplicates, and the heartbeat that stops them."""
    raise typer.Exit(
        play(
            lab("visibility"),
            lambda story, engines: run(
                story,
                engines,
                visibility=visibility,
                processing=processing,
                messages=messages,
                consumers=consumers,
            ),
            quiz=quiz,
        )
    )
