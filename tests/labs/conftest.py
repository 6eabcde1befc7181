"""Fixtures for the lab tests: the session's engines, and a story whose output a test can read.

Every lab runs in a short mode on the session's moto server and embedded PostgreSQL (its own
queues, topics, buckets and databases), so all the labs together add seconds, not minutes.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from labs.engines import Engines
from labs.story import Story


@pytest.fixture
def engines(moto, postgres) -> Engines:
    return Engines(given_moto=moto, given_postgres=postgres)


class Told(Story):
    """A story that keeps what it printed."""

    @property
    def text(self) -> str:
        return self.console.file.getvalue()


@pytest.fixture
def story() -> Told:
    return Told(Console(file=io.StringIO(), width=120, highlight=False))
