"""Worker metrics as CloudWatch embedded-metric-format (EMF) log lines, one per interval.

EMF needs no PutMetricData call and no extra permission: the CloudWatch agent ships the log
line and CloudWatch Logs extracts the metrics. Counts are aggregated per interval (not one line
per message) so that logging stays cheap at thousands of messages a second.
"""

from __future__ import annotations

import json
import sys
import threading
import time

COUNTERS = (
    "Processed",
    "Duplicates",
    "Conflicts",
    "Malformed",
    "Released",
    "DeleteFailures",
    "Batches",
)
MAX_SAMPLES = 100  # EMF accepts at most 100 values per metric in one line


class Metrics:
    def __init__(self, namespace: str, stream=None):
        self.namespace = namespace
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._totals = dict.fromkeys(COUNTERS, 0)
        self._reset()

    def _reset(self) -> None:
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._latencies: list[float] = []

    def add(self, name: str, value: int = 1) -> None:
        with self._lock:
            self._counts[name] += value
            self._totals[name] += value

    def batch_latency(self, milliseconds: float) -> None:
        with self._lock:
            if len(self._latencies) < MAX_SAMPLES:
                self._latencies.append(round(milliseconds, 1))

    def totals(self) -> dict[str, int]:
        """Counts since start (each EMF line carries only its own interval's)."""
        with self._lock:
            return dict(self._totals)

    def flush(self) -> None:
        """Write one EMF line with this interval's counts (nothing if the interval was idle)."""
        with self._lock:
            counts, latencies = self._counts, self._latencies
            self._reset()
        if not any(counts.values()):
            return
        metrics = [{"Name": name, "Unit": "Count"} for name in COUNTERS]
        record = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [[]],
                        "Metrics": metrics
                        + ([{"Name": "BatchLatency", "Unit": "Milliseconds"}] if latencies else []),
                    }
                ],
            },
            **counts,
        }
        if latencies:
            record["BatchLatency"] = latencies
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()
