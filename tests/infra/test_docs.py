"""The README stays true: its props and rules tables match the code, and CI runs its test
command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_props_tables_in_the_docs_match_the_constructs():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "props_tables.py"), "--check", *map(str, docs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-1500:]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "./run test   #" in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec ./run test")


def test_every_exported_construct_has_a_props_table_in_the_docs():
    sys.path.insert(0, str(ROOT / "constructs"))
    import queue_patterns
    from constructs import Construct

    docs = (ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in (ROOT / "docs").glob("*.md")
    )
    exported = {name: getattr(queue_patterns, name) for name in queue_patterns.__all__}
    constructs = [
        n for n, v in exported.items() if isinstance(v, type) and issubclass(v, Construct)
    ]
    missing = [name for name in constructs if f"<!-- props:{name} -->" not in docs]
    assert missing == []


def test_the_readme_states_each_sandbox_trade_off_as_the_profile_does():
    from stacks.profiles import SANDBOX

    readme = (ROOT / "README.md").read_text()
    missing = [k for k, reason in SANDBOX.trade_offs.items() if f"**{k}**: {reason}" not in readme]
    assert missing == []


def test_the_readme_has_the_queue_rules_table():
    readme = (ROOT / "README.md").read_text()
    assert "<!-- rules:QueueRules -->\n| rule | level |" in readme
    assert "## Use the queue rules in your app" in readme
