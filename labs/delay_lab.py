"""Delay lab: delay queues vs per-message timers, and what a consumer sees.

A standard queue with a queue-level delay (DelaySeconds) gets three messages: one with no timer
(the queue's delay applies), one with a timer of 0 and one with a timer of `--timer` seconds
(a message timer overrides the queue's delay, both ways). Then the queue's delay is changed
to 0 and a fourth message is sent: it is visible at once, while the first still waits out the
delay it was sent with. A consumer long-polls the whole time and notes when each message
first appears. Last, a FIFO queue refuses a per-message timer.

    python -m labs delay [--queue-delay 5] [--timer 2]
"""

from __future__ import annotations

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
class DelayObservation:
    queue_delay: int
    timer: int
    first_seen: dict[str, float] = field(default_factory=dict)
    asked: dict[str, int] = field(default_factory=dict)
    fifo_timer_refused: str = ""

    @property
    def headline(self) -> str:
        seen = ", ".join(f"{name} after {at:.1f} s" for name, at in self.first_seen.items())
        return (
            f"first seen: {seen}; a FIFO queue refused a message timer ({self.fifo_timer_refused})"
        )


def run(
    story: Story, engines: Engines, *, queue_delay: int = 5, timer: int = 2
) -> DelayObservation:
    sqs = engines.moto.client("sqs")
    observation = DelayObservation(queue_delay, timer)
    story.step(f"a standard queue with a queue delay (DelaySeconds) of {queue_delay} s")
    url = make_queue(sqs, "delayed", attributes={"DelaySeconds": str(queue_delay)}).url
    started = time.monotonic()
    sends = [
        ("no timer", None, queue_delay),
        ("timer 0", 0, 0),
        (f"timer {timer}", timer, timer),
    ]
    for name, seconds, effective in sends:
        extra = {} if seconds is None else {"DelaySeconds": seconds}
        sqs.send_message(QueueUrl=url, MessageBody=name, **extra)
        observation.asked[name] = effective
    story.say("sent: " + ", ".join(name for name, _, _ in sends))
    story.step("the queue's delay is set to 0, and one more message is sent")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})
    sqs.send_message(QueueUrl=url, MessageBody="sent after the change")
    observation.asked["sent after the change"] = 0

    story.step("a consumer long-polls and notes when each message first appears")
    expected = len(observation.asked)
    with story.progress() as bars:
        task = bars.add_task("messages seen", total=expected, note="")
        deadline = started + max(queue_delay, timer) + 10
        while len(observation.first_seen) < expected and time.monotonic() < deadline:
            for message in sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                observation.first_seen.setdefault(message["Body"], time.monotonic() - started)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            delayed = depth(sqs, url)[2]
            bars.update(task, completed=len(observation.first_seen), note=f"delayed {delayed}")
    story.table(
        "",
        ["message", "delay that applies", "first seen after"],
        [
            [name, f"{observation.asked[name]} s", f"{at:.1f} s"]
            for name, at in sorted(observation.first_seen.items(), key=lambda item: item[1])
        ],
    )
    story.notice(
        "a message timer overrides the queue's delay, shorter or longer; changing a standard "
        "queue's delay does not touch messages already in it (the first one kept its "
        f"{queue_delay} s)"
    )
    story.say(
        "a delay hides a message before its first receive; the visibility timeout hides it "
        "after each receive. While delayed it counts in ApproximateNumberOfMessagesDelayed, "
        "not in the visible messages a scaling alarm watches."
    )

    story.step("a FIFO queue with a queue delay, and a message with its own timer")
    fifo = make_queue(sqs, "delayed", fifo=True, attributes={"DelaySeconds": "1"}).url
    try:
        sqs.send_message(
            QueueUrl=fifo,
            MessageBody="with a timer",
            MessageGroupId="g",
            MessageDeduplicationId="t-1",
            DelaySeconds=timer,
        )
        observation.fifo_timer_refused = "accepted"
    except ClientError as error:
        observation.fifo_timer_refused = error.response["Error"]["Code"]
        story.say(f"refused: {error.response['Error']['Code']}")
    story.notice("FIFO queues take a queue-level delay only")
    story.moto(
        "for FIFO queues AWS applies a change of the queue's delay to messages already in the "
        "queue (retroactive); moto fixes each message's delay when it is sent, so the lab shows "
        "the non-retroactive change on a standard queue only, where moto and AWS agree"
    )
    return observation


def command(
    queue_delay: Annotated[
        int, typer.Option(min=0, max=900, help="The queue's DelaySeconds (0-900).")
    ] = 5,
    timer: Annotated[
        int, typer.Option(min=0, max=900, help="One message's own DelaySeconds (0-900).")
    ] = 2,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """Delay queues vs per-message timers, and what a consumer sees."""
    raise typer.Exit(
        play(
            lab("delay"),
            lambda story, engines: run(story, engines, queue_delay=queue_delay, timer=timer),
            quiz=quiz,
        )
    )
