"""The app's entry points: profiles, imports, and the copy-one-construct path users take."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import aws_cdk as cdk
import pytest

from stacks.profiles import PRODUCTION, PROFILES, SANDBOX, profile_named

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_profile_fails_synth_listing_the_valid_ones():
    from app import build_app

    with pytest.raises(
        ValueError, match=r"unknown profile 'staging'; valid profiles are production, sandbox"
    ):
        build_app(cdk.App(context={"profile": "staging"}), nag=False)


def test_profile_defaults_to_sandbox():
    assert profile_named(None) is SANDBOX
    assert set(PROFILES) == {"sandbox", "production"}


def test_production_differs_from_sandbox_in_the_ways_a_reviewer_expects():
    assert PRODUCTION.multi_az and not SANDBOX.multi_az
    assert PRODUCTION.deletion_protection and not SANDBOX.deletion_protection
    assert PRODUCTION.customer_managed_keys and not SANDBOX.customer_managed_keys
    assert PRODUCTION.retain_data and not SANDBOX.retain_data
    assert SANDBOX.nat_gateways == 0


def test_every_retention_cloudwatch_logs_accepts_maps_to_that_many_days():
    from aws_cdk import aws_logs
    from aws_cdk.assertions import Template

    from stacks.profiles import _RETENTION_NAMES

    stack = cdk.Stack(cdk.App(), "Logs")
    for name in _RETENTION_NAMES.values():
        aws_logs.LogGroup(stack, name, retention=aws_logs.RetentionDays[name])
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    assert sorted(g["Properties"]["RetentionInDays"] for g in groups.values()) == sorted(
        _RETENTION_NAMES
    )


def test_a_log_retention_cloudwatch_logs_refuses_fails_naming_the_valid_ones():
    import dataclasses

    from stacks.profiles import log_retention

    assert log_retention(dataclasses.replace(SANDBOX, log_retention_days=400)).name == (
        "THIRTEEN_MONTHS"
    )
    with pytest.raises(
        ValueError, match=r"Profile.log_retention_days: 2 is not a retention .* 1, 3, 5, 7, 14"
    ):
        log_retention(dataclasses.replace(SANDBOX, log_retention_days=2))


def test_the_pip_constructs_package_is_not_shadowed_by_the_constructs_folder():
    constructs = importlib.import_module("constructs")
    assert hasattr(constructs, "Construct"), constructs.__file__
    assert not (ROOT / "constructs" / "__init__.py").exists()


def test_the_project_package_imports_from_the_constructs_folder():
    queue_patterns = importlib.import_module("queue_patterns")
    assert Path(queue_patterns.__file__).parent == ROOT / "constructs" / "queue_patterns"


def test_app_py_runs_as_the_cdk_cli_runs_it(tmp_path):
    """`cdk synth` runs `python3 app.py` with no pytest path entries: app.py must set its own.
    It runs with CDK's built-in CloudFormation validation on (`-c cfn_validate=true`; off by
    default for synth time, see app.py), which must find nothing, not even a warning."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)} | {
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": '{"profile": "sandbox", "cfn_validate": "true"}',
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "WriteBuffer.template.json").is_file()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    found = {r["pluginName"]: r["violations"] for r in report["pluginReports"]}
    assert found["CloudFormation Validate"] == []


COPIED_APP = textwrap.dedent(
    """
    import aws_cdk as cdk
    from queue_with_dead_letter import QueueWithDeadLetter
    from queue_alarms import QueueAlarms
    from alarm_topic import AlarmTopic
    from lambda_queue_consumer import LambdaQueueConsumer

    app = cdk.App(outdir="out")
    stack = cdk.Stack(app, "Copied")
    orders = QueueWithDeadLetter(stack, "Orders", max_receive_count=3,
                                 visibility_timeout=cdk.Duration.seconds(30))
    topic = AlarmTopic(stack, "Alarms")
    QueueAlarms(stack, "OrdersAlarms", queue=orders.queue,
                dead_letter_queue=orders.dead_letter_queue, alarm_topic=topic.topic)
    LambdaQueueConsumer(stack, "Consumer", queue=orders.queue, code_path="handler",
                        handler="app_handler.handler", timeout=cdk.Duration.seconds(5))
    app.synth()
    print("synthesized")
    """
)


def test_construct_files_work_when_copied_alone_into_a_fresh_app(tmp_path):
    """Users copy one construct file into their app: nothing of this project may be needed."""
    for name in (
        "queue_with_dead_letter.py",
        "queue_alarms.py",
        "alarm_topic.py",
        "lambda_queue_consumer.py",
    ):
        shutil.copy(ROOT / "constructs" / "queue_patterns" / name, tmp_path / name)
    (tmp_path / "handler").mkdir()
    (tmp_path / "handler" / "app_handler.py").write_text(
        "def handler(event, context):\n    return {}\n"
    )
    (tmp_path / "app.py").write_text(COPIED_APP)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "synthesized" in result.stdout
    assert (tmp_path / "out" / "Copied.template.json").is_file()


def test_every_construct_module_imports_only_the_cdk():
    """The copyability rule, checked for every construct file (not just the ones copied above).
    `jsii` (installed with aws-cdk-lib) is what lets queue_rules.py implement a CDK interface."""
    for path in (ROOT / "constructs" / "queue_patterns").glob("*.py"):
        if path.name == "__init__.py":
            continue
        imports = [
            line.split()[1]
            for line in path.read_text().splitlines()
            if line.startswith(("import ", "from "))
        ]
        foreign = [
            m
            for m in imports
            if m.split(".")[0] not in {"aws_cdk", "constructs", "jsii", "__future__"}
            and m.split(".")[0] not in sys.stdlib_module_names
        ]
        assert foreign == [], f"{path.name} imports {foreign}"
