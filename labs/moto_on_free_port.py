"""Run moto's server on a port the kernel picks, and print that port on the first line.

Choosing a free port in the parent and passing it to `moto.server` leaves a gap between the
check and the bind: two test workers starting servers at once could pick the same port, and one
then talked to the other's server until it stopped ("connection refused"). Binding port 0 in
the server's own process closes that gap. `MOTO_PORT` is set before serving because Step
Functions state machines that moto runs call SQS back on it. ReceiveMessage is made atomic
first (`labs/moto_atomic_receive.py`): moto's is not, and SQS's is.

    python -m labs.moto_on_free_port        # prints e.g. 41893, then serves until SIGTERM
"""

from __future__ import annotations

import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from labs import moto_atomic_receive


def main() -> None:
    moto_atomic_receive.install()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    os.environ["MOTO_PORT"] = str(server.server_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
