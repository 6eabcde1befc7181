"""`python -m log_archiver`: drain the log queue into S3 (and answer compaction tasks) until
SIGTERM, then write what is buffered and exit.

Exit codes: 0 after a clean drain, 1 when a loop's thread died (a bug; systemd restarts the
service), 2 on a configuration error.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import boto3
from pipeline_runtime.runtime import ConfigError, Metrics, configure_logging
from pipeline_runtime.systemd import notify, watchdog_interval

from log_archiver.archiver import COUNTERS, Archiver
from log_archiver.compaction import CompactionWorker
from log_archiver.config import load_config

log = logging.getLogger("log_archiver")


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

    metrics = Metrics(config.metrics_namespace, COUNTERS)
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    archiver = Archiver(config, sqs, s3, metrics)
    archiver.start()
    jobs = None
    if config.jobs_queue_url:
        jobs = CompactionWorker(config, sqs, s3, boto3.client("stepfunctions"), metrics)
        jobs.start()
    notify("READY=1")
    log.info(
        "archiver started",
        extra={
            "fields": {"queue_url": config.queue_url, "bucket": config.bucket, "jobs": bool(jobs)}
        },
    )
    tick = min(config.metrics_interval_seconds, watchdog_interval() or 3600.0)
    next_flush = time.monotonic() + config.metrics_interval_seconds
    died = False
    while not stopping.wait(tick):
        died = archiver.failed() or (jobs is not None and jobs.failed())
        if died:
            log.critical("an archiver thread died; stopping with exit code 1 for a restart")
            break
        if archiver.healthy() and (jobs is None or jobs.healthy()):
            notify("WATCHDOG=1")
        if time.monotonic() >= next_flush:
            metrics.flush()
            next_flush = time.monotonic() + config.metrics_interval_seconds

    notify("STOPPING=1")
    deadline = time.monotonic() + config.shutdown_grace_seconds
    if jobs:
        jobs.stop(config.shutdown_grace_seconds / 2)
    archiver.stop(max(0.0, deadline - time.monotonic()))
    metrics.flush()
    log.info("archiver stopped", extra={"fields": metrics.totals()})
    return 1 if died else 0


if __name__ == "__main__":
    sys.exit(main())
