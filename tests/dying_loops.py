"""Run a program's `main()` in this process with its receive loop made to die.

A worker or archiver whose loop thread dies must exit non-zero so that systemd restarts it. To
show that, the test needs a failure no except clause in the loop expects: `LoopKiller`, raised
by a botocore hook on the real client's ReceiveMessage (every other call still reaches moto).
"""

from __future__ import annotations

import signal

import boto3


class LoopKiller(BaseException):
    """Stands for what no except clause in a loop expects (not an Exception at all)."""


def main_with_a_dying_receive_loop(main, environment: dict[str, str], monkeypatch) -> int:
    """`main()`'s exit code, with `environment` set and every ReceiveMessage raising LoopKiller.
    The signal handlers `main` installs are put back afterwards."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session()

    def kill_the_loop(**_):
        raise LoopKiller

    session.events.register("before-call.sqs.ReceiveMessage", kill_the_loop)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)  # main's boto3.client(...)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        return main()
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
