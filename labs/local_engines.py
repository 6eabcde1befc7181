"""Real local engines for labs, tests and benchmarks: moto's AWS server and an embedded PostgreSQL.

Nothing here fakes AWS or PostgreSQL: `moto_server` runs moto in server mode in its own process
(so it gets its own core and GIL, as SQS would be a separate service), and `embedded_postgres`
runs a real PostgreSQL through `pgserver`. Both are context managers that clean up after
themselves, so a lab interrupted with Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: point boto3 at `endpoint_url` with `LOCAL_CREDENTIALS`."""

    endpoint_url: str
    process: subprocess.Popen

    def client(self, service: str):
        """A boto3 client for `service` on this server (imported lazily: labs that only need
        Postgres should not pay boto3's import)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=LOCAL_REGION,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def run_state_machines(self) -> None:
        """Make Step Functions executions run their definitions (service integrations, task
        tokens, heartbeats, retries) instead of returning moto's canned history."""
        import json

        request = urllib.request.Request(  # noqa: S310 (loopback http)
            f"{self.endpoint_url}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310

    def environment(self) -> dict[str, str]:
        """Environment variables that send a child process's boto3 calls to this server."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }


@contextlib.contextmanager
def moto_server(startup_timeout: float = 30.0) -> Iterator[MotoServer]:
    """Run moto's server on loopback in a child process until the block exits. The child binds
    a port the kernel picks and reports it (`labs/moto_on_free_port.py`), so servers started
    at once by parallel tests never share a port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "labs.moto_on_free_port"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], startup_timeout)
        line = process.stdout.readline().strip() if ready else ""
        if not line.isdigit():
            raise RuntimeError(f"moto server did not start (exit code {process.poll()})")
        endpoint = f"http://127.0.0.1:{line}"
        urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5).close()  # noqa: S310 (loopback http)
        yield MotoServer(endpoint_url=endpoint, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stdout.close()


@dataclass
class EmbeddedPostgres:
    """A running embedded PostgreSQL; `uri` is a libpq URI (Unix socket) for psycopg."""

    uri: str
    data_dir: Path
    _server: object

    def stop(self) -> None:
        """Stop the server (fast shutdown), as an outage would: open connections are cut."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user)

    def start(self) -> None:
        """Start it again after `stop`, on the same data directory and socket."""
        self._server.ensure_postgres_running()
        self.uri = self._server.get_uri()


@contextlib.contextmanager
def embedded_postgres(data_dir: Path | None = None) -> Iterator[EmbeddedPostgres]:
    """Run a real PostgreSQL (pgserver) in a temporary data directory until the block exits."""
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pg-")))
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        stack.callback(server.cleanup)
        yield EmbeddedPostgres(uri=server.get_uri(), data_dir=Path(data_dir), _server=server)
