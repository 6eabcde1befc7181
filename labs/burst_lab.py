"""Burst lab: the write-buffer pattern end to end, on local engines or a deployed stack.

Locally (the default) it starts moto's SQS server and an embedded PostgreSQL, creates the orders
queue and its DLQ as the stack does (redrive after 3 receives), and then plays seed 004's story:

  1. a burst of orders arrives at "the API": each body is checked against the same JSON Schema
     the API Gateway request model uses; a bad body gets the 400 it would get and never reaches
     the queue. One client retry re-sends an order it already sent (same orderId);
  2. one poison message (valid JSON, not an order) is put on the queue by another door;
  3. several worker processes (`python -m write_buffer_worker`, as systemd runs them on EC2)
     drain the queue into PostgreSQL while a progress line shows the backlog and rows written;
  4. a summary: sent, rejected, written, duplicates suppressed, dead-lettered, drain time. The
     lab exits non-zero if any order was lost or written twice.

Against a deployed stack (`--stack-outputs outputs.json` from `cdk deploy --outputs-file`) it
POSTs the burst to the real API, SigV4-signed with your credentials, and watches the real queue
drain. moto's SQS is far slower than SQS and slows as the queue deepens: its rates here say
nothing about SQS's.

    python -m labs.burst_lab [--orders 300] [--workers 3] [--receive-loops 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "order.schema.json").read_text())
SKUS = ["BOOK-1", "MUG-2", "TEE-3", "CAP-4", "PEN-5"]


def make_order(n: int, rng: random.Random) -> dict:
    return {
        "orderId": f"lab-{n:06d}-{rng.randrange(16**6):06x}",
        "customerId": f"customer-{rng.randrange(50)}",
        "items": [
            {
                "sku": rng.choice(SKUS),
                "quantity": rng.randint(1, 5),
                "unitPriceCents": rng.randint(100, 5000),
            }
            for _ in range(rng.randint(1, 3))
        ],
    }


def bad_bodies(rng: random.Random) -> list[dict]:
    """What careless clients send: each is rejected by the request model with a 400."""
    good = make_order(999_999, rng)
    return [
        {k: v for k, v in good.items() if k != "orderId"},
        {**good, "items": []},
        {**good, "items": [{"sku": "BOOK-1", "quantity": 0, "unitPriceCents": 100}]},
        {**good, "coupon": "FREE"},
    ]


def api_response(body: dict) -> tuple[int, str]:
    """What API Gateway's request validator answers for `body` (draft-4 JSON Schema)."""
    from jsonschema import Draft4Validator

    errors = sorted(e.message for e in Draft4Validator(SCHEMA).iter_errors(body))
    if errors:
        return 400, json.dumps({"message": "Invalid request body", "errors": errors})
    return 202, ""


def send_batch(sqs, queue_url: str, bodies: list[dict]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps(body),
                "MessageAttributes": {
                    "apiRequestId": {"DataType": "String", "StringValue": str(uuid.uuid4())}
                },
            }
            for i, body in enumerate(bodies[start : start + 10])
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")
        if failed:
            raise RuntimeError(f"SendMessageBatch failed: {failed}")


def queue_depth(sqs, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def progress(line: str) -> None:
    if sys.stdout.isatty():
        print(f"\r{line:<100}", end="", flush=True)
    else:
        print(line, flush=True)


def local_lab(options) -> int:
    import psycopg

    from labs.local_engines import embedded_postgres, moto_server

    rng = random.Random(options.seed)
    print("starting moto's SQS server and an embedded PostgreSQL ...", flush=True)
    with moto_server() as moto, embedded_postgres() as postgres, contextlib.ExitStack() as stack:
        sqs = moto.client("sqs")
        dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue = sqs.create_queue(
            QueueName="orders",
            Attributes={
                "VisibilityTimeout": "10",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
            },
        )["QueueUrl"]

        orders = [make_order(n, rng) for n in range(options.orders)]
        retry = orders[len(orders) // 2]
        print(
            f"\n1. the API receives {len(orders)} orders, "
            f"{len(bad_bodies(rng))} bad bodies and 1 client retry"
        )
        accepted, rejected = [], 0
        started = time.monotonic()
        for body in [
            *orders[: len(orders) // 2],
            *bad_bodies(rng),
            retry,
            *orders[len(orders) // 2 :],
        ]:
            status, answer = api_response(body)
            if status == 400:
                rejected += 1
                print(f"   400 {answer}")
            else:
                accepted.append(body)
        send_batch(sqs, queue, accepted)
        print(f"   202 for {len(accepted)} bodies, queued in {time.monotonic() - started:.1f} s")

        print("\n2. a poison message reaches the queue by another door (valid JSON, not an order)")
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"orderId": "poison-0000001"}))

        print(
            f"\n3. {options.workers} worker processes x {options.receive_loops} receive loops "
            "drain the queue into PostgreSQL"
        )
        env = {
            **os.environ,
            **moto.environment(),
            "QUEUE_URL": queue,
            "DATABASE_URL": postgres.uri,
            "RECEIVE_LOOPS": str(options.receive_loops),
            "RECEIVE_WAIT_SECONDS": "2",
            "VISIBILITY_TIMEOUT_SECONDS": "10",
            "METRICS_INTERVAL_SECONDS": "60",
            "PYTHONPATH": str(ROOT / "worker"),
        }
        log_path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "workers.log"
        logs = stack.enter_context(open(log_path, "w"))  # noqa: SIM115
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "write_buffer_worker"],
                env=env,
                cwd=ROOT / "worker",
                stdout=logs,
                stderr=logs,
            )
            for _ in range(options.workers)
        ]
        stack.callback(lambda: [w.kill() for w in workers if w.poll() is None])
        drain_started = time.monotonic()

        def rows() -> int:
            with psycopg.connect(postgres.uri) as conn:
                try:
                    return conn.execute("SELECT count(*) FROM orders").fetchone()[0]
                except psycopg.errors.UndefinedTable:
                    return 0

        deadline = drain_started + options.timeout
        while time.monotonic() < deadline:
            visible, in_flight = queue_depth(sqs, queue)
            dead = sum(queue_depth(sqs, dlq))
            written = rows()
            progress(
                f"   {time.monotonic() - drain_started:5.1f} s  waiting {visible:4d}  "
                f"in flight {in_flight:3d}  rows written {written:4d}  dead letters {dead}"
            )
            if visible == 0 and in_flight == 0 and dead >= 1:
                break
            time.sleep(0.5)
        drain_time = time.monotonic() - drain_started
        if sys.stdout.isatty():
            print()
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(30) for worker in workers]

        with psycopg.connect(postgres.uri) as conn:
            written_ids = [r[0] for r in conn.execute("SELECT order_id FROM orders")]
        expected = {o["orderId"] for o in orders}
        lost = expected - set(written_ids)
        duplicated = len(written_ids) - len(set(written_ids))
        dead_letters = sum(queue_depth(sqs, dlq))
        print("\n4. summary")
        print(f"   orders sent to the API        {len(orders) + 1 + len(bad_bodies(rng))}")
        print(f"   rejected with 400             {rejected}")
        print(f"   accepted and queued           {len(accepted)}  (+1 poison by another door)")
        print(f"   rows written                  {len(written_ids)}")
        print(
            f"   duplicates suppressed         {len(accepted) - len(written_ids)}"
            "  (the client retry: same orderId, one row)"
        )
        print(
            f"   dead-lettered                 {dead_letters}  (the poison message, after 3 receives)"
        )
        print(f"   lost / written twice          {len(lost)} / {duplicated}")
        print(
            f"   drain time                    {drain_time:.1f} s  "
            f"({len(written_ids) / max(drain_time, 1e-9):.0f} rows/s on moto, not SQS)"
        )
        print(f"   workers exited                {codes}  (0: drained cleanly on SIGTERM)")
        ok = not lost and not duplicated and dead_letters == 1 and codes == [0] * len(codes)
        print(f"\n   {'OK: every order written exactly once' if ok else 'FAILED'}")
        if not ok:
            print("   worker logs (last lines):")
            for line in log_path.read_text().splitlines()[-20:]:
                print(f"     {line}")
        return 0 if ok else 1


def deployed_lab(options) -> int:
    """Send the burst through a deployed stack's API and watch its real queue drain."""
    import urllib.error
    import urllib.request

    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    outputs = json.loads(Path(options.stack_outputs).read_text())
    stack = next(v for v in outputs.values() if "ApiUrl" in v)
    url = stack["ApiUrl"].rstrip("/") + "/orders"
    session = boto3.Session()
    region = session.region_name or url.split(".")[2]
    credentials = session.get_credentials().get_frozen_credentials()
    sqs = session.client("sqs", region_name=region)
    rng = random.Random(options.seed)
    statuses: dict[int, int] = {}
    for body in [make_order(n, rng) for n in range(options.orders)] + bad_bodies(rng):
        request = AWSRequest(
            method="POST",
            url=url,
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        prepared = urllib.request.Request(  # noqa: S310 (https URL from the stack outputs)
            url, data=request.body, method="POST", headers=dict(request.headers)
        )
        try:
            with urllib.request.urlopen(prepared, timeout=10) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
            if status == 400 and statuses.get(400, 0) == 0:
                print(f"400 {error.read().decode()[:300]}")
        statuses[status] = statuses.get(status, 0) + 1
    print(f"responses: {statuses}")
    started = time.monotonic()
    while time.monotonic() - started < options.timeout:
        visible, in_flight = queue_depth(sqs, stack["OrdersQueueUrl"])
        progress(
            f"{time.monotonic() - started:6.0f} s  waiting {visible:5d}  in flight {in_flight:4d}"
            "  (workers start from zero: the first scale-out takes a few minutes)"
        )
        if visible == in_flight == 0:
            break
        time.sleep(5)
    print(
        f"\ndead letters: {sum(queue_depth(sqs, stack['OrdersDeadLetterQueueUrl']))}; "
        f"dashboard: {stack.get('DashboardUrl', '(see the stack outputs)')}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--receive-loops", type=int, default=2)
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the drain"
    )
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--stack-outputs", help="cdk deploy --outputs-file JSON: use that stack")
    options = parser.parse_args(argv)
    for name in ("orders", "workers", "receive_loops"):
        if getattr(options, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: must be 1 or more")
    return deployed_lab(options) if options.stack_outputs else local_lab(options)


if __name__ == "__main__":
    sys.exit(main())
