"""Scaling simulator: how the write-buffer fleet meets a load, read from the synthesized template.

A reviewer asks "how old does the oldest order get when 100,000 land at once, and what does the
drain cost?". This answers from what CloudFormation would deploy: it reads the worker fleet's
scaling policies, the alarms that drive them, the warm-up, min/max capacity, the queue's
visibility timeout and the worker's configured write rate from the WriteBuffer template (through
tools/template_reader.py), then steps a load through the way CloudWatch and EC2 Auto Scaling act,
and prints time to drain, peak depth, peak age of the oldest message, instance-minutes and their
cost. It compares, on the same load and the same fleet:

- this stack's step scaling (as synthesized, `-c worker_scaling=step`);
- backlog-per-instance target tracking (the template synthesized with
  `-c worker_scaling=backlog_per_instance`);
- the default steps of aws-cdk-lib's `QueueProcessingFargateService`, read from the installed
  aws-cdk-lib (aws-ecs-patterns/lib/base/queue-processing-service-base.ts) and put on this fleet.

    python -m tools.scaling_sim                         # burst and diurnal day, production profile
    python -m tools.scaling_sim --scenario outage --profile sandbox --plot-dir /tmp/plots
    python -m tools.scaling_sim --cdk-out cdk.out/production --backlog-cdk-out cdk.out/backlog

Every modelling rule below names its AWS source; the few that AWS does not document (the
publication delay of a normal minute, instance boot time, when a message counts as visible) are
`Timing` fields, stated as assumptions and printed with the results. README "Scaling" lists them.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tarfile
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.template_reader import ROOT, Resource, StackTemplate

TICK = 10  # seconds of simulated time per step; scaling decisions happen on whole minutes
MINUTE = 60
# The project's one price table (tools/prices.json), also the cost model's.
PRICES = json.loads((Path(__file__).with_name("prices.json")).read_text())


def hourly(instance_type: str) -> float:
    """On-Demand price of an instance-hour of `instance_type`, from the price table."""
    return PRICES["prices"][f"ec2.{instance_type}"]["usd"]


CDK_FARGATE_SOURCE = "aws-ecs-patterns/lib/base/queue-processing-service-base.js"
CDK_FARGATE_CITATION = (
    "https://github.com/aws/aws-cdk/blob/v{version}/packages/aws-cdk-lib/"
    "aws-ecs-patterns/lib/base/queue-processing-service-base.ts"
)
SQS_RECEIVE_MAX = 10  # messages per ReceiveMessage call, the most SQS returns


# -- what the template says ------------------------------------------------------------------


@dataclass(frozen=True)
class Alarm:
    """A CloudWatch metric alarm, as far as alarm evaluation needs it."""

    name: str
    metric: str
    statistic: str
    period: int  # seconds, a whole number of minutes
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str = "missing"  # CloudWatch's default when the alarm sets none

    @property
    def scales_out(self) -> bool:
        return self.comparison.startswith("GreaterThan")

    def breaches(self, value: float) -> bool:
        return {
            "GreaterThanOrEqualToThreshold": value >= self.threshold,
            "GreaterThanThreshold": value > self.threshold,
            "LessThanOrEqualToThreshold": value <= self.threshold,
            "LessThanThreshold": value < self.threshold,
        }[self.comparison]


@dataclass(frozen=True)
class Step:
    """One step adjustment: bounds are relative to the alarm threshold (None: unbounded)."""

    lower: float | None
    upper: float | None
    adjustment: int


@dataclass(frozen=True)
class StepPolicy:
    name: str
    alarm: Alarm
    steps: tuple[Step, ...]
    adjustment_type: str = "ChangeInCapacity"
    min_adjustment_magnitude: int = 0

    def step_for(self, value: float) -> Step | None:
        """The step whose interval holds `value - threshold`. Above the threshold the lower bound
        is inclusive and the upper exclusive; below it, the other way round (EC2 Auto Scaling
        step adjustments: https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html#as-scaling-steps)."""
        diff = value - self.alarm.threshold
        for step in self.steps:
            if self.alarm.scales_out:
                inside = (step.lower is None or diff >= step.lower) and (
                    step.upper is None or diff < step.upper
                )
            else:
                inside = (step.lower is None or diff > step.lower) and (
                    step.upper is None or diff <= step.upper
                )
            if inside:
                return step
        return None


@dataclass(frozen=True)
class TargetTracking:
    """Target tracking on visible messages / in-service instances (metric math).

    The alarms Auto Scaling creates for it are not in the template. Scale-out: 3 datapoints of
    1 minute above target; scale-in: 15 of 15 below it, as the alarms AWS creates show
    (`... for 3 datapoints within 3 minutes`, `... for 15 datapoints within 15 minutes` in the
    CloudWatch console; AWS Copilot's docs print them:
    https://aws.github.io/copilot-cli/docs/commands/svc-status/). The scale-in alarm's
    threshold sits below the target, "typically more than 10% lower"
    (https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html).
    """

    target: float
    scale_out_datapoints: int = 3
    scale_in_datapoints: int = 15
    scale_in_fraction: float = 0.9


@dataclass(frozen=True)
class Fleet:
    """The worker fleet and its scaling, as synthesized."""

    label: str
    min_capacity: int
    max_capacity: int
    warmup: int  # seconds
    visibility_timeout: int
    rate_per_instance: float  # messages a second one ready instance writes
    receive_loops: int
    shutdown_grace: int
    instance_type: str
    age_alarm_threshold: float | None
    step_policies: tuple[StepPolicy, ...] = ()
    target_tracking: TargetTracking | None = None
    source: str = ""


def fleet_from_template(template: StackTemplate, label: str | None = None) -> Fleet:
    """Read the worker fleet (the stack's one Auto Scaling group with scaling policies)."""
    policies = template.of_type("AWS::AutoScaling::ScalingPolicy")
    if not policies:
        raise ValueError(f"{template.stack_id}: no AWS::AutoScaling::ScalingPolicy to simulate")
    group_ids = {
        i for p in policies for i in template.referenced_ids(p.properties["AutoScalingGroupName"])
    }
    if len(group_ids) != 1:
        raise ValueError(f"{template.stack_id}: scaling policies name {len(group_ids)} groups")
    group = template.resources[group_ids.pop()]
    launch_template = template.resources[
        template.referenced_ids(group.properties["LaunchTemplate"]["LaunchTemplateId"]).pop()
    ]
    data = launch_template.properties["LaunchTemplateData"]
    env = _environment(template.resolve(data["UserData"]))
    queue = template.resource_named(env["QUEUE_URL"])
    if queue is None:
        raise ValueError(f"{template.stack_id}: QUEUE_URL names no queue of this template")
    queue_name = template.get_att(queue.logical_id, "QueueName")
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    age_alarms = [
        a
        for a in alarms
        if a.properties.get("MetricName") == "ApproximateAgeOfOldestMessage"
        and _dimension(template, a, "QueueName") == queue_name
    ]
    group_warmup = int(group.properties.get("DefaultInstanceWarmup", 0))
    steps, tracking, warmups = [], None, []
    for policy in policies:
        props = policy.properties
        warmups.append(int(props.get("EstimatedInstanceWarmup", group_warmup)))
        if props["PolicyType"] == "StepScaling":
            driving = [
                a
                for a in alarms
                if policy.logical_id
                in template.referenced_ids(a.properties.get("AlarmActions", []))
            ]
            for alarm in driving:
                steps.append(
                    StepPolicy(
                        name=policy.path,
                        alarm=_alarm(alarm),
                        steps=tuple(
                            Step(
                                _number(s.get("MetricIntervalLowerBound")),
                                _number(s.get("MetricIntervalUpperBound")),
                                int(s["ScalingAdjustment"]),
                            )
                            for s in props["StepAdjustments"]
                        ),
                        adjustment_type=props.get("AdjustmentType", "ChangeInCapacity"),
                        min_adjustment_magnitude=int(props.get("MinAdjustmentMagnitude", 0)),
                    )
                )
        elif props["PolicyType"] == "TargetTrackingScaling":
            config = props["TargetTrackingConfiguration"]
            queries = config.get("CustomizedMetricSpecification", {}).get("Metrics", [])
            expression = next((q.get("Expression") for q in queries if q.get("ReturnData")), None)
            if expression is None or "/" not in expression:
                raise ValueError(
                    f"{policy.path}: only backlog-per-instance target tracking (visible / "
                    "in-service instances) is modelled"
                )
            tracking = TargetTracking(target=float(config["TargetValue"]))
    return Fleet(
        label=label or ("backlog per instance" if tracking else "step (this stack)"),
        min_capacity=int(group.properties["MinSize"]),
        max_capacity=int(group.properties["MaxSize"]),
        warmup=max(warmups or [group_warmup]),
        visibility_timeout=int(queue.properties.get("VisibilityTimeout", 30)),
        rate_per_instance=float(env["MAX_WRITES_PER_SECOND"]),
        receive_loops=int(env.get("RECEIVE_LOOPS", 1)),
        shutdown_grace=int(env.get("SHUTDOWN_GRACE_SECONDS", 0)),
        instance_type=str(template.resolve(data["InstanceType"])),
        age_alarm_threshold=float(age_alarms[0].properties["Threshold"]) if age_alarms else None,
        step_policies=tuple(steps),
        target_tracking=tracking,
        source=f"{template.stack_id} ({template.stack_name})",
    )


def _environment(user_data: str) -> dict[str, str]:
    """KEY=VALUE lines of the worker's environment file, written by the launch template."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", user_data, re.MULTILINE))


def _dimension(template: StackTemplate, alarm: Resource, name: str) -> str | None:
    for dim in alarm.properties.get("Dimensions", []):
        if dim["Name"] == name:
            return template.resolve(dim["Value"])
    return None


def _number(value) -> float | None:
    return None if value is None else float(value)


def _alarm(resource: Resource) -> Alarm:
    p = resource.properties
    periods = int(p["EvaluationPeriods"])
    return Alarm(
        name=resource.path,
        metric=p["MetricName"],
        statistic=p["Statistic"],
        period=int(p["Period"]),
        evaluation_periods=periods,
        datapoints_to_alarm=int(p.get("DatapointsToAlarm", periods)),
        threshold=float(p["Threshold"]),
        comparison=p["ComparisonOperator"],
        treat_missing_data=p.get("TreatMissingData", "missing"),
    )


# -- QueueProcessingFargateService's defaults, from aws-cdk-lib's own code ------------------------


def cdk_library() -> Path:
    """The installed aws-cdk-lib jsii tarball (its compiled JavaScript is the library's code)."""
    import importlib.util

    spec = importlib.util.find_spec("aws_cdk")  # found, not imported: no jsii runtime to start
    found = sorted((Path(spec.origin).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz"))
    if not found:
        raise FileNotFoundError("aws-cdk-lib's jsii tarball is not installed beside aws_cdk")
    return found[-1]


def fargate_default_steps(tarball: Path | None = None) -> tuple[list[dict], str]:
    """`defaultScalingSteps` of QueueProcessingServiceBase, and the source file to cite."""
    tarball = tarball or cdk_library()
    version = re.search(r"@([\d.]+)\.jsii", tarball.name).group(1)
    with tarfile.open(tarball) as archive:
        for member in archive:
            if member.name.endswith(CDK_FARGATE_SOURCE):
                code = archive.extractfile(member).read().decode()
                break
        else:
            raise FileNotFoundError(f"{CDK_FARGATE_SOURCE} is not in {tarball.name}")
    match = re.search(r"defaultScalingSteps\s*=\s*(\[[^\]]*\])", code)
    if match is None:
        raise ValueError(f"{CDK_FARGATE_SOURCE}: defaultScalingSteps not found; did CDK move it?")
    steps = json.loads(re.sub(r"(\w+):", r'"\1":', match.group(1)))
    return steps, CDK_FARGATE_CITATION.format(version=version)


def fargate_default_fleet(base: Fleet, steps: Sequence[dict]) -> Fleet:
    """`base` scaled the way QueueProcessingFargateService scales by default.

    Its `scaleOnMetric` (aws-applicationautoscaling/lib/step-scaling-policy.ts) makes one alarm
    for the steps above the gap and one for those below: `GreaterThanOrEqualToThreshold` at the
    lowest `lower`, `LessThanOrEqualToThreshold` at the highest `upper`, one evaluation period,
    on `queue.metricApproximateNumberOfMessagesVisible()`: Maximum over CDK's default period of
    5 minutes (aws-cloudwatch/lib/metric.ts), no TreatMissingData. The ECS service's scaling
    cooldown and its CPU target tracking are left out: the fleet here is EC2, whose step
    policies use the warm-up instead of a cooldown.
    """
    ups = sorted((s for s in steps if "lower" in s), key=lambda s: s["lower"])
    downs = sorted((s for s in steps if "upper" in s), key=lambda s: s["upper"])
    policies = []
    if ups:
        threshold = ups[0]["lower"]
        bounds = [s["lower"] - threshold for s in ups] + [None]
        policies.append(
            StepPolicy(
                name="QueueMessagesVisibleScaling/UpperPolicy",
                alarm=Alarm(
                    "UpperAlarm",
                    "ApproximateNumberOfMessagesVisible",
                    "Maximum",
                    300,
                    1,
                    1,
                    threshold,
                    "GreaterThanOrEqualToThreshold",
                ),  # fmt: skip
                steps=tuple(
                    Step(lo, hi, s["change"])
                    for s, lo, hi in zip(ups, bounds, bounds[1:], strict=False)
                ),
            )
        )
    if downs:
        threshold = downs[-1]["upper"]
        uppers = [s["upper"] - threshold for s in downs]
        policies.append(
            StepPolicy(
                name="QueueMessagesVisibleScaling/LowerPolicy",
                alarm=Alarm(
                    "LowerAlarm",
                    "ApproximateNumberOfMessagesVisible",
                    "Maximum",
                    300,
                    1,
                    1,
                    threshold,
                    "LessThanOrEqualToThreshold",
                ),  # fmt: skip
                steps=tuple(
                    Step(lo, hi, s["change"])
                    for s, lo, hi in zip(downs, [None, *uppers], uppers, strict=False)
                ),
            )
        )
    return replace(
        base,
        label="QueueProcessingFargateService defaults",
        step_policies=tuple(policies),
        target_tracking=None,
    )


# -- the load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """Messages arriving over time, and when the database is down."""

    name: str
    horizon: int  # seconds simulated
    bursts: tuple[tuple[int, float], ...] = ()  # (at second, messages)
    rate: Callable[[float], float] | None = None  # messages a second at time t
    outages: tuple[tuple[int, int], ...] = ()  # database down from, until (seconds)

    def arrivals(self, start: int, seconds: int) -> float:
        count = sum(n for at, n in self.bursts if start <= at < start + seconds)
        if self.rate is not None:
            count += self.rate(start + seconds / 2) * seconds
        return count

    def database_down(self, t: int) -> bool:
        return any(start <= t < end for start, end in self.outages)

    @property
    def last_arrival(self) -> int:
        return max((at for at, _ in self.bursts), default=0) if self.rate is None else self.horizon


def burst(messages: int, *, hours: float = 2) -> Load:
    return Load(f"burst of {messages:,} orders", int(hours * 3600), bursts=((0, messages),))


def steady(per_second: float, *, hours: float = 2) -> Load:
    return Load(f"steady {per_second:g} orders/s", int(hours * 3600), rate=lambda t: per_second)


def diurnal(per_day: int, *, swing: float = 0.9) -> Load:
    """A day of orders: lowest at 02:00, highest at 14:00, `swing` either side of the mean."""
    mean = per_day / 86400

    def rate(t: float) -> float:
        return mean * (1 + swing * math.sin(2 * math.pi * (t / 86400 - 8 / 24)))

    return Load(f"diurnal day of {per_day:,} orders", 86400, rate=rate)


def burst_during_outage(messages: int, *, outage_minutes: int = 20, hours: float = 2) -> Load:
    return Load(
        f"burst of {messages:,} orders, database down {outage_minutes} min",
        int(hours * 3600),
        bursts=((0, messages),),
        outages=((0, outage_minutes * 60),),
    )


SCENARIOS: dict[str, Callable[[], Load]] = {
    "burst": lambda: burst(100_000),
    "diurnal": lambda: diurnal(2_000_000),
    "steady": lambda: steady(200),
    "outage": lambda: burst_during_outage(100_000),
}


# -- what the template cannot say: documented or stated assumptions --------------------------------


@dataclass(frozen=True)
class Timing:
    """Times the template does not hold. Each is an assumption, printed with every result.

    metric_delay: seconds after a minute ends before its SQS datapoint can be evaluated. SQS
        pushes metrics "at one-minute intervals"
        (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-monitoring-using-cloudwatch.html);
        AWS documents no publication delay for an active queue, so one minute is assumed.
    queue_asleep: seconds of missing SQS metrics at the start, as after a queue idle for more
        than six hours: "a delay of up to 15 minutes occurs in CloudWatch metrics when a queue
        is activated from an inactive state" (same page). 0: the queue was active. Applies only
        to a fleet with min_capacity 0: a running worker's long polls keep the queue active.
    in_service_after: seconds from launch to InService (counted in GroupInServiceInstances).
    visible_in_transit: messages a datapoint of ApproximateNumberOfMessagesVisible shows while
        orders arrive and workers keep up (sent, not yet received by a waiting long poll). 0: the
        metric reads 0 then, so step scaling cannot tell "keeping up" from "idle"; 1 or more:
        it never reads 0 while orders flow. AWS does not say which; the dashboard does.
    ready_after: seconds from launch until the worker writes: boot, then the user data's dnf and
        pip installs and the service start. Measure yours from the group's launch notification
        to the worker's first log line.
    """

    metric_delay: int = 60
    queue_asleep: int = 0
    visible_in_transit: float = 0
    in_service_after: int = 60
    ready_after: int = 180

    def describe(self) -> str:
        return (
            f"SQS datapoint usable {self.metric_delay}s after its minute; "
            f"InService {self.in_service_after}s and writing {self.ready_after}s after launch"
            + (f"; metrics missing for the first {self.queue_asleep}s" if self.queue_asleep else "")
            + (
                f"; {self.visible_in_transit:g} visible while orders flow"
                if self.visible_in_transit
                else ""
            )
        )


# -- the simulation ----------------------------------------------------------------------------


@dataclass
class Instance:
    launched: int
    in_service_at: int
    ready_at: int
    warm_until: int  # warm-up counts from InService
    terminated: int | None = None

    def active(self) -> bool:
        return self.terminated is None

    def writing(self, t: int) -> bool:
        return self.terminated is None and t >= self.ready_at

    def in_service(self, t: int) -> bool:
        return self.terminated is None and t >= self.in_service_at

    def warming(self, t: int) -> bool:
        return self.terminated is None and t < self.warm_until


@dataclass
class Minute:
    """One minute of CloudWatch datapoints, as SQS and Auto Scaling would publish them."""

    visible: float  # ApproximateNumberOfMessagesVisible, Maximum
    age: float  # ApproximateAgeOfOldestMessage, Maximum
    in_service: float  # GroupInServiceInstances, Average
    published_at: float  # inf: never (queue asleep)


@dataclass
class Event:
    at: int
    what: str


@dataclass
class Run:
    """One policy's run over one load: the series to plot and the figures to compare."""

    fleet: Fleet
    load: Load
    timing: Timing
    times: list[int] = field(default_factory=list)
    depth: list[float] = field(default_factory=list)
    oldest_age: list[float] = field(default_factory=list)
    in_service: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    instance_seconds: float = 0.0
    drained_at: int | None = None

    @property
    def peak_depth(self) -> float:
        return max(self.depth, default=0)

    @property
    def peak_age(self) -> float:
        return max(self.oldest_age, default=0)

    @property
    def instance_minutes(self) -> float:
        return self.instance_seconds / 60

    @property
    def cost(self) -> float:
        return self.instance_seconds / 3600 * hourly(self.fleet.instance_type)

    @property
    def time_to_drain(self) -> float | None:
        """Seconds from the last burst until nothing waits (None for continuous loads)."""
        if self.load.rate is not None or self.drained_at is None:
            return None
        return self.drained_at - self.load.last_arrival

    @property
    def minutes_over_age_alarm(self) -> int:
        limit = self.fleet.age_alarm_threshold
        if limit is None:
            return 0
        per_minute = MINUTE // TICK
        ages = self.oldest_age
        return sum(
            1
            for i in range(0, len(ages), per_minute)
            if max(ages[i : i + per_minute], default=0) >= limit
        )

    @property
    def max_instances(self) -> int:
        return max(self.in_service, default=0)

    def figures(self) -> dict[str, object]:
        return {
            "policy": self.fleet.label,
            "time_to_drain_s": self.time_to_drain,
            "peak_depth": round(self.peak_depth),
            "peak_age_s": round(self.peak_age),
            "minutes_over_age_alarm": self.minutes_over_age_alarm,
            "max_instances": self.max_instances,
            "instance_minutes": round(self.instance_minutes, 1),
            "cost_usd": round(self.cost, 4),
        }


def simulate(fleet: Fleet, load: Load, timing: Timing = Timing()) -> Run:
    """Step `load` through `fleet` in 10-second ticks, deciding on scaling every minute.

    The rules, each from AWS's documentation:
    - Alarms evaluate 1-minute datapoints (SQS pushes its metrics every minute), aggregated to
      the alarm's period and statistic, M of N with its TreatMissingData
      (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
      https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html).
    - An alarm keeps invoking its Auto Scaling action every minute it stays in ALARM ("except
      for Auto Scaling actions, the actions happen only on state transitions":
      https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html).
    - Step scale-out adds to the capacity that is not warming up, and never lowers the desired
      capacity, so repeated breaches in one step make one scaling activity; scale-in is blocked
      while instances warm up
      (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html#as-step-scaling-warmup,
      https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html).
    - Percent adjustments round toward zero, at least 1, and at least MinAdjustmentMagnitude
      (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html#as-scaling-adjustment).
    - Backlog per instance is visible messages / GroupInServiceInstances
      (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-target-tracking-metric-math.html);
      with no instance in service it has no value, and target tracking "does not perform
      scaling when the specified metric has insufficient data"
      (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-autoscaling-targettracking.html).
    - A terminated worker drains on SIGTERM (no redelivery) and is billed until it stops, per
      second with a 60-second minimum (https://aws.amazon.com/ec2/pricing/on-demand/).
    - While the database is down, workers stop receiving (the worker's backoff); the batches
      they held return after the visibility timeout.
    """
    run = Run(fleet, load, timing)
    instances = [
        Instance(-3600, -3600, -3600, -3600) for _ in range(fleet.min_capacity)
    ]  # min_capacity instances, long warm
    desired = fleet.min_capacity
    waiting: deque[list[float]] = deque()  # [arrival second, messages], oldest first
    held: list[tuple[int, int, float]] = []  # (visible again at, arrival, messages)
    minutes: list[Minute] = []
    alarm_states: dict[str, str] = {}
    minute = {"visible": 0.0, "age": 0.0, "in_service": 0.0}
    was_down = False
    last_backlog = None

    for t in range(0, load.horizon, TICK):
        arriving = load.arrivals(t, TICK)
        if arriving > 0:
            waiting.append([t, arriving])
        for item in [h for h in held if h[0] <= t]:
            held.remove(item)
            _requeue(waiting, item[1], item[2])
        down = load.database_down(t)
        writers = sum(1 for i in instances if i.writing(t))
        if down and not was_down:  # batches in hand when the database went away
            take = writers * fleet.receive_loops * SQS_RECEIVE_MAX
            for arrival, n in _take(waiting, take):
                held.append((t + fleet.visibility_timeout, arrival, n))
        was_down = down
        if not down:
            _take(waiting, writers * fleet.rate_per_instance * TICK)
        backlog = sum(n for _, n in waiting)
        in_flight = sum(n for _, _, n in held)
        end = t + TICK
        oldest = min([w[0] for w in waiting] + [h[1] for h in held], default=None)
        age = end - oldest if oldest is not None else 0.0
        in_service = sum(1 for i in instances if i.in_service(end))
        run.times.append(end)
        run.depth.append(backlog)
        run.oldest_age.append(age)
        run.in_service.append(in_service)
        if backlog + in_flight > 0:
            last_backlog = end
        elif last_backlog is not None and run.drained_at is None and end >= load.last_arrival:
            run.drained_at = last_backlog
        seen = max(backlog, timing.visible_in_transit) if arriving > 0 else backlog
        minute["visible"] = max(minute["visible"], seen)
        minute["age"] = max(minute["age"], age)
        minute["in_service"] += in_service * TICK / MINUTE

        if end % MINUTE:
            continue
        index = end // MINUTE - 1
        # A poller keeps the queue active; with none (min 0), it may have fallen asleep.
        asleep = fleet.min_capacity == 0 and index * MINUTE < timing.queue_asleep
        minutes.append(
            Minute(
                visible=minute["visible"],
                age=minute["age"],
                in_service=minute["in_service"],
                published_at=math.inf if asleep else end + timing.metric_delay,
            )
        )
        minute = {"visible": 0.0, "age": 0.0, "in_service": 0.0}
        new_desired = _decide(fleet, instances, desired, minutes, alarm_states, end, timing)
        if new_desired != desired:
            run.events.append(Event(end, f"desired {desired} -> {new_desired}"))
            desired = new_desired
        _converge(instances, desired, end, timing, fleet)

    if run.drained_at is None and last_backlog is not None and not waiting and not held:
        run.drained_at = last_backlog
    for i in instances:
        stop = load.horizon if i.terminated is None else i.terminated + fleet.shutdown_grace
        start = max(i.launched, 0)
        if stop > start:
            run.instance_seconds += max(stop - start, MINUTE)
    return run


def _take(waiting: deque, count: float) -> list[tuple[float, float]]:
    """Remove up to `count` messages from the head of the queue, returning what was taken."""
    taken = []
    while count > 1e-9 and waiting:
        arrival, n = waiting[0]
        used = min(n, count)
        taken.append((arrival, used))
        count -= used
        if used >= n - 1e-9:
            waiting.popleft()
        else:
            waiting[0][1] = n - used
    return taken


def _requeue(waiting: deque, arrival: float, n: float) -> None:
    items = sorted([*map(tuple, waiting), (arrival, n)])
    waiting.clear()
    waiting.extend([list(i) for i in items])


def _converge(instances: list[Instance], desired: int, now: int, timing: Timing, fleet: Fleet):
    """Launch or terminate to reach `desired`. Terminating takes the newest instance first
    (among equals, the default termination policy's last tie-break, the billing hour, means
    nothing with per-second billing:
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-termination-policies.html)."""
    active = [i for i in instances if i.active()]
    for _ in range(desired - len(active)):
        in_service = now + timing.in_service_after
        instances.append(
            Instance(now, in_service, now + timing.ready_after, in_service + fleet.warmup)
        )
    for instance in sorted(active, key=lambda i: -i.launched)[: max(0, len(active) - desired)]:
        instance.terminated = now


def _datapoints(
    minutes: Sequence[Minute], now: int, timing: Timing, period: int, count: int, value
) -> list[float | None]:
    """The `count` newest datapoints of `period` seconds an alarm can see at `now`, newest first:
    each aggregates the 1-minute values `value(minute)` (None where a minute is missing)."""
    per = max(1, period // MINUTE)
    last = int((now - timing.metric_delay) // MINUTE) - 1  # newest minute that can be published
    points = []
    for k in range(count):
        values = []
        for m in range(last - (k + 1) * per + 1, last - k * per + 1):
            if 0 <= m < len(minutes) and minutes[m].published_at <= now:
                v = value(minutes[m])
                if v is not None:
                    values.append(v)
            elif m < 0 and value(_IDLE) is not None:  # before the run: an idle queue
                values.append(value(_IDLE))
        points.append(values)
    return points


_IDLE = Minute(visible=0.0, age=0.0, in_service=0.0, published_at=0)


def _aggregate(values: list[float], statistic: str) -> float | None:
    if not values:
        return None
    return {
        "Maximum": max(values),
        "Minimum": min(values),
        "Sum": sum(values),
        "Average": sum(values) / len(values),
        "SampleCount": len(values),
    }[statistic]


def _alarm_state(alarm: Alarm, points: list[float | None], previous: str) -> str:
    """ALARM, OK or INSUFFICIENT_DATA for M of N datapoints with missing-data treatment."""
    breaching = present = 0
    for p in points:
        if p is None:
            if alarm.treat_missing_data == "breaching":
                breaching += 1
                present += 1
            elif alarm.treat_missing_data == "notBreaching":
                present += 1
            continue
        present += 1
        breaching += alarm.breaches(p)
    if present == 0:
        return previous if alarm.treat_missing_data == "ignore" else "INSUFFICIENT_DATA"
    return "ALARM" if breaching >= alarm.datapoints_to_alarm else "OK"


def _decide(fleet, instances, desired, minutes, states, now, timing) -> int:
    """Evaluate every alarm and policy at `now`; return the new desired capacity."""
    active = [i for i in instances if i.active()]
    warming = any(i.warming(now) for i in active)
    settled = sum(1 for i in active if not i.warming(now))
    for policy in fleet.step_policies:
        alarm = policy.alarm
        raw = _datapoints(
            minutes, now, timing, alarm.period, alarm.evaluation_periods, _metric(alarm.metric)
        )
        points = [_aggregate(v, alarm.statistic) for v in raw]
        state = _alarm_state(alarm, points, states.get(alarm.name, "INSUFFICIENT_DATA"))
        states[alarm.name] = state
        if state != "ALARM":
            continue
        value = next((p for p in points if p is not None), alarm.threshold)
        step = policy.step_for(value)
        if step is None or step.adjustment == 0:
            continue
        if step.adjustment > 0:
            wanted = settled + _adjustment(policy, step.adjustment, settled)
            desired = max(desired, min(wanted, fleet.max_capacity))
        elif not warming:
            desired = max(
                fleet.min_capacity, desired + _adjustment(policy, step.adjustment, desired)
            )
    if fleet.target_tracking is not None:
        desired = _track(fleet, fleet.target_tracking, minutes, now, timing, desired, warming)
    return desired


def _adjustment(policy: StepPolicy, adjustment: int, capacity: int) -> int:
    if policy.adjustment_type == "ChangeInCapacity":
        return adjustment
    if policy.adjustment_type == "PercentChangeInCapacity":
        raw = capacity * adjustment / 100
        change = int(raw) if abs(raw) >= 1 else (1 if raw > 0 else -1 if raw < 0 else 0)
        if policy.min_adjustment_magnitude and abs(change) < policy.min_adjustment_magnitude:
            change = int(math.copysign(policy.min_adjustment_magnitude, adjustment))
        return change
    raise ValueError(f"{policy.name}: adjustment type {policy.adjustment_type} is not modelled")


def _metric(name: str):
    return {
        "ApproximateNumberOfMessagesVisible": lambda m: m.visible,
        "ApproximateAgeOfOldestMessage": lambda m: m.age,
    }[name]


def _backlog_per_instance(m: Minute) -> float | None:
    return m.visible / m.in_service if m.in_service > 0 else None


def _track(fleet, tracking, minutes, now, timing, desired, warming) -> int:
    """Backlog per instance: proportional to visible / target, on Auto Scaling's own alarms."""
    out = _datapoints(
        minutes, now, timing, MINUTE, tracking.scale_out_datapoints, _backlog_per_instance
    )
    points = [_aggregate(v, "Average") for v in out]
    latest = _latest_visible(minutes, now, timing)
    if all(p is not None and p > tracking.target for p in points) and latest is not None:
        wanted = math.ceil(latest / tracking.target)
        return max(desired, min(wanted, fleet.max_capacity))
    low = _datapoints(
        minutes, now, timing, MINUTE, tracking.scale_in_datapoints, _backlog_per_instance
    )
    low_points = [_aggregate(v, "Average") for v in low]
    limit = tracking.target * tracking.scale_in_fraction
    if not warming and all(p is not None and p < limit for p in low_points) and latest is not None:
        wanted = max(fleet.min_capacity, math.ceil(latest / tracking.target))
        return min(desired, wanted)
    return desired


def _latest_visible(minutes, now, timing) -> float | None:
    points = _datapoints(minutes, now, timing, MINUTE, 1, lambda m: m.visible)
    return _aggregate(points[0], "Maximum")


# -- comparing the three policies ----------------------------------------------------------------


@dataclass
class ScenarioResult:
    """What a lab or the README shows for one named scenario."""

    scenario: str
    load: Load
    profile: str
    timing: Timing
    runs: list[Run]
    plot: Path | None
    fargate_source: str

    def figures(self) -> list[dict[str, object]]:
        return [r.figures() for r in self.runs]

    def table(self) -> str:
        """A markdown table of the three policies' figures."""
        price = self.runs[0].fleet.instance_type
        rows = [
            "| policy | time to drain | peak depth | peak age of oldest | minutes over age alarm | most instances | instance-minutes | cost |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in self.runs:
            drain = "—" if r.time_to_drain is None else _duration(r.time_to_drain)
            rows.append(
                f"| {r.fleet.label} | {drain} | {r.peak_depth:,.0f} | {_duration(r.peak_age)} "
                f"| {r.minutes_over_age_alarm} | {r.max_instances} | {r.instance_minutes:,.0f} "
                f"| ${r.cost:,.{3 if r.cost < 1 else 2}f} |"
            )
        rows.append("")
        rows.append(
            f"{self.load.name}; profile {self.profile} ({price} at "
            f"${hourly(price)}/h, {PRICES['region']}, as of {PRICES['as_of']}); "
            f"{self.timing.describe()}."
        )
        return "\n".join(rows)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def three_fleets(step_template: StackTemplate, backlog_template: StackTemplate) -> list[Fleet]:
    """This stack's step policy, backlog per instance, and QueueProcessingFargateService's
    default steps on the step fleet's capacity, warm-up and workers."""
    step = fleet_from_template(step_template)
    steps, _ = fargate_default_steps()
    return [
        step,
        fleet_from_template(backlog_template),
        fargate_default_fleet(step, steps),
    ]


def compare(
    fleets: Iterable[Fleet],
    load: Load,
    *,
    timing: Timing = Timing(),
    scenario: str = "custom",
    profile: str = "",
    plot_path: Path | None = None,
) -> ScenarioResult:
    runs = [simulate(f, load, timing) for f in fleets]
    if plot_path is not None:
        plot(runs, plot_path)
    _, source = fargate_default_steps()
    return ScenarioResult(scenario, load, profile, timing, runs, plot_path, source)


def run_scenario(
    name: str,
    *,
    profile: str = "production",
    cdk_out: str | Path | None = None,
    backlog_cdk_out: str | Path | None = None,
    plot_dir: str | Path | None = None,
    timing: Timing = Timing(),
) -> ScenarioResult:
    """Run one named scenario (`burst`, `diurnal`, `steady`, `outage`) on the three policies.

    The templates come from `cdk_out` (a `cdk synth` folder of the step profile) and
    `backlog_cdk_out` (one synthesized with `-c worker_scaling=backlog_per_instance`), or are
    synthesized in-process when not given. Returns the figures and the plot's path."""
    from tools.template_reader import Assembly, synthesize

    if name not in SCENARIOS:
        raise ValueError(f"scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    step = Assembly.from_directory(cdk_out) if cdk_out else synthesize(profile)
    backlog = (
        Assembly.from_directory(backlog_cdk_out)
        if backlog_cdk_out
        else synthesize(profile, worker_scaling="backlog_per_instance")
    )
    fleets = three_fleets(step.stacks["WriteBuffer"], backlog.stacks["WriteBuffer"])
    path = Path(plot_dir) / f"{name}-{profile}.png" if plot_dir else None
    return compare(
        fleets, SCENARIOS[name](), timing=timing, scenario=name, profile=profile, plot_path=path
    )


def plot(runs: Sequence[Run], path: Path) -> Path:
    """Depth, in-service instances and age of the oldest message over time, one line a policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    load = runs[0].load
    hours = load.horizon > 3 * 3600
    scale, unit = (3600, "hours") if hours else (60, "minutes")
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    for run in runs:
        x = [t / scale for t in run.times]
        axes[0].plot(x, run.depth, label=run.fleet.label, linewidth=1.4)
        axes[1].step(x, run.in_service, where="post", linewidth=1.4)
        axes[2].plot(x, [a / 60 for a in run.oldest_age], linewidth=1.4)
    limit = runs[0].fleet.age_alarm_threshold
    if limit:
        axes[2].axhline(limit / 60, color="red", linestyle="--", linewidth=1)
        axes[2].annotate(
            "age alarm",
            (0.99, limit / 60),
            xycoords=("axes fraction", "data"),
            color="red",
            fontsize=8,
            ha="right",
            va="bottom",
        )
    axes[0].set_ylabel("visible messages")
    axes[1].set_ylabel("instances in service")
    axes[2].set_ylabel("oldest message (min)")
    axes[2].set_xlabel(f"time ({unit})")
    if not hours:
        end = max(
            [r.drained_at or 0 for r in runs]
            + [max((e.at for e in r.events), default=0) for r in runs]
        )
        axes[2].set_xlim(0, min(load.horizon, end + 15 * 60) / scale)
    axes[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{load.name}: {runs[0].fleet.source}", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="production", choices=("sandbox", "production"))
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="repeatable; default burst and diurnal",
    )
    parser.add_argument(
        "--cdk-out", help="a `cdk synth` folder of the profile (default: synthesize)"
    )
    parser.add_argument(
        "--backlog-cdk-out",
        help="the same, synthesized with -c worker_scaling=backlog_per_instance",
    )
    parser.add_argument("--plot-dir", default=str(ROOT / "docs" / "scaling"))
    parser.add_argument(
        "--rate",
        type=float,
        help="messages a second per instance (default: MAX_WRITES_PER_SECOND from the template)",
    )
    parser.add_argument(
        "--ready-after",
        type=int,
        default=Timing.ready_after,
        help="seconds from launch until a worker writes",
    )
    parser.add_argument("--metric-delay", type=int, default=Timing.metric_delay)
    parser.add_argument(
        "--queue-asleep",
        type=int,
        default=0,
        help="seconds of missing SQS metrics after an idle queue wakes (up to 900)",
    )
    parser.add_argument(
        "--visible-in-transit",
        type=float,
        default=0,
        help="messages the visible metric shows while orders flow and workers keep up",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    from tools.template_reader import Assembly, synthesize

    timing = Timing(
        metric_delay=args.metric_delay,
        queue_asleep=args.queue_asleep,
        ready_after=args.ready_after,
        visible_in_transit=args.visible_in_transit,
    )
    step = Assembly.from_directory(args.cdk_out) if args.cdk_out else synthesize(args.profile)
    backlog = (
        Assembly.from_directory(args.backlog_cdk_out)
        if args.backlog_cdk_out
        else synthesize(args.profile, worker_scaling="backlog_per_instance")
    )
    fleets = three_fleets(step.stacks["WriteBuffer"], backlog.stacks["WriteBuffer"])
    if args.rate:
        fleets = [replace(f, rate_per_instance=args.rate) for f in fleets]
    _, source = fargate_default_steps()
    results = []
    for name in args.scenario or ["burst", "diurnal"]:
        path = Path(args.plot_dir) / f"{name}-{args.profile}.png"
        results.append(
            compare(
                fleets,
                SCENARIOS[name](),
                timing=timing,
                scenario=name,
                profile=args.profile,
                plot_path=path,
            )
        )
    if args.json:
        print(json.dumps({r.scenario: r.figures() for r in results}, indent=2))
        return 0
    f = fleets[0]
    print(
        f"Fleet read from {f.source}: {f.min_capacity}-{f.max_capacity} x {f.instance_type}, "
        f"{f.rate_per_instance:g} msg/s each, warm-up {f.warmup}s, visibility {f.visibility_timeout}s, "
        f"age alarm at {f.age_alarm_threshold:g}s"
    )
    for p in f.step_policies:
        a = p.alarm
        print(
            f"  {p.name.split('/')[-2]}: {a.metric} {a.statistic} {a.comparison} {a.threshold:g}, "
            f"{a.datapoints_to_alarm} of {a.evaluation_periods} x {a.period}s, missing={a.treat_missing_data}; "
            + ", ".join(f"[{s.lower}, {s.upper}) {s.adjustment:+d}" for s in p.steps)
            + ("%" if p.adjustment_type.startswith("Percent") else "")
        )
    print(
        f"  backlog per instance target: {fleets[1].target_tracking.target:g} (min {fleets[1].min_capacity})"
    )
    print(f"  QueueProcessingFargateService default steps from {source}")
    for r in results:
        print(f"\n## {r.load.name} ({r.scenario})\n")
        print(r.table())
        if r.plot:
            print(f"\nplot: {r.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
