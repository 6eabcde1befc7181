"""`python -m log_shipper`: configure, read the source, ship until SIGTERM, then drain.

Exit codes: 0 after a clean drain (or when a bounded generator ran out), 1 when reading the
source or the shipping loop failed on an unexpected error (systemd restarts the service), 2 on a
configuration error (systemd's restart will not fix a typo, and the journal says which variable).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pipeline_runtime.runtime import Backoff, ConfigError, Metrics, configure_logging
from pipeline_runtime.systemd import notify, watchdog_interval

from log_shipper.config import load_config
from log_shipper.shipper import COUNTERS, Shipper
from log_shipper.sources import follow, generate

log = logging.getLogger("log_shipper")


def queue_message_limit(sqs, queue_url: str, stopping: threading.Event) -> int | None:
    """The queue's MaximumMessageSize, waiting out a queue or network not there yet."""
    backoff = Backoff(base=0.5, cap=30.0)
    attempt = 0
    while not stopping.is_set():
        try:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["MaximumMessageSize"]
            )["Attributes"]
            return int(attributes["MaximumMessageSize"])
        except (BotoCoreError, ClientError) as error:
            log.warning(
                "queue not reachable at start-up; retrying",
                extra={"fields": {"error": str(error)[:200]}},
            )
            stopping.wait(backoff.delay(attempt))
            attempt += 1
    return None


def main() -> int:
    configure_logging()
    try:
        config = load_config()
    except ConfigError as error:
        log.error("configuration error: %s", error)
        return 2

    stopping = threading.Event()

    def on_signal(number, _frame):
        log.info("stop requested", extra={"fields": {"signal": signal.Signals(number).name}})
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Standard retry mode already retries throttling and 5xx a few times with backoff; the
    # sender's own loop takes over when those run out.
    sqs = boto3.client("sqs", config=Config(retries={"mode": "standard", "max_attempts": 3}))
    limit = queue_message_limit(sqs, config.queue_url, stopping)
    if limit is None:
        return 0
    metrics = Metrics(config.metrics_namespace, COUNTERS)
    shipper = Shipper(config, sqs, metrics, max_message_size=limit)
    reading = threading.Event()  # the source stops on this; `stopping` also covers the drain
    source = (
        generate(config.lines_per_second, reading, count=config.count)
        if config.source == "generate"
        else follow(config.source, reading)
    )
    shipper.read(source)
    runner = threading.Thread(target=shipper.run, name="shipper")
    runner.start()
    notify("READY=1")
    log.info(
        "shipper started",
        extra={
            "fields": {
                "queue_url": config.queue_url,
                "source": config.source,
                "max_message_bytes": limit,
            }
        },
    )
    tick = min(config.metrics_interval_seconds, watchdog_interval() or 3600.0, 1.0)
    next_flush = time.monotonic() + config.metrics_interval_seconds
    while runner.is_alive() and not stopping.wait(tick):
        if shipper.healthy():
            notify("WATCHDOG=1")
        if time.monotonic() >= next_flush:
            metrics.flush()
            next_flush = time.monotonic() + config.metrics_interval_seconds

    notify("STOPPING=1")
    reading.set()
    shipper.stop()
    runner.join()
    metrics.flush()
    log.info("shipper stopped", extra={"fields": metrics.totals()})
    return 1 if shipper.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
