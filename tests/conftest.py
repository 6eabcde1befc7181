"""Shared fixtures: real local engines, started once per test session.

The engines are real (moto's server, an embedded PostgreSQL via pgserver) and shared by every
test module that asks for them; each test makes its own queues and tables so tests stay independent.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_DEPRECATED", "quiet")
# CDK's built-in CloudFormation validation is off, as in app.py: cfn-lint checks the templates
# (tests/infra/test_templates.py), and tests/infra/test_app.py runs app.py with it on. Each
# process would otherwise load its WebAssembly engine and validate every test's template.
os.environ.setdefault("CDK_VALIDATION", "false")

from labs.local_engines import EmbeddedPostgres, MotoServer, embedded_postgres, moto_server  # noqa: E402


@pytest.fixture(scope="session")
def moto() -> MotoServer:
    """A moto server in its own process, for SQS, SNS, DynamoDB and Secrets Manager."""
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> EmbeddedPostgres:
    """An embedded PostgreSQL server for the whole session."""
    with embedded_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def synthesized_app(tmp_path_factory):
    """`synthesized_app(profile, **context)`: the whole app synthesized once per session for
    each profile and context, shared by every infrastructure test module."""
    from infra_support import synthesize

    cache = {}

    def get(profile: str, **context):
        key = (profile, tuple(sorted(context.items())))
        if key not in cache:
            cache[key] = synthesize(profile, tmp_path_factory.mktemp(f"cdk-{profile}"), **context)
        return cache[key]

    return get
