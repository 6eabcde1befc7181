"""Cost model: what each stack costs at rest, and per million messages, read from its template.

Every figure starts from what `cdk synth` wrote (tools/template_reader.py), not from the CDK
code, and is priced from one dated table, tools/prices.json (us-east-1, each price with its AWS
pricing page and how it was checked). Two views:

- Idle: a month with no traffic at all, per stack and profile, line by line: the database
  (instance hours and storage, or a paused Aurora instance's storage), NAT gateways, public IPv4
  addresses, interface endpoints, KMS keys, secrets, alarms (metric-math alarms per metric),
  dashboards (the account's first three free, credited once per app), a WAF web ACL and its
  rules, Lambda's event source mappings polling idle queues, scheduled invocations, and the logs
  that flow even at rest (VPC flow logs, RDS Enhanced Monitoring).
- Per million messages through each pattern: requests per message from the pattern's own batch
  sizes, Lambda GB-seconds from its memory and a stated handler duration, SNS publishes, SQS
  requests, DynamoDB request units, S3 requests, API Gateway requests, KMS requests where keys
  are customer-managed; for the EC2 worker, its measured SQS calls per message next to a naive
  one-message-per-call consumer.

Every assumption the templates cannot answer is a named constant below, with its reason.

    python -m tools.costs                           # both tables, both profiles
    python -m tools.costs --write README.md         # regenerate the README's tables
    python -m tools.costs --check README.md         # what the tests run
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.template_reader import Assembly, Resource, StackTemplate, synthesize

PRICE_TABLE = json.loads(Path(__file__).with_name("prices.json").read_text())
HOURS = PRICE_TABLE["hours_per_month"]
SECONDS = HOURS * 3600
PROFILES = ("sandbox", "production")

# --- assumptions the templates cannot answer -----------------------------------------------------

# Lambda polls an idle standard queue with long polling; with maximum concurrency set it keeps 5
# pollers ("can optimize to as few as 2 concurrent batches ... not available when you enable the
# maximum concurrency setting": https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html,
# as of 2026-12-02). Each poll is assumed to wait the longest SQS allows, 20 s, so a poller makes
# 3 ReceiveMessage calls a minute.
ESM_POLLERS_WITH_MAX_CONCURRENCY = 5
ESM_POLLERS_WITHOUT = 2
LONG_POLL_SECONDS = 20
# VPC flow logs of a VPC with nothing running (no workers, a paused or idle database): a few
# ENIs see little traffic. An assumption, not a measurement: 50 MB a month.
IDLE_FLOW_LOG_GB = 0.05
# RDS Enhanced Monitoring sends one RDSOSMetrics record per interval to CloudWatch Logs; a record
# with its process list is assumed to be 4 KB.
ENHANCED_MONITORING_RECORD_KB = 4
# A database at rest holds little: the sandbox's Aurora volume is assumed to hold 1 GB (Aurora
# bills the data stored, not a provisioned size). Backups within the retention period are free
# up to the size of the database.
AURORA_IDLE_STORAGE_GB = 1
# The write-buffer worker's SQS calls per message, measured by benchmarks/worker_throughput.py
# (README, "Benchmarks"): receive 10 at a time, delete in batches of 10; a naive consumer makes
# one receive and one delete per message.
WORKER_SQS_CALLS_PER_MESSAGE = 0.20
NAIVE_SQS_CALLS_PER_MESSAGE = 2.00
# Handler time per record, in ms, at the function's memory: assumptions, not measurements (the
# handlers' own work is microseconds; the time is their DynamoDB or S3 round trips, ~10 ms each
# inside a Region, plus Powertools' idempotency bookkeeping).
HANDLER_MS_PER_RECORD = {
    "inventory_consumer": 40,  # idempotency claim + a transaction + completion
    "payment_consumer": 30,  # idempotency claim + one write + completion
    "shipping_consumer": 30,
    "audit_consumer": 15,  # one conditional put
    "payment_ledger": 15,  # one conditional update
    "upload_processor": 300,  # GET, compress, PUT of a small image
    "usage_batcher": 2,  # per event, inside a run: receive, sum, delete
}
# DynamoDB write request units per record (items under 1 KB; a transactional write costs 2 per
# item), read from each handler: idempotency records are one claim and one completion.
DYNAMODB_WRITES_PER_RECORD = {
    "inventory_consumer": 2 + 2 * 2,  # idempotency 2 + TransactWriteItems(update stock, put record)
    "payment_consumer": 2 + 1,
    "shipping_consumer": 2 + 1,
    "audit_consumer": 1,
    "payment_ledger": 1,
}
MILLION = 1_000_000


def price(key: str) -> float:
    """The price table's figure for `key` (KeyError names the missing key)."""
    return PRICE_TABLE["prices"][key]["usd"]


def ec2_hourly(instance_type: str) -> float:
    return price(f"ec2.{instance_type}")


@dataclass(frozen=True)
class Line:
    """One line item: what, how many, and what it costs a month (or per million messages)."""

    what: str
    quantity: str
    usd: float


# --- idle ------------------------------------------------------------------------------------------


def idle_lines(t: StackTemplate) -> list[Line]:
    """What the stack bills in a month with no traffic."""
    lines: list[Line] = []
    lines += _database_lines(t)
    lines += _network_lines(t)
    lines += _fleet_lines(t)
    keys = len(t.of_type("AWS::KMS::Key"))
    if keys:
        lines.append(Line("KMS customer-managed keys", f"{keys}", keys * price("kms.key")))
    secrets = len(t.of_type("AWS::SecretsManager::Secret")) + sum(
        1
        for r in t.of_type("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
        if r.properties.get("ManageMasterUserPassword") in (True, "true")
    )
    if secrets:
        lines.append(
            Line("Secrets Manager secrets", f"{secrets}", secrets * price("secretsmanager.secret"))
        )
    metrics = alarm_metrics(t)
    if metrics:
        alarms = len(t.of_type("AWS::CloudWatch::Alarm"))
        lines.append(
            Line(
                "CloudWatch alarms",
                f"{alarms} alarms, {metrics} metrics",
                metrics * price("cloudwatch.alarm_metric"),
            )
        )
    composites = len(t.of_type("AWS::CloudWatch::CompositeAlarm"))
    if composites:
        lines.append(
            Line(
                "CloudWatch composite alarms",
                f"{composites}",
                composites * price("cloudwatch.composite_alarm"),
            )
        )
    dashboards = len(t.of_type("AWS::CloudWatch::Dashboard"))
    if dashboards:
        lines.append(
            Line(
                "CloudWatch dashboards",
                f"{dashboards}",
                dashboards * price("cloudwatch.dashboard"),
            )
        )
    for acl in t.of_type("AWS::WAFv2::WebACL"):
        rules = len(acl.properties.get("Rules", []))
        lines.append(
            Line(
                "WAF web ACL and its rules",
                f"1 ACL, {rules} rules",
                price("waf.web_acl") + rules * price("waf.rule"),
            )
        )
    lines += _polling_lines(t)
    lines += _schedule_lines(t)
    return [line for line in lines if line.usd > 0 or "paused" in line.what]


def alarm_metrics(t: StackTemplate) -> int:
    """Billed alarm metrics: one per single-metric alarm, one per metric in a metric-math alarm."""
    total = 0
    for alarm in t.of_type("AWS::CloudWatch::Alarm"):
        queries = alarm.properties.get("Metrics")
        total += sum(1 for q in queries if "MetricStat" in q) if queries else 1
    return total


def _database_lines(t: StackTemplate) -> list[Line]:
    lines = []
    for db in t.of_type("AWS::RDS::DBInstance"):
        p = db.properties
        if "DBClusterIdentifier" in p:
            continue
        copies = price("rds.multi_az_factor") if p.get("MultiAZ") in (True, "true") else 1
        az = "Multi-AZ" if copies > 1 else "Single-AZ"
        klass = p["DBInstanceClass"]
        engine = p["Engine"]
        lines.append(
            Line(
                f"RDS {engine} {klass}, {az}",
                f"{HOURS * copies:,.0f} instance-hours",
                HOURS * copies * price(f"rds.{engine}.{klass}"),
            )
        )
        storage = int(t.resolve(p.get("AllocatedStorage", 0)))
        lines.append(
            Line(
                f"RDS {p.get('StorageType', 'gp2')} storage, {az}",
                f"{storage * copies:,.0f} GB-months",
                storage * copies * price("rds.gp3_storage"),
            )
        )
        interval = int(p.get("MonitoringInterval", 0) or 0)
        if interval:
            gb = SECONDS / interval * ENHANCED_MONITORING_RECORD_KB / 1024**2
            lines.append(
                Line(
                    f"RDS Enhanced Monitoring logs, every {interval} s",
                    f"{gb:.2f} GB",
                    gb * (price("logs.ingestion") + price("logs.storage")),
                )
            )
    for cluster in t.of_type("AWS::RDS::DBCluster"):
        p = cluster.properties
        instances = [
            i
            for i in t.of_type("AWS::RDS::DBInstance")
            if cluster.logical_id in t.referenced_ids(i.properties.get("DBClusterIdentifier"))
        ]
        scaling = p.get("ServerlessV2ScalingConfiguration", {})
        minimum = float(scaling.get("MinCapacity", 0))
        if minimum == 0:
            lines.append(
                Line(
                    f"Aurora Serverless v2, {len(instances)} instance(s) paused at 0 ACUs",
                    "0 ACU-hours",
                    0.0,
                )
            )
        else:
            acu_hours = minimum * len(instances) * HOURS
            lines.append(
                Line(
                    f"Aurora Serverless v2, {len(instances)} instance(s) at their minimum "
                    f"{minimum:g} ACUs",
                    f"{acu_hours:,.0f} ACU-hours",
                    acu_hours * price("aurora.serverless_v2_acu"),
                )
            )
        lines.append(
            Line(
                "Aurora storage (data stored; assumed)",
                f"{AURORA_IDLE_STORAGE_GB} GB-month",
                AURORA_IDLE_STORAGE_GB * price("aurora.storage"),
            )
        )
    return lines


def _network_lines(t: StackTemplate) -> list[Line]:
    lines = []
    nats = len(t.of_type("AWS::EC2::NatGateway"))
    if nats:
        lines.append(
            Line(
                "NAT gateways",
                f"{nats * HOURS:,} gateway-hours",
                nats * HOURS * price("vpc.nat_gateway"),
            )
        )
    addresses = len(t.of_type("AWS::EC2::EIP"))
    if addresses:
        lines.append(
            Line(
                "public IPv4 addresses (the NAT gateways' Elastic IPs)",
                f"{addresses}",
                addresses * HOURS * price("vpc.public_ipv4"),
            )
        )
    endpoint_azs = sum(
        len(e.properties.get("SubnetIds", []))
        for e in t.of_type("AWS::EC2::VPCEndpoint")
        if e.properties.get("VpcEndpointType") == "Interface"
    )
    if endpoint_azs:
        lines.append(
            Line(
                "interface VPC endpoints",
                f"{endpoint_azs} endpoint-AZs",
                endpoint_azs * HOURS * price("vpc.interface_endpoint"),
            )
        )
    if t.of_type("AWS::EC2::FlowLog"):
        lines.append(
            Line(
                "VPC flow logs at rest (assumed)",
                f"{IDLE_FLOW_LOG_GB} GB",
                IDLE_FLOW_LOG_GB * (price("logs.ingestion") + price("logs.storage")),
            )
        )
    return lines


def _fleet_lines(t: StackTemplate) -> list[Line]:
    """Worker instances an empty queue still keeps (the group's minimum)."""
    lines = []
    for group in t.of_type("AWS::AutoScaling::AutoScalingGroup"):
        minimum = int(t.resolve(group.properties.get("MinSize", 0)))
        if not minimum:
            continue
        instance_type, public = launch_template_of(t, group)
        lines.append(
            Line(
                f"worker instances kept running ({instance_type})",
                f"{minimum}",
                minimum * HOURS * ec2_hourly(instance_type),
            )
        )
        if public:
            lines.append(
                Line(
                    "their public IPv4 addresses",
                    f"{minimum}",
                    minimum * HOURS * price("vpc.public_ipv4"),
                )
            )
    return lines


def launch_template_of(t: StackTemplate, group: Resource) -> tuple[str, bool]:
    """(instance type, whether instances get a public IPv4 address) of a group's template."""
    spec = group.properties["LaunchTemplate"]
    template = t.resources[t.referenced_ids(spec).pop()]
    data = template.properties["LaunchTemplateData"]
    public = any(
        n.get("AssociatePublicIpAddress") in (True, "true")
        for n in data.get("NetworkInterfaces", [])
    )
    return data["InstanceType"], public


def event_source_mappings(t: StackTemplate) -> list[tuple[Resource, Resource, Resource]]:
    """(mapping, queue, function) for every SQS event source mapping."""
    found = []
    for mapping in t.of_type("AWS::Lambda::EventSourceMapping"):
        queue = t.resource_named(mapping.properties["EventSourceArn"])
        function = t.resource_named(mapping.properties["FunctionName"])
        if queue is not None and queue.type == "AWS::SQS::Queue":
            found.append((mapping, queue, function))
    return found


def _is_fifo(resource: Resource) -> bool:
    return resource.properties.get("FifoQueue", resource.properties.get("FifoTopic")) in (
        True,
        "true",
    )


def _polling_lines(t: StackTemplate) -> list[Line]:
    lines = []
    for mapping, queue, _ in event_source_mappings(t):
        if mapping.properties.get("Enabled") in (False, "false"):
            continue
        capped = "MaximumConcurrency" in mapping.properties.get("ScalingConfig", {})
        pollers = ESM_POLLERS_WITH_MAX_CONCURRENCY if capped else ESM_POLLERS_WITHOUT
        requests = pollers * SECONDS / LONG_POLL_SECONDS
        rate = price("sqs.fifo" if _is_fifo(queue) else "sqs.standard")
        lines.append(
            Line(
                f"Lambda polling idle queue {queue.path.removesuffix('/Resource')}",
                f"{pollers} pollers, {requests / MILLION:.2f}M receives",
                requests / MILLION * rate,
            )
        )
    return lines


def _schedule_lines(t: StackTemplate) -> list[Line]:
    """Scheduled invocations: Lambda requests and duration, and the run's empty receive."""
    lines = []
    for rule in t.of_type("AWS::Events::Rule"):
        expression = rule.properties.get("ScheduleExpression", "")
        match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression)
        if not match:
            continue
        minutes = int(match.group(1)) * (60 if match.group(2).startswith("hour") else 1)
        runs = HOURS * 60 / minutes
        for target in rule.properties.get("Targets", []):
            function = t.resource_named(target["Arn"])
            if function is None or function.type != "AWS::Lambda::Function":
                continue
            memory_gb = int(function.properties.get("MemorySize", 128)) / 1024
            seconds = 0.1  # an idle run: one empty receive, nothing written
            usd = runs / MILLION * price("lambda.requests")
            usd += runs * seconds * memory_gb * price("lambda.arm64_gb_second")
            usd += runs / MILLION * price("sqs.standard")
            lines.append(
                Line(
                    f"scheduled runs of {function.path.removesuffix('/Resource')} ({expression})",
                    f"{runs:,.0f} runs",
                    usd,
                )
            )
    return lines


# --- per million messages --------------------------------------------------------------------------


def handler_module(function: Resource) -> str:
    return function.properties.get("Handler", "").split(".", 1)[0]


def consumer_lines(t: StackTemplate, mapping, queue, function, per_message=1.0) -> list[Line]:
    """A Lambda consumer of `per_message` records per message: receives and deletes per batch,
    invocations, GB-seconds, DynamoDB writes and, on a customer-managed queue key, nothing more
    than SQS's data-key reuse allows (negligible)."""
    batch = int(mapping.properties.get("BatchSize", 10))
    module = handler_module(function)
    memory_gb = int(function.properties.get("MemorySize", 128)) / 1024
    sqs_rate = price("sqs.fifo" if _is_fifo(queue) else "sqs.standard")
    name = module.replace("_", " ")
    records = MILLION * per_message
    seconds = records * HANDLER_MS_PER_RECORD.get(module, 50) / 1000
    lines = [
        Line(
            f"{name}: SQS receive + delete, batches of {batch}",
            f"{2 * records / batch / MILLION:.2f}M requests",
            2 * records / batch / MILLION * sqs_rate,
        ),
        Line(
            f"{name}: Lambda invocations",
            f"{records / batch / MILLION:.2f}M",
            records / batch / MILLION * price("lambda.requests"),
        ),
        Line(
            f"{name}: Lambda duration, {HANDLER_MS_PER_RECORD.get(module, 50)} ms a record at "
            f"{int(memory_gb * 1024)} MB",
            f"{seconds * memory_gb:,.0f} GB-s",
            seconds * memory_gb * price("lambda.arm64_gb_second"),
        ),
    ]
    writes = DYNAMODB_WRITES_PER_RECORD.get(module)
    if writes:
        lines.append(
            Line(
                f"{name}: DynamoDB writes",
                f"{writes * records / MILLION:.1f}M WRU",
                writes * records / MILLION * price("dynamodb.write_request"),
            )
        )
    return lines


def _kms_key_of(t: StackTemplate, resource: Resource) -> Resource | None:
    reference = resource.properties.get("KmsMasterKeyId")
    found = t.resource_named(reference) if reference is not None else None
    return found if found is not None and found.type == "AWS::KMS::Key" else None


def per_million(t: StackTemplate) -> list[Line]:
    """What a million messages through this stack's pattern cost, line by line."""
    lines: list[Line] = []
    if t.of_type("AWS::AutoScaling::AutoScalingGroup") and t.of_type("AWS::ApiGateway::RestApi"):
        lines += _write_buffer(t)
    topics = [x for x in t.of_type("AWS::SNS::Topic") if t.of_type("AWS::SNS::Subscription")]
    for topic in topics:
        subscriptions = [
            s
            for s in t.of_type("AWS::SNS::Subscription")
            if topic.logical_id in t.referenced_ids(s.properties["TopicArn"])
        ]
        if not subscriptions:
            continue
        fifo = _is_fifo(topic)
        lines.append(
            Line(
                "SNS publishes" + (" (FIFO)" if fifo else ""),
                "1M",
                price("sns.fifo_publish" if fifo else "sns.standard_publish"),
            )
        )
        if _kms_key_of(t, topic):
            lines.append(
                Line(
                    "KMS requests for the topic's customer-managed key (one a publish, assumed)",
                    "1M",
                    MILLION / 10_000 * price("kms.requests"),
                )
            )
        queues = [t.resource_named(s.properties["Endpoint"]) for s in subscriptions]
        sqs_rate = price("sqs.fifo" if fifo else "sqs.standard")
        lines.append(
            Line(
                f"SQS sends by SNS into {len(queues)} queues (every filter matching: an upper bound)",
                f"{len(queues)}M requests",
                len(queues) * sqs_rate,
            )
        )
    for mapping, queue, function in event_source_mappings(t):
        lines += consumer_lines(t, mapping, queue, function)
    for _ in t.of_type("Custom::S3BucketNotifications"):
        lines += [
            Line("S3 PUT of each upload", "1M", MILLION / 1000 * price("s3.put")),
            Line("S3 event to SQS", "1M requests", price("sqs.standard")),
            Line(
                "processor: S3 GET + PUT of each file",
                "2M",
                MILLION / 1000 * (price("s3.get") + price("s3.put")),
            ),
        ]
    lines += _scheduled_batcher(t)
    return lines


def _write_buffer(t: StackTemplate) -> list[Line]:
    group = t.of_type("AWS::AutoScaling::AutoScalingGroup")[0]
    instance_type, public = launch_template_of(t, group)
    maximum = int(t.resolve(group.properties["MaxSize"]))
    rate = _worker_setting(t, "MAX_WRITES_PER_SECOND", 500)
    drain_seconds = MILLION / (rate * maximum)
    instance_hours = maximum * drain_seconds / 3600
    lines = [
        Line("API Gateway REST requests", "1M", price("apigateway.rest")),
        Line("SQS SendMessage by the API", "1M requests", price("sqs.standard")),
        Line(
            f"worker: SQS receive + delete + heartbeat ({WORKER_SQS_CALLS_PER_MESSAGE} calls a "
            f"message, measured; a naive consumer makes {NAIVE_SQS_CALLS_PER_MESSAGE}: "
            f"${NAIVE_SQS_CALLS_PER_MESSAGE * price('sqs.standard'):.2f})",
            f"{WORKER_SQS_CALLS_PER_MESSAGE:.2f}M requests",
            WORKER_SQS_CALLS_PER_MESSAGE * price("sqs.standard"),
        ),
        Line(
            f"worker instances while writing ({maximum} x {instance_type} at {rate:g} rows/s each)",
            f"{instance_hours:.2f} instance-hours",
            instance_hours * ec2_hourly(instance_type),
        ),
    ]
    if public:
        lines.append(
            Line(
                "their public IPv4 addresses",
                f"{instance_hours:.2f} address-hours",
                instance_hours * price("vpc.public_ipv4"),
            )
        )
    for cluster in t.of_type("AWS::RDS::DBCluster"):
        scaling = cluster.properties.get("ServerlessV2ScalingConfiguration", {})
        acus = float(scaling.get("MaxCapacity", 1))
        acu_hours = acus * drain_seconds / 3600
        lines.append(
            Line(
                f"Aurora capacity while writing (its maximum {acus:g} ACUs; I/O not modelled)",
                f"{acu_hours:.2f} ACU-hours",
                acu_hours * price("aurora.serverless_v2_acu"),
            )
        )
    return lines


def _worker_setting(t: StackTemplate, name: str, default: float) -> float:
    for template in t.of_type("AWS::EC2::LaunchTemplate"):
        text = json.dumps(template.properties)
        match = re.search(rf"{name}=(\d+(?:\.\d+)?)", text)
        if match:
            return float(match.group(1))
    return default


def _scheduled_batcher(t: StackTemplate) -> list[Line]:
    """A scheduled batcher (fan-in): producers send, each run drains up to MAX_MESSAGES."""
    lines = []
    for rule in t.of_type("AWS::Events::Rule"):
        if "ScheduleExpression" not in rule.properties:
            continue
        for target in rule.properties.get("Targets", []):
            function = t.resource_named(target["Arn"])
            if function is None or function.type != "AWS::Lambda::Function":
                continue
            env = function.properties.get("Environment", {}).get("Variables", {})
            per_run = int(env.get("MAX_MESSAGES", 1000))
            memory_gb = int(function.properties.get("MemorySize", 128)) / 1024
            module = handler_module(function)
            seconds = MILLION * HANDLER_MS_PER_RECORD.get(module, 2) / 1000
            runs = MILLION / per_run
            lines += [
                Line("producers: SQS SendMessage", "1M requests", price("sqs.standard")),
                Line(
                    "batcher: SQS receive + delete, batches of 10",
                    "0.20M requests",
                    0.2 * price("sqs.standard"),
                ),
                Line(
                    f"batcher: Lambda duration, {HANDLER_MS_PER_RECORD.get(module, 2)} ms an event",
                    f"{seconds * memory_gb:,.0f} GB-s",
                    seconds * memory_gb * price("lambda.arm64_gb_second"),
                ),
                Line(
                    f"batcher: one object per run of up to {per_run:,} events",
                    f"{runs:,.0f} PUTs",
                    runs / 1000 * price("s3.put"),
                ),
            ]
    return lines


# --- the app -----------------------------------------------------------------------------------------


@dataclass
class StackCosts:
    stack: str
    profile: str
    idle: list[Line]
    per_million: list[Line]

    @property
    def idle_total(self) -> float:
        return sum(line.usd for line in self.idle)

    @property
    def per_million_total(self) -> float:
        return sum(line.usd for line in self.per_million)


FREE_DASHBOARDS = 3  # per account (CloudWatch pricing page)


def model(assembly: Assembly, profile: str) -> list[StackCosts]:
    """Each stack's costs; the account's first three dashboards, in stack order, are free (the
    app is assumed to be the account's only user of them)."""
    costs = [
        StackCosts(stack_id, profile, idle_lines(t), per_million(t))
        for stack_id, t in assembly.stacks.items()
    ]
    free = FREE_DASHBOARDS
    for c in costs:
        for n, line in enumerate(c.idle):
            if line.what == "CloudWatch dashboards":
                count = int(line.quantity)
                covered, free = min(count, free), free - min(count, free)
                c.idle[n] = Line(
                    f"CloudWatch dashboards ({covered} within the account's {FREE_DASHBOARDS} free)"
                    if covered
                    else "CloudWatch dashboards",
                    line.quantity,
                    (count - covered) * price("cloudwatch.dashboard"),
                )
    return costs


def app_total(costs: Sequence[StackCosts]) -> float:
    return sum(c.idle_total for c in costs)


def money(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 0.995 or usd == 0 else f"${usd:.2f}".replace("$0.00", "<$0.01")


def render_idle(by_profile: dict[str, list[StackCosts]]) -> str:
    stacks = [c.stack for c in next(iter(by_profile.values()))]
    rows = [
        "| stack | " + " | ".join(by_profile) + " |",
        "| --- |" + " --- |" * len(by_profile),
    ]
    for stack in stacks:
        cells = [
            money(next(c for c in costs if c.stack == stack).idle_total)
            for costs in by_profile.values()
        ]
        rows.append(f"| {stack} | " + " | ".join(cells) + " |")
    totals = [f"**{money(app_total(costs))}**" for costs in by_profile.values()]
    rows.append("| **whole app** | " + " | ".join(totals) + " |")
    lines = [*rows, ""]
    for profile, costs in by_profile.items():
        lines += [
            f"Line items, {profile}:",
            "",
            "| stack | item | quantity | a month |",
            "| --- | --- | --- | --- |",
        ]
        for c in costs:
            for line in c.idle:
                lines.append(f"| {c.stack} | {line.what} | {line.quantity} | {money(line.usd)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_per_million(by_profile: dict[str, list[StackCosts]]) -> str:
    stacks = [c.stack for c in next(iter(by_profile.values()))]
    rows = [
        "| pattern (stack) | " + " | ".join(by_profile) + " |",
        "| --- |" + " --- |" * len(by_profile),
    ]
    for stack in stacks:
        cells = [
            money(next(c for c in costs if c.stack == stack).per_million_total)
            for costs in by_profile.values()
        ]
        rows.append(f"| {stack} | " + " | ".join(cells) + " |")
    lines = [*rows, "", "Line items, per million messages (sandbox):", ""]
    lines += ["| stack | item | quantity | cost |", "| --- | --- | --- | --- |"]
    for c in next(iter(by_profile.values())):
        for line in c.per_million:
            lines.append(f"| {c.stack} | {line.what} | {line.quantity} | {money(line.usd)} |")
    return "\n".join(lines) + "\n"


def render_database_choice(by_profile: dict[str, list[StackCosts]]) -> str:
    """Production's database: the provisioned Multi-AZ instance the model prices, next to Aurora
    Serverless v2 with a writer and a reader at minimums that never pause."""
    production = next(c for c in by_profile["production"] if c.stack == "WriteBuffer")
    rds = [
        line
        for line in production.idle
        if line.what.startswith("RDS ") and "Monitoring" not in line.what
    ]
    rds_total = sum(line.usd for line in rds)
    acu = price("aurora.serverless_v2_acu")
    STORED_GB = 100  # noqa: N806 (the production instance's 100 GB, as Aurora would store it)
    rows = [
        "| production write-buffer database | a month at rest | a month writing flat out |",
        "| --- | --- | --- |",
        f"| RDS PostgreSQL db.m7g.large, Multi-AZ, 100 GB gp3 (this stack) | {money(rds_total)} "
        f"| {money(rds_total)} |",
    ]
    for minimum in (0.5, 1, 2):
        idle = 2 * minimum * HOURS * acu
        busy = 2 * 4 * HOURS * acu  # 4 ACUs: the m7g.large's 8 GiB
        rows.append(
            f"| Aurora Serverless v2, writer + reader, {minimum:g} ACU minimum (never pauses), "
            f"4 ACUs when busy | {money(idle + STORED_GB * price('aurora.storage'))} "
            f"| {money(busy + STORED_GB * price('aurora.storage'))} + I/O |"
        )
    instance_hourly = rds[0].usd / HOURS
    break_even = instance_hourly / (2 * acu)
    rows += [
        "",
        f"Aurora Serverless v2 (100 GB stored, at {money(price('aurora.storage'))}/GB-month, "
        f"storage I/O billed per request besides) is cheaper only while the two instances "
        f"average under {break_even:.1f} ACUs each ({2 * break_even:.1f} GiB of memory): "
        f"${instance_hourly:.3f} an hour for the Multi-AZ pair against "
        f"${2 * acu:.2f} per ACU across writer and reader.",
    ]
    return "\n".join(rows) + "\n"


def render(by_profile: dict[str, list[StackCosts]]) -> dict[str, str]:
    """The README blocks: {marker name: markdown}."""
    stamp = (
        f"Priced from [tools/prices.json](tools/prices.json): {PRICE_TABLE['region']} "
        f"On-Demand list prices as of {PRICE_TABLE['as_of']}, {HOURS} hours a month, free tiers "
        "left out but for the account's first three dashboards.\n\n"
    )
    return {
        "idle": stamp + render_idle(by_profile),
        "per-million": stamp + render_per_million(by_profile),
        "database-choice": stamp + render_database_choice(by_profile),
    }


BLOCK = re.compile(r"<!-- costs:([\w-]+) -->\n.*?<!-- /costs:\1 -->", re.DOTALL)


def rewrite(text: str, blocks: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        return f"<!-- costs:{name} -->\n{blocks[name]}<!-- /costs:{name} -->"

    return BLOCK.sub(replace, text)


def by_profile_from(assemblies: dict[str, Assembly]) -> dict[str, list[StackCosts]]:
    return {profile: model(assembly, profile) for profile, assembly in assemblies.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="MARKDOWN", help="rewrite the cost blocks in this file")
    parser.add_argument("--check", metavar="MARKDOWN", help="fail if the blocks are stale")
    parser.add_argument(
        "--cdk-out", metavar="DIR", help="read <DIR>/<profile> instead of synthesizing"
    )
    options = parser.parse_args(argv)
    assemblies = {
        profile: Assembly.from_directory(Path(options.cdk_out) / profile)
        if options.cdk_out
        else synthesize(profile)
        for profile in PROFILES
    }
    blocks = render(by_profile_from(assemblies))
    if options.write or options.check:
        path = Path(options.write or options.check)
        text = path.read_text()
        new = rewrite(text, blocks)
        if options.check:
            if new != text:
                print(
                    f"{path}: the cost tables are stale; run python -m tools.costs --write {path}"
                )
                return 1
            return 0
        path.write_text(new)
        print(f"wrote the cost tables in {path}")
        return 0
    print("Idle cost a month\n")
    print(blocks["idle"])
    print("Per million messages\n")
    print(blocks["per-million"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
