"""The scaling simulator reproduces cases worked out by hand, and reads the real template.

Each hand case uses a small fleet built here (1 message/s per instance, short boot) so the
expected minute of every scaling activity can be checked on paper; one test reads the
synthesized WriteBuffer template through the shared reader (no extra synth: the session's app).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tools import scaling_sim as sim
from tools.template_reader import Assembly

# Data for minute m is usable at the end of minute m+1; a worker is InService 60 s after launch
# and writes from 120 s.
TIMING = sim.Timing(metric_delay=60, in_service_after=60, ready_after=120)


def step_fleet(**changes) -> sim.Fleet:
    """Scale out +1 at >= 1 visible (Maximum, 1 of 1 minute), +3 at >= 100; halve after 3
    empty minutes; warm-up 5 minutes."""
    scale_out = sim.StepPolicy(
        "ScaleOut",
        sim.Alarm(
            "out",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            60,
            1,
            1,
            1,
            "GreaterThanOrEqualToThreshold",
            "notBreaching",
        ),  # fmt: skip
        (sim.Step(0, 99, 1), sim.Step(99, None, 3)),
    )
    scale_in = sim.StepPolicy(
        "ScaleIn",
        sim.Alarm(
            "in",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            60,
            3,
            3,
            0,
            "LessThanOrEqualToThreshold",
            "breaching",
        ),  # fmt: skip
        (sim.Step(None, 0, -50),),
        adjustment_type="PercentChangeInCapacity",
        min_adjustment_magnitude=1,
    )
    fleet = sim.Fleet(
        label="hand",
        min_capacity=0,
        max_capacity=10,
        warmup=300,
        visibility_timeout=60,
        rate_per_instance=1.0,
        receive_loops=1,
        shutdown_grace=30,
        instance_type="t4g.micro",
        age_alarm_threshold=600,
        step_policies=(scale_out, scale_in),
    )
    return replace(fleet, **changes)


def desired_changes(run: sim.Run) -> list[tuple[int, str]]:
    return [(e.at // 60, e.what) for e in run.events]


def test_one_alarm_breach_makes_one_step():
    # 50 messages at t=0: minute 0 shows 50 visible, usable at 2:00 -> +1 (first step).
    # The alarm stays in ALARM at 3:00 and 4:00 (the one worker has not cleared 50 yet), but
    # the new instance is warming up, so the same step asks for 0 + 1 again: no second launch.
    run = sim.simulate(step_fleet(), sim.Load("50", 10 * 60, bursts=((0, 50),)), TIMING)
    assert desired_changes(run)[0] == (2, "desired 0 -> 1")
    assert max(run.in_service) == 1


def test_a_deeper_breach_takes_the_bigger_step():
    run = sim.simulate(step_fleet(), sim.Load("500", 5 * 60, bursts=((0, 500),)), TIMING)
    assert desired_changes(run)[0] == (2, "desired 0 -> 3")


def test_warm_up_keeps_new_instances_out_of_current_capacity_until_it_ends():
    # 2,000 messages never drain at 1/s: the +3 step fires at 2:00. Warming instances do not
    # count, so 0 + 3 is all it asks until the warm-up ends (InService 3:00 + 5 min = 8:00);
    # at 8:00 the three count and the still-deep queue adds three more.
    run = sim.simulate(step_fleet(), sim.Load("deep", 9 * 60, bursts=((0, 2000),)), TIMING)
    assert desired_changes(run) == [(2, "desired 0 -> 3"), (8, "desired 3 -> 6")]


def test_scale_in_to_zero_after_the_configured_empty_minutes():
    # 30 messages: +1 at 2:00, writing from 4:00, empty by 4:30. Minutes 5, 6, 7 are empty
    # (minute 4 still held messages at its start); the 3-of-3 scale-in alarm sees them at 9:00,
    # but scale-in waits for the warm-up to end (3:00 + 5 min = 8:00, already past): 1 -> 0.
    run = sim.simulate(step_fleet(), sim.Load("30", 15 * 60, bursts=((0, 30),)), TIMING)
    assert desired_changes(run) == [(2, "desired 0 -> 1"), (9, "desired 1 -> 0")]
    assert run.in_service[-1] == 0


def test_scale_in_waits_for_warm_up():
    run = sim.simulate(
        step_fleet(warmup=600), sim.Load("30", 20 * 60, bursts=((0, 30),)), TIMING
    )  # warm until 3:00 + 10 min = 13:00
    assert desired_changes(run) == [(2, "desired 0 -> 1"), (13, "desired 1 -> 0")]


def test_backlog_per_instance_never_scales_from_zero():
    fleet = step_fleet(step_policies=(), target_tracking=sim.TargetTracking(target=10))
    run = sim.simulate(fleet, sim.Load("stuck", 30 * 60, bursts=((0, 1000),)), TIMING)
    assert run.events == []
    assert run.peak_depth == 1000 and run.time_to_drain is None


def test_backlog_per_instance_sizes_the_fleet_in_one_move():
    # One instance from the start; 1,000 visible / 1 instance > 10 for minutes 0-2, usable at
    # 4:00 -> ceil(visible / 10) instances, capped at 10.
    fleet = step_fleet(
        min_capacity=1, step_policies=(), target_tracking=sim.TargetTracking(target=10)
    )
    run = sim.simulate(fleet, sim.Load("1000", 6 * 60, bursts=((0, 1000),)), TIMING)
    assert desired_changes(run) == [(4, "desired 1 -> 10")]


def test_a_queue_asleep_hides_the_burst_until_its_metrics_return():
    run = sim.simulate(
        step_fleet(), sim.Load("50", 20 * 60, bursts=((0, 50),)), replace(TIMING, queue_asleep=600)
    )
    assert desired_changes(run)[0] == (12, "desired 0 -> 1")


def test_instance_minutes_bill_the_drain_and_a_minute_at_least():
    run = sim.simulate(step_fleet(), sim.Load("30", 15 * 60, bursts=((0, 30),)), TIMING)
    # launched 2:00, terminated 9:00, drains 30 s on SIGTERM
    assert run.instance_seconds == 7 * 60 + 30


def test_the_plot_file_is_produced(tmp_path):
    load = sim.Load("30", 15 * 60, bursts=((0, 30),))
    runs = [sim.simulate(step_fleet(), load, TIMING)]
    path = sim.plot(runs, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fargate_defaults_are_read_from_aws_cdk_lib():
    steps, source = sim.fargate_default_steps()
    assert steps == [
        {"upper": 0, "change": -1},
        {"lower": 100, "change": 1},
        {"lower": 500, "change": 5},
    ]
    assert source.endswith("aws-ecs-patterns/lib/base/queue-processing-service-base.ts")
    fleet = sim.fargate_default_fleet(step_fleet(), steps)
    up, down = fleet.step_policies
    assert (up.alarm.threshold, up.alarm.period) == (100, 300)
    assert up.steps == (sim.Step(0, 400, 1), sim.Step(400, None, 5))
    assert (down.alarm.threshold, down.steps) == (0, (sim.Step(None, 0, -1),))


@pytest.fixture(scope="module")
def production_fleet(synthesized_app):
    assembly = Assembly.from_directory(synthesized_app("production").assembly.directory)
    return sim.fleet_from_template(assembly.stacks["WriteBuffer"])


def test_the_fleet_is_read_from_the_synthesized_template(production_fleet):
    fleet = production_fleet
    assert (fleet.min_capacity, fleet.max_capacity, fleet.instance_type) == (0, 10, "c7g.large")
    assert fleet.rate_per_instance == 500 and fleet.visibility_timeout == 60
    assert fleet.age_alarm_threshold == 600 and fleet.shutdown_grace == 30
    scale_out, scale_in = sorted(fleet.step_policies, key=lambda p: p.alarm.threshold, reverse=True)
    assert scale_out.alarm.comparison == "GreaterThanOrEqualToThreshold"
    assert scale_out.steps[0] == sim.Step(0, scale_out.steps[0].upper, 1)
    assert scale_in.adjustment_type == "PercentChangeInCapacity"
    assert scale_in.alarm.treat_missing_data == "breaching"


def test_a_metric_that_never_reads_zero_while_orders_flow_walks_the_fleet_to_its_maximum():
    # 0.2 orders/s is well within one worker, but if the visible metric shows 1 while orders
    # flow, the +1 step stays in ALARM: each warm-up (5 min) one more worker, up to the max.
    fleet = step_fleet(max_capacity=3)
    load = sim.Load("trickle", 30 * 60, rate=lambda t: 0.2)
    quiet = sim.simulate(fleet, load, TIMING)
    flowing = sim.simulate(fleet, load, replace(TIMING, visible_in_transit=1))
    assert max(quiet.in_service) == 1
    assert max(flowing.in_service) == 3
