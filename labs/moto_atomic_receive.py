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
to the DLQ, FIFO groups, attribute filtering) is unchanged.
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
    deadline = time.monotonic() + wait_seconds_timeout
    while True:
        with _SCAN:
            result = _original(
                self, queue_name, count, 0, visibility_timeout, message_attribute_names
            )
        left = deadline - time.monotonic()
        if result or left <= 0:
            return result
        # Wake when a message arrives; moto's own wait returns at once while invisible or
        # group-held messages sit in the queue, so a short pause keeps the poll from spinning.
        self.get_queue(queue_name).wait_for_messages(min(1.0, left))
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def install() -> None:
    SQSBackend.receive_message = _receive_message
