"""Waiting for a condition in tests that run real processes and engines."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str | Callable[[], str] = "condition",
) -> None:
    """Poll `predicate` until it is true; fail after `timeout` seconds naming `what`.

    `what` may be a callable: it is asked at the timeout, so the failure shows the state then
    (a counter's value at the start of the wait says nothing about why it timed out).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    described = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout}s waiting for {described}")
