"""How fast the write-buffer worker drains SQS into PostgreSQL, and what it costs in SQS calls.

Prints, from one run against local engines (moto's SQS server, an embedded PostgreSQL):

  (a) the rate at which a bare receive(10) + DeleteMessageBatch loop empties the queue;
  (b) the worker's end-to-end rate into PostgreSQL, with the same number of receive loops;
      target b >= 0.8 a (the database write must not be the bottleneck);
  (c) SQS API calls per message for the worker and for a naive one-at-a-time consumer,
      counted by a botocore event hook, and what each costs per million messages at $0.40 per
      million requests; target worker <= 0.25 and >= 8x fewer than naive;
  (d) rows/s into PostgreSQL: the worker's batched insert against one row per commit;
      target >= 5x.

moto's receive cost grows with queue depth (~580 msg/s at depth 20, 67 at 300), so a producer
keeps a steady shallow backlog (~40 messages) while each consumer runs, and each rate is the
median of several runs. The absolute rates are moto's, not SQS's; the ratios are what carry over.

    python -m benchmarks.worker_throughput [--messages 1000] [--repeats 3] [--loops 2]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "worker"))

from write_buffer_worker.config import load_config  # noqa: E402
from write_buffer_worker.consumer import Consumer  # noqa: E402
from write_buffer_worker.metrics import Metrics  # noqa: E402
from write_buffer_worker.orders import parse_order  # noqa: E402
from write_buffer_worker.store import OrderStore, Received  # noqa: E402

from labs.local_engines import embedded_postgres, moto_server  # noqa: E402

PRICE_PER_MILLION_REQUESTS = 0.40  # USD, standard queue, first 100 billion requests a month
BACKLOG = 40


def order_body(tag: str, n: int) -> str:
    return json.dumps(
        {
            "orderId": f"{tag}-{n:07d}",
            "customerId": "bench",
            "items": [{"sku": "BENCH-1", "quantity": 1, "unitPriceCents": 100}],
        }
    )


class CallCounter:
    """Counts SQS API calls made through one boto3 client."""

    def __init__(self, client):
        self.calls = 0
        client.meta.events.register("before-call.sqs", self._count)

    def _count(self, **_):
        self.calls += 1


def producer(sqs, queue_url: str, total: int, consumed, tag: str, stop: threading.Event):
    """Keep about BACKLOG messages waiting until `total` have been sent."""
    sent = 0
    while sent < total and not stop.is_set():
        if sent - consumed() < BACKLOG:
            batch = min(10, total - sent)
            sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": order_body(tag, sent + i)} for i in range(batch)
                ],
            )
            sent += batch
        else:
            time.sleep(0.002)


def fresh_queue(sqs) -> str:
    return sqs.create_queue(
        QueueName=f"bench-{uuid.uuid4().hex[:10]}", Attributes={"VisibilityTimeout": "30"}
    )["QueueUrl"]


def run_bare(moto, total: int, loops: int) -> tuple[float, float]:
    """(a) receive(10) + DeleteMessageBatch loops: messages/s and calls/message."""
    feeder, consumer = moto.client("sqs"), moto.client("sqs")
    counter = CallCounter(consumer)
    queue = fresh_queue(feeder)
    done = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            messages = consumer.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if messages:
                consumer.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
                with lock:
                    done[0] += len(messages)
                    if done[0] >= total:
                        stop.set()

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(loops)]
    threads.append(
        threading.Thread(
            target=producer, args=(feeder, queue, total, lambda: done[0], "bare", stop)
        )
    )
    for t in threads:
        t.start()
    stop.wait(300)
    elapsed = time.perf_counter() - started
    for t in threads:
        t.join()
    return done[0] / elapsed, counter.calls / done[0]


def run_worker(moto, postgres_uri: str, total: int, loops: int) -> tuple[float, float]:
    """(b) the worker's Consumer, in process: rows/s into PostgreSQL and calls/message."""
    feeder = moto.client("sqs")
    queue = fresh_queue(feeder)
    env = {
        "QUEUE_URL": queue,
        "DATABASE_URL": postgres_uri,
        "RECEIVE_LOOPS": str(loops),
        "RECEIVE_WAIT_SECONDS": "1",
        "VISIBILITY_TIMEOUT_SECONDS": "30",
    }
    config = load_config(env)
    sqs = moto.client("sqs")
    counter = CallCounter(sqs)
    store = OrderStore(lambda: postgres_uri, config.db_pool_size)
    store.ensure_schema()
    metrics = Metrics(config.metrics_namespace, stream=io.StringIO())
    consumer = Consumer(config, sqs, store, metrics)
    stop = threading.Event()
    tag = f"w{uuid.uuid4().hex[:6]}"
    feeder_thread = threading.Thread(
        target=producer,
        args=(feeder, queue, total, lambda: metrics.totals()["Processed"], tag, stop),
    )
    consumer.start()
    started = time.perf_counter()
    feeder_thread.start()
    while metrics.totals()["Processed"] < total:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    processed = metrics.totals()["Processed"]
    calls = counter.calls
    stop.set()
    feeder_thread.join()
    consumer.stop(5)
    store.close()
    return processed / elapsed, calls / processed


def run_naive(moto, total: int) -> float:
    """(c) one message per receive, one delete per message: calls/message."""
    feeder, consumer = moto.client("sqs"), moto.client("sqs")
    counter = CallCounter(consumer)
    queue = fresh_queue(feeder)
    done = [0]
    stop = threading.Event()
    feeder_thread = threading.Thread(
        target=producer, args=(feeder, queue, total, lambda: done[0], "naive", stop)
    )
    feeder_thread.start()
    while done[0] < total:
        for message in consumer.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1
        ).get("Messages", []):
            consumer.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            done[0] += 1
    stop.set()
    feeder_thread.join()
    return counter.calls / done[0]


def run_database(postgres_uri: str, rows: int) -> tuple[float, float]:
    """(d) rows/s: batches of 10 in one INSERT and commit, against one row per commit."""
    store = OrderStore(lambda: postgres_uri, 1)
    store.ensure_schema()
    tag = uuid.uuid4().hex[:6]
    received = [
        Received(parse_order(order_body(f"db{tag}", n)), f"m{n}", None) for n in range(2 * rows)
    ]
    started = time.perf_counter()
    for start in range(0, rows, 10):
        store.write(received[start : start + 10])
    batched = rows / (time.perf_counter() - started)
    started = time.perf_counter()
    for one in received[rows:]:
        store.write([one])
    single = rows / (time.perf_counter() - started)
    store.close()
    return batched, single


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loops", type=int, default=2, help="receive loops for (a) and (b)")
    options = parser.parse_args()

    with moto_server() as moto, embedded_postgres() as postgres:
        run_bare(moto, 100, options.loops)  # warm up the server's code paths
        bare = [run_bare(moto, options.messages, options.loops) for _ in range(options.repeats)]
        worker = [
            run_worker(moto, postgres.uri, options.messages, options.loops)
            for _ in range(options.repeats)
        ]
        naive_calls = run_naive(moto, max(200, options.messages // 5))
        batched, single = run_database(postgres.uri, 3000)

    a = statistics.median(rate for rate, _ in bare)
    b = statistics.median(rate for rate, _ in worker)
    worker_calls = statistics.median(calls for _, calls in worker)
    bare_calls = statistics.median(calls for _, calls in bare)
    print(
        f"worker throughput: {options.messages} messages a run, median of {options.repeats}, "
        f"{options.loops} receive loops, backlog kept at ~{BACKLOG} (moto 5.x server, "
        "embedded PostgreSQL; absolute rates are moto's, not SQS's)"
    )
    print(
        f"  (a) bare receive(10) + delete-batch     {a:8.0f} msg/s   "
        f"runs: {', '.join(f'{r:.0f}' for r, _ in bare)}"
    )
    print(
        f"  (b) worker, SQS -> PostgreSQL           {b:8.0f} msg/s   "
        f"runs: {', '.join(f'{r:.0f}' for r, _ in worker)}"
    )
    print(
        f"      b / a                               {b / a:8.2f}         target >= 0.80  "
        f"{verdict(b / a >= 0.8)}"
    )
    print(
        f"  (c) SQS calls per message: worker       {worker_calls:8.3f}         target <= 0.25  "
        f"{verdict(worker_calls <= 0.25)}"
    )
    print(f"      SQS calls per message: bare loop    {bare_calls:8.3f}")
    print(f"      SQS calls per message: naive        {naive_calls:8.3f}")
    print(
        f"      naive / worker                      {naive_calls / worker_calls:8.1f}x        "
        f"target >= 8x   {verdict(naive_calls / worker_calls >= 8)}"
    )
    for name, calls in (("worker", worker_calls), ("naive", naive_calls)):
        print(
            f"      request bill per million messages, {name:6s} "
            f"${calls * PRICE_PER_MILLION_REQUESTS:6.2f}"
        )
    print(f"  (d) PostgreSQL rows/s, batches of 10    {batched:8.0f}")
    print(f"      PostgreSQL rows/s, one per commit   {single:8.0f}")
    print(
        f"      batched / single                    {batched / single:8.1f}x        "
        f"target >= 5x   {verdict(batched / single >= 5)}"
    )


if __name__ == "__main__":
    main()
