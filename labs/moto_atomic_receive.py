"""Make moto's ReceiveMessage atomic, as SQS's is, in the moto server this project runs.

moto 5.2.5's `SQSBackend.receive_message` scans a queue and marks what it hands out without a
lock, and its threaded server runs concurrent requests at once. Two receives can then take the
same message (8 threads draining 300 messages got duplicates in 2, then 3, of 5 tries here), and two
receives on a FIFO queue can both hand out messages of one group, since each checks the groups in
flight as they were when it started. SQS does neither within the visibility timeout; the
workers, labs and tests here count duplicates and FIFO group holds, so they would report
the engine's race as their own bug.

`install()` runs each scan under one lock. The long-poll wait happens outside it, so a 20 s
poll on an empty queue blocks no other request; what moto does per scan (visibility, redrive
to the DLQ, FIFO groups, attribute filtering) and when it stops polling are unchanged.
"""

from __future__ import annotations

import threading
import time

from moto.sqs.models import SQSBackend

_SCAN = threading.Lock()
_original = SQSBackend.receive_message


def _receive_message(
    self,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
):
    # moto's own loop, with each scan under the lock: scan; if nothing, wait up to a second
    # for a new message and scan again, until the wait time has passed (checked after a wait,
    # before the next scan, as moto checks it).
    deadline = time.monotonic() + wait_seconds_timeout
    while True:
        with _SCAN:
            result = _original(
                self, queue_name, count, 0, visibility_timeout, message_attribute_names
            )
        if result or not wait_seconds_timeout:
            return result
        self.get_queue(queue_name).wait_for_messages(1)
        # moto's wait returns at once while visible messages sit in the queue that a FIFO
        # group holds back; a short pause keeps such a poll from spinning.
        time.sleep(0.02)
        if time.monotonic() > deadline:
            return result


def install() -> None:
    SQSBackend.receive_message = _receive_message
