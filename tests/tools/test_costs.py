"""The cost model reads the templates the tests synthesize, and the README's tables are its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import costs
from tools.template_reader import Assembly

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def by_profile(synthesized_app):
    return costs.by_profile_from(
        {
            profile: Assembly.from_directory(synthesized_app(profile).assembly.directory)
            for profile in costs.PROFILES
        }
    )


def stack(by_profile, profile: str, name: str) -> costs.StackCosts:
    return next(c for c in by_profile[profile] if c.stack == name)


def test_the_readme_cost_tables_are_the_models_output(by_profile):
    readme = (ROOT / "README.md").read_text()
    assert costs.rewrite(readme, costs.render(by_profile)) == readme, (
        "the README's cost tables drifted: run python -m tools.costs --write README.md"
    )


def test_the_sandbox_costs_almost_nothing_at_rest(by_profile):
    assert costs.app_total(by_profile["sandbox"]) <= 10
    assert stack(by_profile, "sandbox", "WriteBuffer").idle_total <= 3


def test_a_paused_sandbox_database_bills_only_its_storage(by_profile):
    lines = stack(by_profile, "sandbox", "WriteBuffer").idle
    [paused] = [line for line in lines if "paused at 0 ACUs" in line.what]
    assert paused.usd == 0
    assert not any(line.what.startswith(("RDS ", "NAT")) for line in lines)


def test_every_alarm_is_billed_per_metric(synthesized_app):
    template = json.loads(
        (
            Path(synthesized_app("sandbox").assembly.directory) / "OrderFanOut.template.json"
        ).read_text()
    )
    alarms = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    t = Assembly.from_directory(synthesized_app("sandbox").assembly.directory).stacks["OrderFanOut"]
    assert costs.alarm_metrics(t) == len(alarms) == 22


def test_a_metric_math_alarm_bills_each_metric_in_it():
    from tools.template_reader import StackTemplate

    math = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Metrics": [
                {"Id": f"m{n}", "MetricStat": {"Metric": {"MetricName": "x"}}} for n in range(5)
            ]
            + [{"Id": "e1", "Expression": "SUM(METRICS())"}]
        },
    }
    t = StackTemplate("T", {"Resources": {"Dlqs": math}})
    assert costs.alarm_metrics(t) == 5


def test_idle_queues_cost_five_pollers_each_when_maximum_concurrency_is_set(by_profile):
    polling = [
        line
        for line in stack(by_profile, "sandbox", "OrderFanOut").idle
        if line.what.startswith("Lambda polling")
    ]
    assert len(polling) == 4
    receives = 5 * costs.SECONDS / 20
    assert all(line.usd == pytest.approx(receives / 1e6 * 0.40) for line in polling)


def test_production_prices_its_nat_gateways_addresses_and_multi_az_database(by_profile):
    lines = {line.what: line.usd for line in stack(by_profile, "production", "WriteBuffer").idle}
    assert lines["NAT gateways"] == pytest.approx(2 * 730 * 0.045)
    assert lines["public IPv4 addresses (the NAT gateways' Elastic IPs)"] == pytest.approx(7.30)
    assert lines["RDS postgres db.m7g.large, Multi-AZ"] == pytest.approx(2 * 730 * 0.168)


def test_the_worker_makes_a_tenth_of_a_naive_consumers_sqs_requests(by_profile):
    lines = stack(by_profile, "sandbox", "WriteBuffer").per_million
    [worker] = [line for line in lines if line.what.startswith("worker: SQS")]
    assert worker.usd == pytest.approx(0.08)
    assert "naive consumer makes 2.0: $0.80" in worker.what


def test_every_price_names_its_aws_page_and_how_it_was_checked():
    table = json.loads((ROOT / "tools" / "prices.json").read_text())
    assert table["region"] == "us-east-1" and table["as_of"]
    for key, entry in table["prices"].items():
        assert entry["source"].startswith("https://aws.amazon.com/") or entry["source"].startswith(
            "https://docs.aws.amazon.com/"
        ), key
        assert entry["checked"], key
