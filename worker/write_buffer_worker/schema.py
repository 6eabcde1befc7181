"""The schema step: the orders table and the worker's own database role, created once at boot.

`python -m write_buffer_worker.schema` runs as a one-shot systemd unit before the worker
service starts. It alone reads the master user's secret; it creates the table, and a login role
for the worker that may only INSERT into `orders` and SELECT from it (the SELECT is the
conflict check: `RETURNING order_id` and the stored content hashes), nothing else. On RDS the
role is granted `rds_iam`, so it logs in with IAM tokens signed by the instance role and has no
password at all; the long-running worker never holds the master credentials.

Idempotent and safe for a fleet booting at once: every step is "if not there yet", taken in
turn under a PostgreSQL advisory lock. It waits out a database that is not up yet, or is
resuming from a pause, with the same jittered backoff as the worker.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading

import psycopg
from psycopg import sql

from write_buffer_worker.store import SCHEMA, SCHEMA_LOCK, DatabaseUnavailable

log = logging.getLogger(__name__)

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# What the worker's writes need on the table, and nothing more: no UPDATE, DELETE, TRUNCATE.
WRITER_PRIVILEGES = ("SELECT", "INSERT")


def prepare(
    conn: psycopg.Connection,
    writer: str | None = None,
    *,
    iam: bool = False,
    password: str | None = None,
) -> None:
    """Create the orders table and (with `writer`) a login role that may only insert into it and
    read it: `rds_iam` with `iam`, a password with `password` (local runs, where IAM
    authentication does not exist). One transaction, under the schema lock."""
    if writer is not None and not ROLE_NAME.fullmatch(writer):
        raise ValueError(
            f"writer: {writer!r} is not a role name this step creates (lowercase letters, digits "
            "and '_', at most 63, not starting with a digit)"
        )
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
    conn.execute(SCHEMA)
    if writer is None:
        return
    role = sql.Identifier(writer)
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (writer,)).fetchone() is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    if password is not None:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
    if iam:
        # RDS's role that makes a user log in with IAM tokens only
        # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html).
        conn.execute(sql.SQL("GRANT rds_iam TO {}").format(role))
    database = conn.execute("SELECT current_database()").fetchone()[0]
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role)
    )
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    conn.execute(sql.SQL("REVOKE ALL ON orders FROM {}").format(role))
    conn.execute(
        sql.SQL("GRANT {} ON orders TO {}").format(
            sql.SQL(", ").join(map(sql.SQL, WRITER_PRIVILEGES)), role
        )
    )


def prepare_with_retries(connect, writer, *, iam, stopping, backoff_max_seconds=30.0) -> bool:
    """`prepare` on a connection from `connect()`, waiting out a database that is down or
    resuming; False if `stopping` was set first."""
    from write_buffer_worker.consumer import DatabaseGate

    gate = DatabaseGate(cap=backoff_max_seconds)
    while not stopping.is_set():
        try:
            with connect() as conn:
                prepare(conn, writer, iam=iam)
            return True
        except (psycopg.OperationalError, DatabaseUnavailable) as error:
            gate.fail()
            log.warning(
                "database not reachable for the schema step; retrying",
                extra={"fields": {"error": str(error)[:200]}},
            )
            stopping.wait(gate.backoff())
    return False


def main(env=None) -> int:
    """Read the master secret, create the table and the worker's IAM role, exit. Environment:
    DATABASE_SECRET_ARN (the master user's secret), DATABASE_WRITER_USER (the role to create),
    DATABASE_CA_BUNDLE (verify-full), DATABASE_HOST / DATABASE_PORT / DATABASE_NAME (default:
    the secret's), DB_BACKOFF_MAX_SECONDS."""
    import os

    import boto3

    from write_buffer_worker.__main__ import JsonLines, tls_parameters
    from write_buffer_worker.config import ConfigError, _bounded

    env = os.environ if env is None else env
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    secret_arn, writer = env.get("DATABASE_SECRET_ARN"), env.get("DATABASE_WRITER_USER")
    try:
        if not (secret_arn and writer):
            raise ConfigError(
                "DATABASE_SECRET_ARN / DATABASE_WRITER_USER: both required (the master user's "
                "secret, and the role to create for the worker)"
            )
        port = _bounded(env, "DATABASE_PORT", 5432, 1, 65_535)
        backoff = _bounded(env, "DB_BACKOFF_MAX_SECONDS", 30.0, 1.0, 300.0, float)
    except ConfigError as error:
        log.error("configuration error: %s", error)
        return 2
    secrets = boto3.client("secretsmanager")
    tls = tls_parameters(env.get("DATABASE_CA_BUNDLE") or None)

    def connect() -> psycopg.Connection:
        secret = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
        return psycopg.connect(
            host=env.get("DATABASE_HOST") or secret["host"],
            port=port,
            dbname=env.get("DATABASE_NAME") or secret.get("dbname", "postgres"),
            user=secret["username"],
            password=secret["password"],
            connect_timeout=5,
            application_name="write-buffer-schema",
            **tls,
        )

    done = prepare_with_retries(
        connect, writer, iam=True, stopping=threading.Event(), backoff_max_seconds=backoff
    )
    log.info("schema ready", extra={"fields": {"writer": writer}})
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
