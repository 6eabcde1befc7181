"""Polling lab: short vs long polling, on an idle queue and on a busy one.

Four pollers run side by side for the same time, each on its own queue: a short poller
(WaitTimeSeconds 0, polling again at once, as a naive loop does) and a long poller
(WaitTimeSeconds `--wait`) on an idle queue, and the same two on a queue a producer feeds at
`--rate` messages a second. Each counts its ReceiveMessage requests, the empty ones, and the
messages it got; the lab then prices a month of each at the SQS request price.

    python -m labs polling [--wait 20] [--seconds 20] [--rate 5]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated

import typer

from labs.engines import Engines, make_queue
from labs.registry import CHECKED, lab
from labs.story import Story
from labs.teaching import play

# Standard queues, us-east-1, beyond the first million requests a month (which are free).
PRICE_PER_MILLION = 0.40
PRICE_SOURCE = f"https://aws.amazon.com/sqs/pricing/ (as of {CHECKED})"
SECONDS_PER_MONTH = 30 * 86_400


@dataclass
class PollerCount:
    queue: str
    polling: str
    requests: int = 0
    empty: int = 0
    messages: int = 0

    @property
    def requests_per_message(self) -> str:
        return f"{self.requests / self.messages:.2f}" if self.messages else "-"


@dataclass
class PollingObservation:
    counts: list[PollerCount]
    seconds: float
    wait: int

    def count(self, queue: str, polling: str) -> PollerCount:
        return next(c for c in self.counts if c.queue == queue and c.polling == polling)

    @property
    def headline(self) -> str:
        short, long_ = self.count("idle", "short"), self.count("idle", "long")
        busy_short, busy_long = self.count("busy", "short"), self.count("busy", "long")
        return (
            f"idle queue, {self.seconds:g} s: {short.empty} empty receives with short polling, "
            f"{long_.empty} with long polling ({self.wait} s); busy queue: {busy_short.empty} vs "
            f"{busy_long.empty} empty, {busy_short.requests_per_message} vs "
            f"{busy_long.requests_per_message} requests per message"
        )


def poll(moto, url: str, count: PollerCount, wait: int, until: float) -> None:
    sqs = moto.client("sqs")
    while time.monotonic() < until:
        # near the end of the window, wait no longer than the window has left (1 s at least)
        this_wait = min(wait, max(1, int(until - time.monotonic()))) if wait else 0
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=this_wait
        ).get("Messages", [])
        count.requests += 1
        if not messages:
            count.empty += 1
            continue
        count.messages += len(messages)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def produce(moto, url: str, rate: float, until: float) -> None:
    sqs = moto.client("sqs")
    n = 0
    started = time.monotonic()
    while time.monotonic() < until:
        sqs.send_message(QueueUrl=url, MessageBody=f"reading-{n}")
        n += 1
        time.sleep(max(0.0, started + n / rate - time.monotonic()))


def monthly(requests_per_second: float) -> tuple[str, str]:
    requests = requests_per_second * SECONDS_PER_MONTH
    return f"{requests:,.0f}", f"${requests / 1e6 * PRICE_PER_MILLION:,.2f}"


def run(
    story: Story,
    engines: Engines,
    *,
    wait: int = 20,
    seconds: float = 20,
    rate: float = 5,
) -> PollingObservation:
    moto = engines.moto
    sqs = moto.client("sqs")
    story.step(
        f"four standard queues; for {seconds:g} s a short poller and a long poller "
        f"(WaitTimeSeconds {wait}) on an idle queue, the same two on a queue fed {rate:g} "
        "messages a second"
    )
    counts = [PollerCount(q, p) for q in ("idle", "busy") for p in ("short", "long")]
    until = time.monotonic() + seconds
    threads = []
    for count in counts:
        url = make_queue(sqs, f"polling-{count.queue}-{count.polling}").url
        threads.append(
            threading.Thread(
                target=poll,
                args=(moto, url, count, 0 if count.polling == "short" else wait, until),
                daemon=True,
            )
        )
        if count.queue == "busy":
            threads.append(
                threading.Thread(target=produce, args=(moto, url, rate, until), daemon=True)
            )
    for thread in threads:
        thread.start()
    with story.progress() as bars:
        task = bars.add_task("polling", total=seconds, note="")
        while any(t.is_alive() for t in threads):
            left = max(0.0, until - time.monotonic())
            bars.update(
                task,
                completed=seconds - left,
                note=f"short-poll requests so far: {counts[0].requests}",
            )
            time.sleep(0.2)
        bars.update(task, completed=seconds)
    story.table(
        "ReceiveMessage requests (each one is billed, empty or not)",
        ["queue", "polling", "requests", "empty receives", "messages", "requests per message"],
        [
            [c.queue, c.polling, c.requests, c.empty, c.messages, c.requests_per_message]
            for c in counts
        ],
    )
    story.notice(
        "on the idle queue every short poll is an empty receive; a long poll waits up to "
        f"{wait} s for a message and returns as soon as one arrives"
    )

    story.step(
        f"one idle consumer for a 30-day month at ${PRICE_PER_MILLION:.2f} per million "
        "requests (standard queue; the free first million a month is not subtracted)"
    )
    story.table(
        "",
        ["idle consumer", "requests a month", "cost a month"],
        [
            ["short polling, once a second", *monthly(1)],
            ["short polling, 10 times a second", *monthly(10)],
            [f"long polling, {wait} s wait", *monthly(1 / max(wait, 1))],
        ],
    )
    story.say(f"price: {PRICE_SOURCE}; each 64 KB chunk of a payload counts as one request")
    story.moto(
        "moto answers every short poll from the whole queue. SQS short polling queries only a "
        "subset of its servers, so on AWS a short poll can come back empty, or with fewer "
        "messages, even when the queue has some (a false empty receive); long polling queries "
        "all of them. The busy queue's empty receives here are all true ones (between messages); "
        "on AWS short polling would add false ones."
    )
    return PollingObservation(counts, seconds, wait)


def command(
    wait: Annotated[
        int, typer.Option(min=0, max=20, help="Long poll WaitTimeSeconds (0 is short polling).")
    ] = 20,
    seconds: Annotated[float, typer.Option(min=1, max=50, help="How long the pollers run.")] = 20,
    rate: Annotated[
        float, typer.Option(min=0.1, max=50, help="Messages a second on the busy queue.")
    ] = 5,
    quiz: Annotated[bool, typer.Option(help="Answer the questions before the run.")] = False,
) -> None:
    """Short vs long polling on an idle and a busy queue: empty receives, requests, price."""
    raise typer.Exit(
        play(
            lab("polling"),
            lambda story, engines: run(story, engines, wait=wait, seconds=seconds, rate=rate),
            quiz=quiz,
        )
    )
