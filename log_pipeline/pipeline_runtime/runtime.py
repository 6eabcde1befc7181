"""Logging, metrics, backoff and configuration parsing for the pipeline's programs."""

from __future__ import annotations

import json
import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

MAX_SAMPLES = 100  # EMF accepts at most 100 values per metric in one line

# After an unexpected error a loop waits this long (plus as much jitter) before going on, so a
# persistent fault does not spin.
UNEXPECTED_ERROR_PAUSE = 1.0

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A missing or malformed environment variable."""


def bounded(env: Mapping[str, str], name: str, default, low, high, kind=int):
    """`env[name]` as `kind` (int or float) within low..high, or `default` when unset."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        noun = "whole number" if kind is int else "number"
        raise ConfigError(f"{name}: {raw!r} is not a {noun}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is outside {low}..{high}")
    return value


class JsonLines(logging.Formatter):
    """One JSON object per log line: what CloudWatch Logs Insights queries best."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("botocore").setLevel(logging.WARNING)


def run_steps(
    name: str,
    step: Callable[[], bool | None],
    stopping: threading.Event,
    beat: Callable[[], None],
) -> None:
    """A program's loop thread: `beat()` then `step()` until `stopping` is set or `step` returns
    False. An error no branch of `step` expected is logged with its traceback and the loop goes
    on after a pause; whatever ends the thread otherwise is logged as its death (the owner sees
    a thread that is not alive while not stopping, and the program exits 1 for a restart)."""
    try:
        while not stopping.is_set():
            beat()
            try:
                if step() is False:
                    return
            except Exception:
                log.exception("unexpected error in %s; going on after a pause", name)
                stopping.wait(UNEXPECTED_ERROR_PAUSE * (1 + random.random()))  # noqa: S311
    except BaseException:
        log.critical("the %s thread died", name, exc_info=True)


class Backoff:
    """Exponential backoff with full jitter: sleep uniform in [0, min(cap, base * 2^attempt)].

    Full jitter spreads a fleet's retries out, so a throttled queue is not hit again by every
    producer at the same instant (the AWS Architecture Blog's "Exponential Backoff And Jitter").
    """

    def __init__(self, base: float = 0.05, cap: float = 20.0):
        self.base, self.cap = base, cap

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** min(attempt, 30))

    def delay(self, attempt: int) -> float:
        return random.uniform(0, self.ceiling(attempt))  # noqa: S311 (jitter, not crypto)


class Metrics:
    """Counters written as one CloudWatch embedded-metric-format (EMF) line per interval.

    EMF needs no PutMetricData call and no extra permission: the CloudWatch agent ships the log
    line and CloudWatch Logs extracts the metrics.
    """

    def __init__(self, namespace: str, counters: Sequence[str], stream=None):
        self.namespace = namespace
        self._names = tuple(counters)
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._totals = dict.fromkeys(self._names, 0)
        self._counts = dict.fromkeys(self._names, 0)

    def add(self, name: str, value: int = 1) -> None:
        with self._lock:
            self._counts[name] += value
            self._totals[name] += value

    def totals(self) -> dict[str, int]:
        """Counts since start (each EMF line carries only its own interval's)."""
        with self._lock:
            return dict(self._totals)

    def flush(self) -> None:
        """Write one EMF line with this interval's counts (nothing if the interval was idle)."""
        with self._lock:
            counts, self._counts = self._counts, dict.fromkeys(self._names, 0)
        if not any(counts.values()):
            return
        record = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [[]],
                        "Metrics": [{"Name": n, "Unit": "Count"} for n in self._names],
                    }
                ],
            },
            **counts,
        }
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()
