"""End to end on moto's server: publish to the orders topic with the deployed filter policies,
watch each queue get only its events, let the consumers process them, and see bad events land in
the DLQs. The subscriptions are made from the synthesized template (labs.fan_out_lab), so the
test exercises the filter policies and delivery modes that `cdk deploy` would create."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fanout_support import new_order_id, order_event

from labs.fan_out_lab import UNITS, LocalFanOut, subscriptions_from_template

pytestmark = pytest.mark.engines
MAX_RECEIVES = 2
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fan_out(moto, synthesized_app, lambda_environment):
    template = synthesized_app("sandbox").template_json("OrderFanOut")
    subscriptions = subscriptions_from_template(template)
    assert set(subscriptions) == set(UNITS)
    return LocalFanOut.create(moto, subscriptions, max_receives=MAX_RECEIVES)


def test_each_queue_gets_only_the_events_its_filter_admits(fan_out, stock):
    stock("BOOK-1", 1000)
    stock("EBOOK-1", 1000)
    paid_parcel = order_event(new_order_id(), shippable=True)
    free_download = order_event(
        new_order_id(),
        shippable=False,
        items=[{"sku": "EBOOK-1", "quantity": 1, "unitPriceCents": 0}],
    )
    paid_download = order_event(new_order_id(), shippable=False)
    for event in (paid_parcel, free_download, paid_download):
        fan_out.publish(event)
    everything = sorted(e["orderId"] for e in (paid_parcel, free_download, paid_download))
    assert fan_out.waiting("Inventory") == everything
    assert fan_out.waiting("Payment") == sorted([paid_parcel["orderId"], paid_download["orderId"]])
    assert fan_out.waiting("Shipping") == [paid_parcel["orderId"]]
    assert fan_out.waiting("Audit") == everything
    for unit in UNITS:
        assert fan_out.consume(unit) == [], unit
        assert fan_out.waiting(unit) == [], unit


def test_a_bad_event_is_retried_then_dead_lettered_in_every_queue_it_reached(fan_out):
    bad = {**order_event(new_order_id(), shippable=True), "customerId": ""}  # breaks the contract
    fan_out.publish(bad)
    for unit in UNITS:
        failures = fan_out.consume(unit)
        assert len(failures) == MAX_RECEIVES, unit  # tried maxReceiveCount times, then moved
        assert fan_out.dead_letters(unit) == 1, unit


def test_the_fan_out_lab_tells_the_whole_story(synthesized_app):
    """`python -m labs.fan_out_lab` in its own process: its own engines, its own environment;
    given the session's template, so it does not start the CDK again."""
    template = synthesized_app("sandbox").template_path("OrderFanOut")
    result = subprocess.run(
        [sys.executable, "-m", "labs.fan_out_lab", "--template", str(template)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Shipping   lab-parcel-0001\n" in result.stdout
    assert "payments still 2" in result.stdout
    assert result.stdout.count("dead letters now 1") == 4


def test_the_lab_synthesizes_the_subscriptions_the_app_does(synthesized_app):
    """What the lab reads when it synthesizes the stack alone (its default, `./run demo`)."""
    from labs.fan_out_lab import synthesized_subscriptions

    template = synthesized_app("sandbox").template_json("OrderFanOut")
    assert synthesized_subscriptions() == subscriptions_from_template(template)
