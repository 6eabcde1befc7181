"""How fast the log shipper sends, and what it costs in SQS calls, against simpler producers.

Prints, from one run against moto's SQS server, for the same generated access-log lines:

  (a) the shipper: lines packed into messages of up to 64 KiB, 10 messages (at most 1 MiB) to a
      SendMessageBatch request;
  (b) SendMessageBatch with one line per message, 10 to a request;
  (c) one SendMessage call per line: the producer the seed's pattern is usually drawn with.

For each: lines per second, SQS calls per line and per SQS message (counted by a botocore event
hook on the producer's client), and billed requests per line: SQS bills each 64 KiB chunk of a
request's payload as one request. Targets: the shipper makes at most 0.01 calls a line, at
least 100x fewer than (c), and sends at least 10x (c)'s lines per second.

moto's SendMessageBatch slows as its queue deepens (~40 ms a call at 200 messages, ~250 ms at
1,000), which would measure moto's depth, not the producer; a purger thread empties each queue
every 50 ms (moto's purge limit of one a minute is lifted for this server), so every producer
sends into a shallow queue. The absolute rates are moto's on this machine, not SQS's; the calls
and billed requests per line are what carry over.

    python -m benchmarks.shipper_throughput [--lines 20000] [--naive-lines 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "log_pipeline"))

from log_shipper.config import load_config  # noqa: E402
from log_shipper.sender import MAX_REQUEST_BYTES  # noqa: E402
from log_shipper.shipper import COUNTERS, Shipper  # noqa: E402
from log_shipper.sources import generate  # noqa: E402
from pipeline_runtime.runtime import Metrics  # noqa: E402

from labs.local_engines import moto_server  # noqa: E402

PRICE_PER_MILLION_REQUESTS = 0.40  # USD, standard queue, as in benchmarks/worker_throughput.py
CHUNK = 65_536


class CallCounter:
    """SQS calls, messages and billed 64 KiB chunks made through one boto3 client."""

    def __init__(self, client):
        self.calls = self.messages = self.billed = 0
        client.meta.events.register("before-call.sqs", self._call)  # every attempt
        client.meta.events.register("before-parameter-build.sqs", self._size)

    def _call(self, **_):
        self.calls += 1

    def _size(self, params, model, **_):
        if model.name == "SendMessageBatch":
            bodies = [e["MessageBody"] for e in params["Entries"]]
        elif model.name == "SendMessage":
            bodies = [params["MessageBody"]]
        else:
            return
        self.messages += len(bodies)
        self.billed += max(1, math.ceil(sum(len(b.encode()) for b in bodies) / CHUNK))


def fresh_queue(moto) -> str:
    return moto.client("sqs").create_queue(QueueName=f"bench-{uuid.uuid4().hex[:10]}")["QueueUrl"]


@contextlib.contextmanager
def kept_shallow(moto, queue: str):
    """Empty `queue` every 50 ms while the block runs (see the module docstring)."""
    sqs = moto.client("sqs")
    stop = threading.Event()

    def purge():
        while not stop.wait(0.05):
            sqs.purge_queue(QueueUrl=queue)

    purger = threading.Thread(target=purge, daemon=True)
    purger.start()
    try:
        yield
    finally:
        stop.set()
        purger.join()


def lines(count: int) -> list[str]:
    return list(generate(0, threading.Event(), count=count, seed=7))


def run_shipper(moto, count: int) -> dict:
    sqs = moto.client("sqs")
    counter = CallCounter(sqs)
    queue = fresh_queue(moto)
    config = load_config({"QUEUE_URL": queue, "LINGER_SECONDS": "0.2"})
    shipper = Shipper(
        config,
        sqs,
        Metrics(config.metrics_namespace, COUNTERS, stream=io.StringIO()),
        max_message_size=MAX_REQUEST_BYTES,
    )
    source = lines(count)
    with kept_shallow(moto, queue):
        started = time.perf_counter()
        shipper.read(iter(source))
        shipper.run()
        elapsed = time.perf_counter() - started
    return summary(count, elapsed, counter)


def run_batch_per_line(moto, count: int) -> dict:
    sqs = moto.client("sqs")
    counter = CallCounter(sqs)
    queue = fresh_queue(moto)
    source = lines(count)
    with kept_shallow(moto, queue):
        started = time.perf_counter()
        for start in range(0, count, 10):
            sqs.send_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "MessageBody": line}
                    for i, line in enumerate(source[start : start + 10])
                ],
            )
        elapsed = time.perf_counter() - started
    return summary(count, elapsed, counter)


def run_one_per_call(moto, count: int) -> dict:
    sqs = moto.client("sqs")
    counter = CallCounter(sqs)
    queue = fresh_queue(moto)
    source = lines(count)
    with kept_shallow(moto, queue):
        started = time.perf_counter()
        for line in source:
            sqs.send_message(QueueUrl=queue, MessageBody=line)
        elapsed = time.perf_counter() - started
    return summary(count, elapsed, counter)


def summary(count: int, seconds: float, counter: CallCounter) -> dict:
    return {
        "rate": count / seconds,
        "calls": counter.calls / count,
        "calls_per_message": counter.calls / counter.messages,
        "billed": counter.billed / count,
        "lines_per_message": count / counter.messages,
    }


def median(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000, help="lines for (a) and (b)")
    parser.add_argument(
        "--naive-lines", type=int, default=2_000, help="lines for (c), one call each"
    )
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()

    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    with moto_server() as moto:
        run_shipper(moto, 500)  # warm up the server's code paths
        shipper = median([run_shipper(moto, options.lines) for _ in range(options.repeats)])
        batched = median([run_batch_per_line(moto, options.lines) for _ in range(options.repeats)])
        naive = median(
            [run_one_per_call(moto, options.naive_lines) for _ in range(options.repeats)]
        )

    print(
        f"shipper throughput: access-log lines of ~{len(lines(1)[0])} bytes, median of "
        f"{options.repeats} runs, moto 5.x server (absolute rates are moto's, not SQS's)"
    )
    print(
        "                                              lines/s  calls/line  calls/message  billed/line  lines/message"
    )
    for name, row in (
        ("(a) shipper: 64 KiB messages, 10 a request", shipper),
        ("(b) SendMessageBatch, one line a message  ", batched),
        ("(c) SendMessage, one line a call          ", naive),
    ):
        print(
            f"  {name} {row['rate']:8.0f}  {row['calls']:10.4f}  {row['calls_per_message']:13.3f}"
            f"  {row['billed']:11.4f}  {row['lines_per_message']:13.1f}"
        )
    print(
        f"  shipper calls per line                      {shipper['calls']:8.4f}   target <= 0.01  "
        f"{verdict(shipper['calls'] <= 0.01)}"
    )
    fewer = naive["calls"] / shipper["calls"]
    print(
        f"  one-per-call / shipper, calls               {fewer:8.0f}x  target >= 100x  {verdict(fewer >= 100)}"
    )
    faster = shipper["rate"] / naive["rate"]
    print(
        f"  shipper / one-per-call, lines per second    {faster:8.1f}x  target >= 10x   {verdict(faster >= 10)}"
    )
    for name, row in (("shipper", shipper), ("batch per line", batched), ("one per call", naive)):
        print(
            f"  request bill per million lines, {name:15s} ${row['billed'] * PRICE_PER_MILLION_REQUESTS:8.4f}"
        )


if __name__ == "__main__":
    main()
