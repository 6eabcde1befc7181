"""The archiver's configuration, read from the environment in one place and checked at start."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline_runtime.runtime import ConfigError, bounded


@dataclass(frozen=True)
class ArchiverConfig:
    queue_url: str
    bucket: str
    raw_prefix: str = "raw/"
    hourly_prefix: str = "hourly/"
    receive_loops: int = 2
    receive_wait_seconds: int = 20
    visibility_timeout_seconds: int = 300
    flush_seconds: float = 60.0
    flush_bytes: int = 16 * 1024 * 1024
    flush_messages: int = 2_000
    jobs_queue_url: str | None = None
    jobs_visibility_timeout_seconds: int = 120
    task_heartbeat_seconds: int = 300
    shutdown_grace_seconds: float = 20.0
    write_backoff_max_seconds: float = 30.0
    instance_id: str = "local"
    metrics_namespace: str = "QueuePatterns/LogArchiver"
    metrics_interval_seconds: float = 10.0


def load_config(env: Mapping[str, str] | None = None) -> ArchiverConfig:
    """Read and check the archiver's environment; raise ConfigError naming the variable."""
    env = os.environ if env is None else env
    for name in ("QUEUE_URL", "ARCHIVE_BUCKET"):
        if not env.get(name):
            raise ConfigError(f"{name}: required")
    visibility = bounded(env, "VISIBILITY_TIMEOUT_SECONDS", 300, 1, 43_200)
    flush_seconds = bounded(env, "FLUSH_SECONDS", 60.0, 0.1, 3600.0, float)
    if visibility < 2 * flush_seconds:
        raise ConfigError(
            f"VISIBILITY_TIMEOUT_SECONDS: {visibility} is less than 2 x FLUSH_SECONDS "
            f"({flush_seconds}); a message waits up to FLUSH_SECONDS in the buffer and must stay "
            "hidden until its object is written and it is deleted"
        )
    jobs_visibility = bounded(env, "JOBS_VISIBILITY_TIMEOUT_SECONDS", 120, 3, 43_200)
    prefixes = {
        name: env.get(name) or default
        for name, default in (("RAW_PREFIX", "raw/"), ("HOURLY_PREFIX", "hourly/"))
    }
    for name, value in prefixes.items():
        if not value.endswith("/"):
            raise ConfigError(f"{name}: {value!r} must end with '/'")
    return ArchiverConfig(
        queue_url=env["QUEUE_URL"],
        bucket=env["ARCHIVE_BUCKET"],
        raw_prefix=prefixes["RAW_PREFIX"],
        hourly_prefix=prefixes["HOURLY_PREFIX"],
        receive_loops=bounded(env, "RECEIVE_LOOPS", 2, 1, 64),
        receive_wait_seconds=bounded(env, "RECEIVE_WAIT_SECONDS", 20, 0, 20),
        visibility_timeout_seconds=visibility,
        flush_seconds=flush_seconds,
        flush_bytes=bounded(env, "FLUSH_BYTES", 16 * 1024 * 1024, 1024, 1024**3),
        flush_messages=bounded(env, "FLUSH_MESSAGES", 2_000, 1, 100_000),
        jobs_queue_url=env.get("JOBS_QUEUE_URL") or None,
        jobs_visibility_timeout_seconds=jobs_visibility,
        task_heartbeat_seconds=bounded(env, "TASK_HEARTBEAT_SECONDS", 300, 2, 86_400),
        shutdown_grace_seconds=bounded(env, "SHUTDOWN_GRACE_SECONDS", 20.0, 0.0, 300.0, float),
        write_backoff_max_seconds=bounded(
            env, "WRITE_BACKOFF_MAX_SECONDS", 30.0, 0.5, 300.0, float
        ),
        instance_id=env.get("INSTANCE_ID") or socket.gethostname(),
        metrics_namespace=env.get("METRICS_NAMESPACE") or "QueuePatterns/LogArchiver",
        metrics_interval_seconds=bounded(env, "METRICS_INTERVAL_SECONDS", 10.0, 0.1, 3600.0, float),
    )
