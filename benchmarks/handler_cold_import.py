"""Cold-import time of each Lambda handler: what a cold start pays before the first record.

Each figure is the median of fresh interpreter processes importing the handler module the way
the Lambda runtime does (handler folder and the order_events layer on the path, the environment
set), timed from inside the process so interpreter start-up is not counted. Target <= 300 ms.
Powertools and boto3 come from this machine's site-packages here; on Lambda they come from the
runtime and the Powertools layer.

    python -m benchmarks.handler_cold_import [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = (
    "inventory_consumer",
    "payment_consumer",
    "shipping_consumer",
    "audit_consumer",
    "payment_ledger",
    "upload_processor",
    "usage_batcher",
)
TARGET_MS = 300
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "INVENTORY_TABLE": "t",
    "PAYMENTS_TABLE": "t",
    "SHIPMENTS_TABLE": "t",
    "EVENTS_TABLE": "t",
    "IDEMPOTENCY_TABLE": "t",
    "LEDGER_TABLE": "t",
    "PROCESSED_BUCKET": "b",
    "BATCH_BUCKET": "b",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
    "POWERTOOLS_SERVICE_NAME": "bench",
}
PROBE = (
    "import time, sys; start = time.perf_counter(); import {module}; "
    "print((time.perf_counter() - start) * 1000)"
)


def import_ms(module: str) -> float:
    path = os.pathsep.join(
        [str(ROOT / "lambda" / module), str(ROOT / "lambda" / "order_events_layer" / "python")]
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        env={**os.environ, **ENVIRONMENT, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    print(
        f"handler cold import, median of {options.repeats} fresh processes "
        f"(Python {sys.version.split()[0]}), target <= {TARGET_MS} ms:"
    )
    for module in HANDLERS:
        runs = [import_ms(module) for _ in range(options.repeats)]
        median = statistics.median(runs)
        verdict = "PASS" if median <= TARGET_MS else "MISS"
        print(
            f"  {module:20s} {median:6.0f} ms   (min {min(runs):.0f}, max {max(runs):.0f})  {verdict}"
        )


if __name__ == "__main__":
    main()
