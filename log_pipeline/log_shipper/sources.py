"""Where log lines come from: a generator at a fixed rate (the sandbox), or a file being written.

Both are iterators of lines (without the newline) that end when `stopping` is set. The file
follower starts at the end of the file (the lines already there were the previous run's), and
reopens the file when it is rotated (a new inode) or truncated.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

PATHS = ("/", "/orders", "/orders/{n}", "/cart", "/search?q=book", "/static/app.js", "/health")
AGENTS = ("curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)", "okhttp/4.12.0", "python-requests/2.32")


def access_line(n: int, rng: random.Random) -> str:
    """One combined-log-format access line, as a web tier writes them."""
    now = datetime.now(UTC)
    path = rng.choice(PATHS).format(n=rng.randrange(1, 100_000))
    status = rng.choices((200, 201, 304, 404, 500), weights=(80, 5, 8, 5, 2))[0]
    return (
        f"198.51.100.{rng.randrange(1, 255)} - - [{now:%d/%b/%Y:%H:%M:%S} +0000] "
        f'"GET {path} HTTP/1.1" {status} {rng.randrange(100, 50_000)} "-" '
        f'"{rng.choice(AGENTS)}" request_id={n:012d} duration_ms={rng.randrange(1, 900)}'
    )


def generate(
    rate: float, stopping: threading.Event, *, count: int = 0, seed: int | None = None
) -> Iterator[str]:
    """`rate` lines a second (0: as fast as the consumer of the iterator takes them), `count`
    lines in all (0: until stopped). A slow consumer slows the generator: nothing piles up."""
    rng = random.Random(seed)  # noqa: S311 (synthetic traffic)
    started = time.monotonic()
    n = 0
    while not stopping.is_set() and (count == 0 or n < count):
        if rate > 0:
            ahead = started + n / rate - time.monotonic()
            if ahead > 0 and stopping.wait(ahead):
                return
        yield access_line(n, rng)
        n += 1


def follow(path: str, stopping: threading.Event, *, poll: float = 0.2) -> Iterator[str]:
    """Lines appended to `path` from now on, across rotation and truncation."""
    handle = None
    inode = None
    partial = ""
    while not stopping.is_set():
        if handle is None:
            try:
                handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
            except FileNotFoundError:
                stopping.wait(poll)
                continue
            stat = os.fstat(handle.fileno())
            if inode is None:
                handle.seek(0, os.SEEK_END)  # first open: only what is written from now on
            inode = stat.st_ino
        chunk = handle.readline()
        if chunk:
            partial += chunk
            if partial.endswith("\n"):
                yield partial.rstrip("\n")
                partial = ""
            continue
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            stat = None
        if stat is None or stat.st_ino != inode or stat.st_size < handle.tell():
            handle.close()  # rotated or truncated: start the new file from its beginning
            handle, partial = None, ""
            inode = -1
            continue
        stopping.wait(poll)
    if handle is not None:
        handle.close()
