"""The shipper's configuration, read from the environment in one place and checked at start."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline_runtime.runtime import ConfigError, bounded

from log_shipper.sender import MAX_REQUEST_BYTES

# SQS bills a request per 64 KiB chunk of its payload: a message up to 64 KiB costs one request's
# worth, so packing lines up to that size costs no more than one line per message.
BILLING_CHUNK = 65_536


@dataclass(frozen=True)
class ShipperConfig:
    queue_url: str
    source: str = "generate"  # or the path of a log file to follow
    lines_per_second: float = 50.0
    count: int = 0
    max_message_bytes: int = BILLING_CHUNK
    max_request_bytes: int = MAX_REQUEST_BYTES
    linger_seconds: float = 1.0
    buffer_lines: int = 20_000
    shutdown_grace_seconds: float = 20.0
    shipper_id: str = "local"
    refused_path: str | None = None
    metrics_namespace: str = "QueuePatterns/LogShipper"
    metrics_interval_seconds: float = 10.0


def load_config(env: Mapping[str, str] | None = None) -> ShipperConfig:
    """Read and check the shipper's environment; raise ConfigError naming the variable."""
    env = os.environ if env is None else env
    queue_url = env.get("QUEUE_URL", "")
    if not queue_url:
        raise ConfigError("QUEUE_URL: required (the URL of the log queue)")
    source = env.get("LOG_SOURCE") or "generate"
    if source != "generate" and not source.startswith("/"):
        raise ConfigError(f"LOG_SOURCE: {source!r} is neither 'generate' nor an absolute path")
    max_request = bounded(env, "MAX_REQUEST_BYTES", MAX_REQUEST_BYTES, 1024, MAX_REQUEST_BYTES)
    max_message = bounded(env, "MAX_MESSAGE_BYTES", BILLING_CHUNK, 1024, MAX_REQUEST_BYTES)
    if max_message > max_request:
        raise ConfigError(
            f"MAX_MESSAGE_BYTES: {max_message} is more than MAX_REQUEST_BYTES ({max_request}); "
            "a message must fit in a request"
        )
    return ShipperConfig(
        queue_url=queue_url,
        source=source,
        lines_per_second=bounded(env, "GENERATE_LINES_PER_SECOND", 50.0, 0.0, 1_000_000.0, float),
        count=bounded(env, "GENERATE_COUNT", 0, 0, 10**12),
        max_message_bytes=max_message,
        max_request_bytes=max_request,
        linger_seconds=bounded(env, "LINGER_SECONDS", 1.0, 0.0, 60.0, float),
        buffer_lines=bounded(env, "BUFFER_LINES", 20_000, 10, 10_000_000),
        shutdown_grace_seconds=bounded(env, "SHUTDOWN_GRACE_SECONDS", 20.0, 0.0, 300.0, float),
        shipper_id=env.get("SHIPPER_ID") or socket.gethostname(),
        refused_path=env.get("REFUSED_PATH") or None,
        metrics_namespace=env.get("METRICS_NAMESPACE") or "QueuePatterns/LogShipper",
        metrics_interval_seconds=bounded(env, "METRICS_INTERVAL_SECONDS", 10.0, 0.1, 3600.0, float),
    )
