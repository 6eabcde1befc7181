"""Worker configuration, read from the environment in one place and checked before any work.

A worker that starts with a typo in its configuration and then fails on the first message hides
the mistake in a retry loop; this fails at start-up with the variable's name and the rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class ConfigError(ValueError):
    """A missing or malformed environment variable."""


@dataclass(frozen=True)
class WorkerConfig:
    queue_url: str
    database_url: str | None
    database_secret_arn: str | None
    # IAM database authentication: a 15-minute token signed with the instance role for each
    # new connection, as this database user (no password stored anywhere).
    database_iam_user: str | None = None
    database_host: str | None = None
    database_port: int = 5432
    database_name: str | None = None
    # The RDS CA bundle: with it TLS verifies the server (sslmode=verify-full), without it TLS
    # only encrypts (sslmode=require).
    database_ca_bundle: str | None = None
    receive_loops: int = 4
    db_pool_size: int = 4
    max_writes_per_second: float = 0.0  # 0: unlimited
    visibility_timeout_seconds: int = 60
    receive_wait_seconds: int = 20
    shutdown_grace_seconds: float = 20.0
    metrics_namespace: str = "QueuePatterns/WriteBuffer"
    metrics_interval_seconds: float = 10.0
    db_connect_timeout_seconds: int = 5
    db_statement_timeout_seconds: float = 10.0  # the client's deadline is twice this
    max_batch_seconds: float = 120.0  # the heartbeat stops extending a batch after this
    db_backoff_max_seconds: float = (
        30.0  # the longest wait between probes of a database that is down
    )
    # A connection unused this long is closed (one per period): an idle worker holds none, so a
    # database that pauses when nobody is connected (Aurora Serverless v2 at 0 ACUs) can pause.
    db_idle_seconds: float = 60.0


def _bounded(env: Mapping[str, str], name: str, default, low, high, kind=int):
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


def load_config(env: Mapping[str, str] | None = None) -> WorkerConfig:
    """Read and check the worker's environment; raise ConfigError naming the variable."""
    env = os.environ if env is None else env
    queue_url = env.get("QUEUE_URL", "")
    if not queue_url:
        raise ConfigError("QUEUE_URL: required (the URL of the orders queue)")
    database_url = env.get("DATABASE_URL") or None
    secret_arn = env.get("DATABASE_SECRET_ARN") or None
    iam_user = env.get("DATABASE_IAM_USER") or None
    if sum(map(bool, (database_url, secret_arn, iam_user))) != 1:
        raise ConfigError(
            "DATABASE_URL / DATABASE_SECRET_ARN / DATABASE_IAM_USER: set exactly one (a libpq "
            "URI for local runs, a Secrets Manager secret with the credentials, or the database "
            "user to log in as with IAM authentication)"
        )
    host, name = env.get("DATABASE_HOST") or None, env.get("DATABASE_NAME") or None
    if iam_user and not (host and name):
        raise ConfigError(
            "DATABASE_HOST / DATABASE_NAME: required with DATABASE_IAM_USER (an IAM token is "
            "signed for one host, port and user)"
        )
    ca_bundle = env.get("DATABASE_CA_BUNDLE") or None
    if iam_user and not ca_bundle:
        raise ConfigError(
            "DATABASE_CA_BUNDLE: required with DATABASE_IAM_USER; the token is a password, sent "
            "only to a server whose certificate the RDS CA bundle verifies (sslmode=verify-full)"
        )
    loops = _bounded(env, "RECEIVE_LOOPS", 4, 1, 64)
    visibility = _bounded(env, "VISIBILITY_TIMEOUT_SECONDS", 60, 1, 43_200)
    return WorkerConfig(
        queue_url=queue_url,
        database_url=database_url,
        database_secret_arn=secret_arn,
        database_iam_user=iam_user,
        database_host=host,
        database_port=_bounded(env, "DATABASE_PORT", 5432, 1, 65_535),
        database_name=name,
        database_ca_bundle=ca_bundle,
        receive_loops=loops,
        db_pool_size=_bounded(env, "DB_POOL_SIZE", loops, 1, 100),
        max_writes_per_second=_bounded(env, "MAX_WRITES_PER_SECOND", 0.0, 0.0, 1_000_000.0, float),
        visibility_timeout_seconds=visibility,
        receive_wait_seconds=_bounded(env, "RECEIVE_WAIT_SECONDS", 20, 0, 20),
        shutdown_grace_seconds=_bounded(env, "SHUTDOWN_GRACE_SECONDS", 20.0, 0.0, 300.0, float),
        metrics_namespace=env.get("METRICS_NAMESPACE") or "QueuePatterns/WriteBuffer",
        metrics_interval_seconds=_bounded(
            env, "METRICS_INTERVAL_SECONDS", 10.0, 0.1, 3600.0, float
        ),
        db_connect_timeout_seconds=_bounded(env, "DB_CONNECT_TIMEOUT_SECONDS", 5, 2, 60),
        db_statement_timeout_seconds=_bounded(
            env, "DB_STATEMENT_TIMEOUT_SECONDS", 10.0, 0.1, 300.0, float
        ),
        max_batch_seconds=_bounded(env, "MAX_BATCH_SECONDS", 120.0, 1.0, 43_200.0, float),
        db_backoff_max_seconds=_bounded(env, "DB_BACKOFF_MAX_SECONDS", 30.0, 1.0, 300.0, float),
        db_idle_seconds=_bounded(env, "DB_IDLE_SECONDS", 60.0, 0.1, 3600.0, float),
    )
