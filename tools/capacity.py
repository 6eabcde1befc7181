"""Capacity planner: for a target load, which limit binds first in each pattern, read from the templates.

A reviewer asks "what happens at 10x and 100x this load?". This answers from what `cdk synth`
wrote (through tools/template_reader.py, and the data path tools/diagrams.py reads from it):
for every stack it walks each chain from producer to sink (API or topic or producer policy or
bucket, queue, consumer, the tables, buckets and database the consumer writes) and gives every
link a ceiling in messages a second, from the template's settings (API stage throttling, topic
and queue type, event source batch size and maximum concurrency, reserved concurrency, the
worker fleet's maximum size and MAX_WRITES_PER_SECOND, the database's connection limit against
the fleet's pools, table billing mode) combined with the AWS quotas in tools/aws_facts.py. At a
target rate it prints each link's ceiling, the first to bind, the headroom, the time to reach
the needed capacity from idle (the EC2 fleet through tools/scaling_sim.py; Lambda's documented
scale-up a minute; DynamoDB on-demand doubling), the time to drain a burst, and what to change.

    python -m tools.capacity --rate 2000/s                   # every stack, production profile
    python -m tools.capacity --rate 10000/s --size 4KB --burst 100000 --profile sandbox
    python -m tools.capacity --readme                        # rewrite README's Capacity table
    python -m tools.capacity --check                         # exit 1 if that table is stale

Chains are found from the template, not from a list of stacks: a new stack's topics, queues,
event source mappings, fleets, APIs and stores are planned when it lands; a resource type the
planner does not model shows as a link with no ceiling. What the templates and AWS's pages do not
say (handler durations, a receive loop's pace, instance boot time) is an `Assumptions` field,
printed with every plan; docs/capacity.md lists them with their reasons.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import scaling_sim
from tools.aws_facts import fact
from tools.diagrams import DataPath
from tools.template_reader import ROOT, Resource, StackTemplate

README = ROOT / "README.md"
DOCS = ROOT / "docs" / "capacity.md"
PROFILES = ("sandbox", "production")
README_RATES = (100, 1_000, 10_000)
BLOCK = re.compile(r"(<!-- capacity -->\n).*?(<!-- /capacity -->)", re.DOTALL)
# A whole plan embedded in a page: <!-- capacity:production:1000 --> ... <!-- /capacity:... -->
REPORT_BLOCK = re.compile(
    r"(<!-- capacity:(\w+):(\d+) -->\n).*?(<!-- /capacity:\2:\3 -->)", re.DOTALL
)
DOCS_BURST = 100_000
KB = 1024
MINUTE = 60
HORIZON = 24 * 3600  # drains and ramps longer than a day are "more than a day"


def _quota(key: str) -> float:
    value = fact(key).maximum
    if value is None:
        raise ValueError(f"tools/aws_facts.py: {key} has no figure")
    return value


# The quotas, from the facts table (each row has its AWS page and the day it was checked).
SQS_IN_FLIGHT = _quota("sqs.standard_in_flight")
SQS_FIFO_IN_FLIGHT = _quota("sqs.fifo_in_flight")
SQS_FIFO_CALLS = _quota("sqs.fifo_throughput")
SQS_FIFO_HIGH_THROUGHPUT_CALLS = _quota("sqs.fifo_high_throughput")
SQS_BATCH = int(_quota("sqs.batch_entries"))
SQS_MAX_BYTES = _quota("sqs.message_size")
SNS_MAX_BYTES = _quota("sns.message_size")
SNS_FIFO_TOPIC = _quota("sns.fifo_topic_throughput")
LAMBDA_ACCOUNT_CONCURRENCY = _quota("lambda.concurrent_executions")
LAMBDA_SQS_START = _quota("lambda.sqs_initial_batches")
LAMBDA_SQS_PER_MINUTE = _quota("lambda.sqs_scale_up_per_minute")
LAMBDA_SQS_MAX_BATCHES = _quota("lambda.sqs_max_batches")
LAMBDA_BATCH_BYTES = _quota("lambda.sync_payload")
APIGW_ACCOUNT_RATE = _quota("apigateway.account_throttle")
APIGW_ACCOUNT_BURST = _quota("apigateway.account_burst")
DDB_NEW_TABLE_WRITES = _quota("dynamodb.on_demand_initial_writes")
DDB_NEW_TABLE_READS = _quota("dynamodb.on_demand_initial_reads")
DDB_TABLE_QUOTA = _quota("dynamodb.table_throughput")
DDB_WRITE_UNIT = _quota("dynamodb.request_unit_sizes")  # bytes a write unit covers
DDB_READ_UNIT = 4 * DDB_WRITE_UNIT  # 4 KB a read unit (same row)
S3_PUTS = _quota("s3.prefix_put_rate")
S3_GETS = _quota("s3.prefix_get_rate")
DDB_DOUBLING = (
    30 * MINUTE
)  # on-demand: more than double the previous peak within 30 min may throttle

DYNAMODB_WRITES = {"PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"}
DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}
S3_WRITES = {"PutObject"}
S3_READS = {"GetObject"}


# -- what the templates and AWS's pages do not say ------------------------------------------------


@dataclass(frozen=True)
class Assumptions:
    """Figures no template holds and AWS does not document; every plan prints them.

    dynamodb_call_s: one DynamoDB request from a handler. AWS documents "single-digit
        millisecond" latency for on-demand tables
        (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html);
        10 ms is its upper end.
    s3_call_s: one S3 GetObject or PutObject of a small object from a handler (assumption).
    invoke_overhead_s: per batch, beyond the records' calls: the batch processor, the response
        (assumption).
    handler_s: a measured duration per record for every function, instead of the call count.
    receive_rate: messages a second one sequential ReceiveMessage/DeleteMessageBatch loop moves,
        10 a call (a scheduled consumer's pace; assumption: measure one run).
    message_groups: active FIFO message groups; None: at least as many as the consumer may run
        at once.
    timing: instance boot and metric timing, tools/scaling_sim.py's assumptions.
    """

    dynamodb_call_s: float = 0.010
    s3_call_s: float = 0.100
    invoke_overhead_s: float = 0.010
    handler_s: float | None = None
    receive_rate: float = 250.0
    message_groups: int | None = None
    timing: scaling_sim.Timing = scaling_sim.Timing()

    def describe(self) -> str:
        per_record = (
            f"{self.handler_s * 1000:g} ms a record (measured)"
            if self.handler_s is not None
            else f"a record costs one call per data action its role is granted: "
            f"{self.dynamodb_call_s * 1000:g} ms a DynamoDB call, {self.s3_call_s * 1000:g} ms "
            "an S3 call"
        )
        return (
            f"Lambda: {per_record}, +{self.invoke_overhead_s * 1000:g} ms a batch; scheduled "
            f"consumers receive {self.receive_rate:g} messages/s; EC2: "
            f"{self.timing.describe()}; every subscription receives every message (filters "
            "ignored); figures for us-east-1"
        )


# -- links, chains, plans -------------------------------------------------------------------------


@dataclass
class Link:
    """One link of a chain: its ceiling in messages a second into the pattern, and how."""

    node: str
    label: str
    kind: str
    ceiling: float | None  # None: no ceiling modelled (clients, or a type the planner skips)
    basis: str = ""
    fix: str = ""
    facts: tuple[str, ...] = ()
    # Seconds from idle until the link carries `rate`; None: not modelled.
    ramp: Callable[[float], float | None] | None = field(default=None, repr=False)
    # Seconds until `burst` waiting messages are gone while `rate` keeps arriving (consumers
    # only), the consumer's writes capped at `limit` messages a second; None: never.
    drain: Callable[[float, float, float], float | None] | None = field(default=None, repr=False)

    def headroom(self, rate: float) -> float | None:
        return None if self.ceiling is None else self.ceiling / rate


@dataclass
class Chain:
    """Producer to sink: the links a message crosses, the queue it waits in, its consumer."""

    links: list[Link]
    queue: Link
    consumer: Link

    def upstream_limit(self) -> float:
        """What the links before the queue let through: the most that can arrive in it."""
        before = self.links[: self.links.index(self.queue)]
        return min((x.ceiling for x in before if x.ceiling is not None), default=math.inf)

    def downstream_limit(self) -> float:
        after = self.links[self.links.index(self.consumer) + 1 :]
        return min((x.ceiling for x in after if x.ceiling is not None), default=math.inf)

    def ceiling(self) -> float:
        return min((x.ceiling for x in self.links if x.ceiling is not None), default=math.inf)

    def path(self) -> str:
        return " → ".join(x.label for x in self.links)


@dataclass
class Verdict:
    """A plan at one target: the binding link and what it means."""

    rate: float
    burst: float
    binding: Link | None
    tied: list[Link]  # every link at the binding ceiling, the binding one first
    then: Link | None
    ramp: float | None  # seconds from idle to the capacity the target needs (or the ceiling)
    drain: float | None  # seconds to drain the burst; None: never (the target exceeds a ceiling)

    @property
    def binds(self) -> bool:
        return self.binding is not None and self.binding.ceiling < self.rate

    @property
    def headroom(self) -> float | None:
        return None if self.binding is None else self.binding.headroom(self.rate)

    @property
    def names(self) -> str:
        """The binding link, or the links tied at its ceiling: `Frontend / Api = Workers / Group`."""
        return " = ".join(x.label for x in self.tied)


@dataclass
class StackPlan:
    """Every chain of one stack, with its links' ceilings."""

    stack_id: str
    profile: str
    chains: list[Chain]
    notes: list[str] = field(default_factory=list)

    @property
    def links(self) -> list[Link]:
        seen: dict[str, Link] = {}
        for chain in self.chains:
            for link in chain.links:
                seen.setdefault(link.node, link)
        return list(seen.values())

    def ranked(self) -> list[Link]:
        """Links with a ceiling, lowest first (ties keep their order along the chains)."""
        return sorted((x for x in self.links if x.ceiling is not None), key=lambda x: x.ceiling)

    def at(self, rate: float, burst: float = 0) -> Verdict:
        ranked = self.ranked()
        binding = ranked[0] if ranked else None
        tied = [x for x in ranked if x.ceiling == binding.ceiling] if binding else []
        then = next((x for x in ranked if x.ceiling > binding.ceiling), None) if binding else None
        # The pattern keeps up with at most its lowest ceiling: every link scales to that rate
        # (a store written by several consumers is planned at one rate for all of them).
        carried = min([rate] + [chain.ceiling() for chain in self.chains])
        ramps = [x.ramp(carried) for x in self.links if x.ramp is not None]
        ramp = None if any(r is None for r in ramps) else max(ramps, default=0.0)
        drains = []
        for chain in self.chains:
            arriving = min(rate, chain.upstream_limit())
            limit = min(chain.downstream_limit(), chain.queue.ceiling or math.inf)
            if arriving >= min(limit, chain.consumer.ceiling or math.inf):
                drains.append(None)
            elif burst <= 0 or chain.consumer.drain is None:
                drains.append(0.0)
            else:
                drains.append(chain.consumer.drain(burst, arriving, limit))
        drain = None if any(d is None for d in drains) else max(drains, default=0.0)
        return Verdict(rate, burst, binding, tied, then, ramp, drain)


# -- reading a stack ------------------------------------------------------------------------------


@dataclass
class _Demand:
    """Requests each input message causes on one store, summed over the consumers."""

    writes: float = 0.0  # DynamoDB write units or S3 PUTs
    reads: float = 0.0  # DynamoDB read units or S3 GETs
    writers: list[str] = field(default_factory=list)


def plan_stack(
    template: StackTemplate,
    *,
    profile: str = "",
    size: int = KB,
    assumptions: Assumptions = Assumptions(),
) -> StackPlan:
    """Every chain of `template` from producer to sink, each link with its ceiling."""
    return _Planner(template, profile, size, assumptions).plan()


def plan_assembly(assembly, **options) -> list[StackPlan]:
    return [plan_stack(t, **options) for t in assembly.stacks.values()]


class _Planner:
    def __init__(self, template: StackTemplate, profile: str, size: int, a: Assumptions):
        self.t = template
        self.profile = profile
        self.size = size
        self.a = a
        self.path = DataPath.of(template)
        self.edges = [e for e in self.path.edges if not e.dotted]
        self.links: dict[str, Link] = {}
        self.notes: list[str] = []
        self.demand: dict[str, _Demand] = {}
        self.fleets: dict[str, dict[str, Any]] = {}  # workers node -> what the DB link needs
        self.hold_seconds: dict[str, float] = {}  # queue -> seconds its consumer holds a message
        self.in_flight: dict[str, float] = {}  # queue -> messages its consumer holds at most

    # -- the graph ---------------------------------------------------------------------------

    def shape(self, node: str) -> str:
        return self.path.nodes[node].shape

    def resource(self, node: str) -> Resource | None:
        return self.t.resources.get(node)

    def label(self, node: str) -> str:
        return self.path.nodes[node].label.split("<br/>")[0]

    def _is_schedule(self, node: str) -> bool:
        r = self.resource(node)
        return (
            r is not None
            and r.type == "AWS::Events::Rule"
            and "ScheduleExpression" in (r.properties)
        )

    def consumers(self) -> list[tuple[str, str]]:
        """(queue, consumer) for every consumer fed by a queue."""
        return [
            (e.src, e.dst)
            for e in self.edges
            if self.shape(e.src) == "queue" and self.shape(e.dst) in ("function", "workers")
        ]

    def upstream(self, node: str, seen: frozenset = frozenset()) -> list[list[str]]:
        """Every path from a source to `node` over edges that carry messages."""
        feeding = [
            e.src
            for e in self.edges
            if e.dst == node
            and e.src not in seen
            and self.shape(e.src) in ("api", "topic", "queue", "outside", "store")
            and not self._is_schedule(e.src)
        ]
        if not feeding:
            return [[node]]
        return [[*path, node] for src in feeding for path in self.upstream(src, seen | {node})]

    def store_edges(self, consumer: str) -> list[tuple[str, str, list[str]]]:
        """(store, "write" or "read", verbs) for every store the consumer writes or reads."""
        found = []
        for e in self.edges:
            if e.src == consumer and self.shape(e.dst) == "store":
                found.append((e.dst, "write", _verbs(e.label)))
            elif e.dst == consumer and self.shape(e.src) == "store":
                found.append((e.src, "read", _verbs(e.label)))
        return found

    # -- the plan ----------------------------------------------------------------------------

    def plan(self) -> StackPlan:
        pairs = self.consumers()
        consumer_links = {c: self.consumer_link(q, c) for q, c in pairs}
        chains = []
        for queue, consumer in pairs:
            sinks = [store for store, _, _ in self.store_edges(consumer)]
            for path in self.upstream(queue):
                chains.append((path, queue, consumer, sinks))
        # Sources first: a bucket that is both a source and read by its consumer is one link.
        for path, *_ in chains:
            if self.shape(path[0]) == "store":
                self.source_demand(path[0], path[1])
        stores = {s for _, _, _, sinks in chains for s in sinks} | {
            p[0] for p, *_ in chains if self.shape(p[0]) == "store"
        }
        for store in stores:
            self.links[store] = self.store_link(store)
        planned = []
        for path, queue, consumer, sinks in chains:
            nodes = [*path, consumer, *(s for s in sinks if s not in path)]
            links = [
                consumer_links[n] if n == consumer else self.links.get(n) or self.node_link(n)
                for n in nodes
            ]
            self.links.update({x.node: x for x in links})
            planned.append(Chain(links, self.links[queue], consumer_links[consumer]))
        self.account_concurrency(consumer_links.values())
        return StackPlan(self.t.stack_id, self.profile, planned, self.notes)

    def node_link(self, node: str) -> Link:
        shape = self.shape(node)
        if shape == "outside":
            return Link(node, self.label(node), "producers", None, "no quota on the sender side")
        if shape == "api":
            return self.api_link(node)
        if shape == "topic":
            return self.topic_link(node)
        if shape == "queue":
            return self.queue_link(node)
        r = self.resource(node)
        return Link(
            node,
            self.label(node),
            r.type if r else shape,
            None,
            "not modelled by tools/capacity.py",
        )

    # -- API Gateway -------------------------------------------------------------------------

    def api_link(self, node: str) -> Link:
        stages = [
            s
            for s in self.t.of_type("AWS::ApiGateway::Stage")
            if node in self.t.referenced_ids(s.properties.get("RestApiId"))
        ]
        rate, burst, where = APIGW_ACCOUNT_RATE, APIGW_ACCOUNT_BURST, "account"
        for stage in stages:
            for setting in stage.properties.get("MethodSettings", []):
                limit = setting.get("ThrottlingRateLimit")
                if limit is not None and float(limit) < rate:
                    rate = float(limit)
                    burst = float(setting.get("ThrottlingBurstLimit", burst))
                    where = f"stage {stage.properties.get('StageName', '')}".strip()
        basis = (
            f"{where} throttle {rate:,.0f} requests/s (burst {burst:,.0f}); account "
            f"{APIGW_ACCOUNT_RATE:,.0f}/s, burst {APIGW_ACCOUNT_BURST:,.0f} (us-east-1)"
        )
        if where == "account":
            fix = (
                "request an increase of the API Gateway account throttle (adjustable, per "
                "Region; shared by every API of the account)"
            )
        else:
            fix = (
                f"raise the stage throttle (RestApiToQueue.throttle_rate_limit) up to the "
                f"account's {APIGW_ACCOUNT_RATE:,.0f}/s, then request an account increase"
            )
        return Link(
            node,
            self.label(node),
            "API Gateway",
            rate,
            basis,
            fix,
            (
                "apigateway.stage_throttle",
                "apigateway.account_throttle",
                "apigateway.account_burst",
            ),
        )

    def too_large(self, node: str, kind: str, limit: float, key: str) -> Link:
        """A message bigger than the service takes: nothing gets through."""
        return Link(
            node,
            self.label(node),
            kind,
            0.0,
            f"a {self.size:,}-byte message is over the {limit:,.0f} bytes it takes",
            "send a claim check instead: the body in S3, its key in the message",
            (key,),
        )

    # -- SNS ---------------------------------------------------------------------------------

    def topic_link(self, node: str) -> Link:
        p = self.resource(node).properties
        if self.size > SNS_MAX_BYTES:
            return self.too_large(node, "SNS topic", SNS_MAX_BYTES, "sns.message_size")
        if p.get("FifoTopic") in (True, "true"):
            scope = p.get("FifoThroughputScope", "Topic")
            if scope == "MessageGroup":
                return Link(
                    node,
                    self.label(node),
                    "SNS FIFO topic",
                    None,
                    "message-group scope: the Region's limits (not a per-topic figure)",
                    facts=("sns.fifo_topic_throughput",),
                )
            return Link(
                node,
                self.label(node),
                "SNS FIFO topic",
                SNS_FIFO_TOPIC,
                f"topic-scoped deduplication: {SNS_FIFO_TOPIC:,.0f} messages/s, 20 MB/s",
                "FifoThroughputScope MessageGroup (deduplication per message group) for the "
                "Region's limits",
                ("sns.fifo_topic_throughput",),
            )
        return Link(
            node,
            self.label(node),
            "SNS topic",
            None,
            "Publish: a per-Region quota that differs by Region (no figure read); check "
            "Service Quotas",
            "request an increase of the Publish quota (adjustable)",
            ("sns.publish_standard",),
        )

    # -- SQS ---------------------------------------------------------------------------------

    def queue_link(self, node: str) -> Link:
        p = self.resource(node).properties
        hold = self.hold_seconds.get(node, 0.0)
        if self.size > SQS_MAX_BYTES:
            return self.too_large(node, "SQS queue", SQS_MAX_BYTES, "sqs.message_size")
        if p.get("FifoQueue") in (True, "true"):
            high = (
                p.get("FifoThroughputLimit") == "perMessageGroupId"
                and p.get("DeduplicationScope") == "messageGroup"
            )
            calls = SQS_FIFO_HIGH_THROUGHPUT_CALLS if high else SQS_FIFO_CALLS
            fed_by_sns = any(e.dst == node and self.shape(e.src) == "topic" for e in self.edges)
            in_flight = SQS_FIFO_IN_FLIGHT / hold if hold else math.inf
            ceiling = min(calls, in_flight)
            sender = (
                "SNS delivers one message a call (assumption: AWS documents no batching)"
                if fed_by_sns
                else "producers send one message a call (with SendMessageBatch: x10)"
            )
            basis = (
                f"{'high throughput: ' if high else ''}{calls:,.0f} SendMessage calls/s"
                f"{' (us-east-1)' if high else ''}; {sender}"
            )
            if in_flight < calls:
                basis += f"; {SQS_FIFO_IN_FLIGHT:,.0f} in flight ÷ {hold:.2g} s held each"
            fix = (
                "high throughput mode (FifoThroughputLimit perMessageGroupId, "
                f"DeduplicationScope messageGroup: {SQS_FIFO_HIGH_THROUGHPUT_CALLS:,.0f} calls/s "
                "in us-east-1) and many message groups"
                if not high
                else "more message groups, batches of 10, or shard groups across queues"
            )
            if not fed_by_sns and not high:
                fix = f"send in batches of {SQS_BATCH} (x{SQS_BATCH}), or " + fix
            return Link(
                node,
                self.label(node),
                "SQS FIFO queue",
                ceiling,
                basis,
                fix,
                ("sqs.fifo_throughput", "sqs.fifo_high_throughput", "sqs.fifo_in_flight"),
            )
        held = self.in_flight.get(node)
        if held is not None:
            over = held > SQS_IN_FLIGHT
            return Link(
                node,
                self.label(node),
                "SQS queue",
                SQS_IN_FLIGHT / held * self.ceiling_of_consumer(node) if over else None,
                f"its consumer holds at most {held:,.0f} at once, of about "
                f"{SQS_IN_FLIGHT:,.0f} in flight; calls/s nearly unlimited",
                "receive fewer a run than the in-flight quota",
                ("sqs.standard_in_flight", "sqs.standard_throughput"),
            )
        if not hold:
            return Link(
                node,
                self.label(node),
                "SQS queue",
                None,
                "nearly unlimited calls/s",
                facts=("sqs.standard_throughput",),
            )
        return Link(
            node,
            self.label(node),
            "SQS queue",
            SQS_IN_FLIGHT / hold,
            f"about {SQS_IN_FLIGHT:,.0f} in flight ÷ {hold:.2g} s each is held; calls/s "
            "nearly unlimited",
            "hold messages for less time, or shard across queues (in-flight is per queue)",
            ("sqs.standard_in_flight", "sqs.standard_throughput"),
        )

    # -- consumers ---------------------------------------------------------------------------

    def ceiling_of_consumer(self, queue: str) -> float:
        link = next((x for x in self.links.values() if x.node in self.consumers_of(queue)), None)
        return link.ceiling if link is not None and link.ceiling is not None else 0.0

    def consumers_of(self, queue: str) -> set[str]:
        return {c for q, c in self.consumers() if q == queue}

    def consumer_link(self, queue: str, consumer: str) -> Link:
        if self.shape(consumer) == "workers":
            return self.fleet_link(queue, consumer)
        mappings = [
            m
            for m in self.t.of_type("AWS::Lambda::EventSourceMapping")
            if consumer in self.t.referenced_ids(m.properties["FunctionName"])
            and queue in self.t.referenced_ids(m.properties["EventSourceArn"])
        ]
        if mappings:
            return self.lambda_link(queue, consumer, mappings[0])
        return self.scheduled_link(queue, consumer)

    def record_seconds(self, consumer: str) -> tuple[float, str]:
        """A record's handling time: measured (handler_s) or one call per granted action."""
        if self.a.handler_s is not None:
            return self.a.handler_s, f"{self.a.handler_s * 1000:g} ms a record (measured)"
        calls = {"DynamoDB": 0, "S3": 0}
        for store, _, verbs in self.store_edges(consumer):
            service = _service(self.resource(store))
            if service == "DynamoDB":
                calls["DynamoDB"] += sum(v in DYNAMODB_WRITES | DYNAMODB_READS for v in verbs)
            elif service == "S3":
                calls["S3"] += sum(v in S3_WRITES | S3_READS for v in verbs)
        seconds = calls["DynamoDB"] * self.a.dynamodb_call_s + calls["S3"] * self.a.s3_call_s
        shown = " + ".join(f"{n} {s}" for s, n in calls.items() if n) or "no data calls"
        if not seconds:
            seconds = self.a.dynamodb_call_s
        return seconds, f"{seconds * 1000:g} ms a record: {shown} calls"

    def lambda_link(self, queue: str, consumer: str, mapping: Resource) -> Link:
        m = mapping.properties
        f = self.resource(consumer).properties
        fifo = self.resource(queue).properties.get("FifoQueue") in (True, "true")
        batch = int(m.get("BatchSize", 10))
        window = float(m.get("MaximumBatchingWindowInSeconds", 0))
        maximum = m.get("ScalingConfig", {}).get("MaximumConcurrency")
        reserved = f.get("ReservedConcurrentExecutions")
        fitting = max(1, int(LAMBDA_BATCH_BYTES // max(self.size, 1)))
        effective = min(batch, fitting)
        if effective < batch:
            self.notes.append(
                f"{self.label(consumer)}: {batch} records of {self.size:,} bytes exceed Lambda's "
                f"{LAMBDA_BATCH_BYTES / 2**20:g} MB payload; batches carry {effective}"
            )
        per_record, shown = self.record_seconds(consumer)
        batch_s = self.a.invoke_overhead_s + effective * per_record
        for store, kind, verbs in self.store_edges(consumer):
            self.note_demand(store, kind, verbs, consumer)
        limits = {"account concurrency": LAMBDA_ACCOUNT_CONCURRENCY}
        if maximum is not None:
            limits["maximum concurrency"] = float(maximum)
        if reserved is not None:
            limits["reserved concurrency"] = float(reserved)
        if fifo:
            if self.a.message_groups is not None:
                limits["message groups"] = float(self.a.message_groups)
        else:
            limits["batches per mapping"] = LAMBDA_SQS_MAX_BATCHES
        why = min(limits, key=limits.get)
        concurrency = limits[why]
        per_batch = effective / batch_s  # messages a second one concurrent batch handles
        ceiling = concurrency * per_batch
        self.hold_seconds[queue] = window + batch_s
        basis = (
            f"{concurrency:,.0f} concurrent ({why}) x {effective} records ÷ {batch_s:.3g} s a "
            f"batch ({shown})"
        )
        if why in ("maximum concurrency", "reserved concurrency", "message groups"):
            target = "raise LambdaQueueConsumer.max_concurrency (2..1000)"
            if why == "message groups":
                target = "publish with more message groups (one batch per group at a time)"
            elif why == "reserved concurrency":
                target = "raise the function's reserved concurrency"
            fix = (
                f"{target}; past 1,000 a mapping: shard the queue, or provisioned pollers; "
                "the account's concurrency (1,000 by default) is shared"
            )
        elif why == "account concurrency":
            fix = "request a Lambda concurrency increase (adjustable, per Region)"
        else:
            fix = "shard across queues (1,000 batches per mapping), or provisioned pollers"

        def ramp(rate: float) -> float | None:
            needed = rate / per_batch
            if fifo or needed <= LAMBDA_SQS_START:
                return 0.0
            return (needed - LAMBDA_SQS_START) / LAMBDA_SQS_PER_MINUTE * MINUTE

        def capacity(t: float) -> float:
            if fifo:
                return ceiling
            scaled = LAMBDA_SQS_START + LAMBDA_SQS_PER_MINUTE * t / MINUTE
            return min(concurrency, scaled) * per_batch

        return Link(
            consumer,
            self.label(consumer),
            "Lambda (FIFO)" if fifo else "Lambda",
            ceiling,
            basis,
            fix,
            (
                "lambda.sqs_initial_batches",
                "lambda.sqs_scale_up_per_minute",
                "lambda.sqs_max_batches",
                "lambda.sqs_fifo_concurrency",
                "lambda.concurrent_executions",
                "lambda.sync_payload",
            ),
            ramp=ramp,
            drain=lambda burst, rate, limit: _drain(capacity, burst, rate, limit),
        )

    def scheduled_link(self, queue: str, consumer: str) -> Link:
        f = self.resource(consumer).properties
        rules = [
            r
            for r in self.t.of_type("AWS::Events::Rule")
            if any(
                consumer in self.t.referenced_ids(x.get("Arn"))
                for x in r.properties.get("Targets", [])
            )
        ]
        every = _rate_seconds(rules[0].properties.get("ScheduleExpression", "")) if rules else None
        if every is None:
            return Link(
                consumer, self.label(consumer), "Lambda (scheduled)", None, "schedule not a rate()"
            )
        env = f.get("Environment", {}).get("Variables", {})
        timeout = float(f.get("Timeout", 3))
        by_time = timeout * self.a.receive_rate
        cap = env.get("MAX_MESSAGES")
        per_run = min(by_time, float(cap)) if cap is not None else by_time
        runs = min(float(f.get("ReservedConcurrentExecutions", 1)), 1.0) / every
        ceiling = per_run * runs
        self.in_flight[queue] = per_run  # a run holds what it received until it deletes it
        why = (
            f"MAX_MESSAGES {float(cap):,.0f} a run"
            if cap is not None and float(cap) <= by_time
            else f"{timeout:g} s timeout x {self.a.receive_rate:g} received/s"
        )
        basis = f"one run every {every / MINUTE:g} min, {why} (one run at a time)"
        fix = (
            "raise MAX_MESSAGES within the run's time budget, or run more often "
            "(ScheduledQueueWorker.every, 1 min or more); past one run's budget: an SQS event "
            "source with a batching window (batches of up to 10,000, window up to 300 s)"
        )
        for store, _, verbs in self.store_edges(consumer):
            demand = self.demand.setdefault(store, _Demand())
            demand.writers.append(self.label(consumer))
            # One object a run, not one a message.
            demand.writes += sum(v in S3_WRITES | DYNAMODB_WRITES for v in verbs) / per_run
        return Link(
            consumer,
            self.label(consumer),
            "Lambda (scheduled)",
            ceiling,
            basis,
            fix,
            ("eventbridge.rate", "sqs.standard_in_flight"),
            ramp=lambda rate: float(every),
            drain=lambda burst, rate, limit: _drain(lambda t: ceiling, burst, rate, limit),
        )

    def fleet_link(self, queue: str, consumer: str) -> Link:
        group = self.resource(consumer)
        env = getattr(self.path, "worker_env", {}).get(consumer, {})
        rate = float(env.get("MAX_WRITES_PER_SECOND", 0) or 0)
        loops = int(env.get("RECEIVE_LOOPS", 1))
        pool = int(env.get("DB_POOL_SIZE") or loops)  # the worker's default pool: one per loop
        maximum = int(group.properties["MaxSize"])
        try:
            fleet = scaling_sim.fleet_from_template(_one_fleet(self.t, consumer))
        except (ValueError, KeyError):
            fleet = None  # no scaling policy, or no configured rate: no simulation
        self.fleets[consumer] = {"max": maximum, "pool": pool, "rate": rate, "fleet": fleet}
        self.hold_seconds[queue] = SQS_BATCH * loops / rate if rate else 0.0
        for store, kind, verbs in self.store_edges(consumer):
            self.note_demand(store, kind, verbs, consumer)
        instance = self.t.resolve(
            self.t.resources[
                self.t.referenced_ids(group.properties["LaunchTemplate"]["LaunchTemplateId"]).pop()
            ].properties["LaunchTemplateData"]["InstanceType"]
        )
        if not rate:
            return Link(
                consumer,
                self.label(consumer),
                "EC2 fleet",
                None,
                f"{maximum} x {instance}, no MAX_WRITES_PER_SECOND: unshaped, measure the "
                "worker's rate",
                "set MAX_WRITES_PER_SECOND from a measured rate the database takes",
            )
        timing = self.a.timing

        def ramp(target: float) -> float | None:
            needed = math.ceil(target / rate)
            if fleet is None:
                return None
            if needed <= fleet.min_capacity:
                return 0.0
            run = scaling_sim.simulate(
                replace(fleet, max_capacity=self.allowed_instances(consumer)),
                scaling_sim.Load("steady", 4 * 3600, rate=lambda t: target),
                timing,
            )
            for t, serving in zip(run.times, run.in_service, strict=True):
                if serving >= needed:
                    return t + timing.ready_after - timing.in_service_after
            return None

        def drain(burst: float, target: float, limit: float) -> float | None:
            if fleet is None:
                return None
            allowed = self.allowed_instances(consumer)
            per_instance = min(rate, limit / allowed) if math.isfinite(limit) else rate
            run = scaling_sim.simulate(
                replace(fleet, max_capacity=allowed, rate_per_instance=per_instance),
                scaling_sim.Load("burst", HORIZON, bursts=((0, burst),), rate=lambda t: target),
                timing,
            )
            return next((t for t, d in zip(run.times, run.depth, strict=True) if d <= 0), None)

        return Link(
            consumer,
            self.label(consumer),
            "EC2 fleet",
            maximum * rate,
            f"{maximum} x {instance} x {rate:,.0f} writes/s (MAX_WRITES_PER_SECOND)",
            "raise the fleet's max_capacity (Profile.worker_max_capacity) or "
            "MAX_WRITES_PER_SECOND, after measuring what the database takes",
            ("autoscaling.default_instance_warmup",),
            ramp=ramp,
            drain=drain,
        )

    def allowed_instances(self, consumer: str) -> int:
        """The fleet's maximum, or fewer if the database's connections run out first."""
        f = self.fleets[consumer]
        allowed = f["max"]
        for store, _, _ in self.store_edges(consumer):
            free = self.connections_free(store, consumer)
            if free is not None:
                allowed = min(allowed, max(0, int(free // f["pool"])))
        return allowed

    # -- stores ------------------------------------------------------------------------------

    def note_demand(self, store: str, kind: str, verbs: list[str], consumer: str) -> None:
        service = _service(self.resource(store))
        demand = self.demand.setdefault(store, _Demand())
        demand.writers.append(self.label(consumer))
        if service == "DynamoDB":
            writes = sum(v in DYNAMODB_WRITES for v in verbs)
            reads = sum(v in DYNAMODB_READS for v in verbs)
            demand.writes += writes * math.ceil(self.size / DDB_WRITE_UNIT)
            demand.reads += reads * math.ceil(self.size / DDB_READ_UNIT)
        elif service == "S3":
            demand.writes += sum(v in S3_WRITES for v in verbs)
            demand.reads += sum(v in S3_READS for v in verbs)

    def source_demand(self, store: str, queue: str) -> None:
        """A bucket whose notifications start the chain: one PUT per message."""
        demand = self.demand.setdefault(store, _Demand())
        demand.writes += 1
        demand.writers.append("uploaders")

    def store_link(self, store: str) -> Link:
        r = self.resource(store)
        service = _service(r)
        demand = self.demand.get(store, _Demand())
        if service == "DynamoDB":
            return self.table_link(store, r, demand)
        if service == "S3":
            return self.bucket_link(store, demand)
        if service == "RDS":
            return self.database_link(store, r)
        return Link(store, self.label(store), r.type if r else "store", None, "not modelled")

    def table_link(self, store: str, r: Resource, demand: _Demand) -> Link:
        p = r.properties
        on_demand = p.get("BillingMode") == "PAY_PER_REQUEST"
        who = ", ".join(dict.fromkeys(demand.writers))
        if on_demand:
            limits = {}
            if demand.writes:
                limits["writes"] = DDB_TABLE_QUOTA / demand.writes
            if demand.reads:
                limits["reads"] = DDB_TABLE_QUOTA / demand.reads
            ceiling = min(limits.values()) if limits else None
            basis = (
                f"on-demand: {demand.writes:g} write, {demand.reads:g} read units a message "
                f"({who}); table quota {DDB_TABLE_QUOTA:,.0f} units/s, a new table "
                f"{DDB_NEW_TABLE_WRITES:,.0f} writes/s then doubling"
            )

            def ramp(rate: float) -> float | None:
                needed = max(
                    rate * demand.writes / DDB_NEW_TABLE_WRITES,
                    rate * demand.reads / DDB_NEW_TABLE_READS,
                )
                if needed <= 1:
                    return 0.0
                return math.ceil(math.log2(needed)) * DDB_DOUBLING

            fix = (
                "pre-warm the table (warm throughput) before a launch; past "
                f"{DDB_TABLE_QUOTA:,.0f} units/s request a table quota increase; keep hot keys "
                "under 1,000 writes/s each"
            )
        else:
            throughput = p.get("ProvisionedThroughput", {})
            wcu = float(throughput.get("WriteCapacityUnits", 0))
            rcu = float(throughput.get("ReadCapacityUnits", 0))
            limits = {}
            if demand.writes and wcu:
                limits["writes"] = wcu / demand.writes
            if demand.reads and rcu:
                limits["reads"] = rcu / demand.reads
            ceiling = min(limits.values()) if limits else None
            basis = f"provisioned {wcu:g} WCU, {rcu:g} RCU ({who})"
            ramp = None
            fix = "raise the provisioned capacity or switch to on-demand"
        return Link(
            store,
            self.label(store),
            "DynamoDB",
            ceiling,
            basis,
            fix,
            (
                "dynamodb.on_demand_initial_writes",
                "dynamodb.on_demand_initial_reads",
                "dynamodb.request_unit_sizes",
                "dynamodb.table_throughput",
                "dynamodb.partition_throughput",
            ),
            ramp=ramp if on_demand else None,
        )

    def bucket_link(self, store: str, demand: _Demand) -> Link:
        limits = {}
        if demand.writes:
            limits["PUT"] = S3_PUTS / demand.writes
        if demand.reads:
            limits["GET"] = S3_GETS / demand.reads
        ceiling = min(limits.values()) if limits else None
        who = ", ".join(dict.fromkeys(demand.writers))
        basis = (
            f"{demand.writes:.3g} PUT, {demand.reads:.3g} GET a message ({who}); at least "
            f"{S3_PUTS:,.0f} PUT, {S3_GETS:,.0f} GET/s per partitioned prefix"
        )
        return Link(
            store,
            self.label(store),
            "S3",
            ceiling,
            basis,
            "spread keys over several prefixes (each partitioned prefix takes at least "
            f"{S3_PUTS:,.0f} PUT/s); S3 partitions a busy prefix itself, in time it does not state",
            ("s3.prefix_put_rate", "s3.prefix_get_rate"),
        )

    def connections_free(self, store: str, consumer: str) -> float | None:
        """Connections the database leaves for `consumer` after every other fleet's pools."""
        limit = self.connection_limit(store)
        if limit is None:
            return None
        others = sum(
            f["max"] * f["pool"]
            for c, f in self.fleets.items()
            if c != consumer and any(s == store for s, _, _ in self.store_edges(c))
        )
        return limit - others

    def connection_limit(self, store: str) -> int | None:
        r = self.resource(store)
        if r is not None and r.type == "AWS::RDS::DBCluster":
            return _serverless_max_connections(r)
        if r is None or r.type != "AWS::RDS::DBInstance":
            return None
        for group_id in self.t.referenced_ids(r.properties.get("DBParameterGroupName")):
            value = (
                self.t.resources[group_id].properties.get("Parameters", {}).get("max_connections")
            )
            if value is not None and str(value).isdigit():
                return int(value)
        return _default_max_connections(str(r.properties.get("DBInstanceClass", "")))

    def database_link(self, store: str, r: Resource) -> Link:
        limit = self.connection_limit(store)
        klass = r.properties.get("DBInstanceClass") or _serverless_class(r)
        fleets = {
            c: f
            for c, f in self.fleets.items()
            if any(s == store for s, _, _ in self.store_edges(c))
        }
        if limit is None:
            return Link(store, self.label(store), "RDS", None, f"{klass}: connection limit unknown")
        held = sum(f["max"] * f["pool"] for f in fleets.values())
        ceilings, parts = [], []
        for consumer, f in fleets.items():
            free = self.connections_free(store, consumer)
            room = int(free // f["pool"])
            parts.append(
                f"{self.label(consumer)} {f['max']} x {f['pool']} = {f['max'] * f['pool']}, room for {room} instances"
            )
            if f["rate"]:
                ceilings.append(room * f["rate"])
        ceiling = min(ceilings) if ceilings else None
        basis = (
            f"max_connections {limit:,} ({klass}, LEAST(memory/9531392, 5000), an upper bound); "
            + "; ".join(parts)
            + f"; {held} held at most"
        )
        return Link(
            store,
            self.label(store),
            "RDS",
            ceiling,
            basis,
            "a larger instance class, fewer connections per worker (DB_POOL_SIZE), or RDS "
            "Proxy; PostgresDatabase.allow_from(max_connections=...) fails synth past the limit",
            ("rds.postgres_max_connections", "rds.instance_class_memory"),
        )

    def account_concurrency(self, consumers: Iterable[Link]) -> None:
        lambdas = [c for c in consumers if c.kind.startswith("Lambda") and c.ceiling is not None]
        total = sum(_concurrency(c) for c in lambdas)
        if total > LAMBDA_ACCOUNT_CONCURRENCY:
            self.notes.append(
                f"the consumers may run {total:,.0f} at once, more than the account's default "
                f"{LAMBDA_ACCOUNT_CONCURRENCY:,.0f} concurrent executions, which every function "
                "in the Region shares: request an increase"
            )


def _concurrency(link: Link) -> float:
    match = re.match(r"([\d,]+) concurrent", link.basis)
    return float(match.group(1).replace(",", "")) if match else 0.0


def _verbs(label: str) -> list[str]:
    """The data actions of a DataPath store edge: `PutItem, UpdateItem` or `GetObject under x/`."""
    return [v.strip() for v in label.split(" under ", 1)[0].split(",") if v.strip()]


def _service(resource: Resource | None) -> str:
    if resource is None:
        return ""
    return {
        "AWS::DynamoDB::Table": "DynamoDB",
        "AWS::S3::Bucket": "S3",
        "AWS::RDS::DBInstance": "RDS",
        "AWS::RDS::DBCluster": "RDS",
    }.get(resource.type, "")


def _rate_seconds(expression: str) -> float | None:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if not match:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def _serverless_class(cluster: Resource) -> str:
    scaling = cluster.properties.get("ServerlessV2ScalingConfiguration", {})
    return f"Aurora Serverless v2 up to {scaling.get('MaxCapacity', '?')} ACUs"


def _serverless_max_connections(cluster: Resource) -> int | None:
    """An Aurora Serverless v2 cluster's max_connections by the same default formula, with the
    memory of its maximum capacity (an ACU is about 2 GiB:
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.how-it-works.html):
    an upper bound, as for an instance class."""
    scaling = cluster.properties.get("ServerlessV2ScalingConfiguration", {})
    if "MaxCapacity" not in scaling:
        return None
    memory = float(scaling["MaxCapacity"]) * 2 * 1024**3
    return min(int(memory / 9531392), 5000)


def _default_max_connections(instance_class: str) -> int | None:
    """RDS for PostgreSQL's default max_connections for `db.<class>`, from PostgresDatabase."""
    sys.path.insert(0, str(ROOT / "constructs"))
    from queue_patterns.postgres_database import _connection_limit

    return _connection_limit(instance_class.removeprefix("db."))


def _one_fleet(template: StackTemplate, group: str) -> StackTemplate:
    """`template` with only `group`'s scaling policies, as tools/scaling_sim.py reads one fleet."""
    others = {
        p.logical_id
        for p in template.of_type("AWS::AutoScaling::ScalingPolicy")
        if group not in template.referenced_ids(p.properties["AutoScalingGroupName"])
    }
    raw = {
        **template.template,
        "Resources": {k: v for k, v in template.template["Resources"].items() if k not in others},
    }
    return StackTemplate(
        template.stack_id,
        raw,
        stack_name=template.stack_name,
        account=template.account,
        region=template.region,
        partition=template.partition,
    )


def _drain(
    capacity: Callable[[float], float], burst: float, rate: float, limit: float
) -> float | None:
    """Seconds until `burst` is gone with `rate` arriving and `capacity(t)` (capped at `limit`)
    taking: second by second while capacity grows, then at once when it is steady."""
    backlog, t = burst, 0.0
    while t < HORIZON:
        now = min(capacity(t), limit)
        if now >= min(capacity(t + 1), limit):  # steady from here
            if now <= rate:
                return None
            return t + backlog / (now - rate)
        backlog -= now - rate
        t += 1
        if backlog <= 0:
            return t
    return None


# -- printing -------------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = int(round(seconds))
    if seconds >= HORIZON:
        return "more than a day"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _rate(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1e6:
        return f"{value / 1e6:,.1f} M/s"
    return f"{value:,.0f}/s" if value >= 10 else f"{value:.3g}/s"


def report(plan: StackPlan, rate: float, burst: float, *, level: int = 2) -> str:
    """One stack's plan at `rate`, as Markdown."""
    v = plan.at(rate, burst)
    lines = [
        f"{'#' * level} {plan.stack_id} ({plan.profile}) at {_rate(rate)}",
        "",
        "| link | kind | ceiling | headroom | how |",
        "| --- | --- | --- | --- | --- |",
    ]
    for link in plan.links:
        headroom = link.headroom(rate)
        shown = "—" if headroom is None else _times(headroom)
        if headroom is not None and headroom < 1:
            shown = f"**{shown}**"
        lines.append(
            f"| {link.label} | {link.kind} | {_rate(link.ceiling)} | {shown} | {link.basis} |"
        )
    lines.append("")
    if v.binding is None:
        lines.append("No link with a ceiling.")
    else:
        b = v.binding
        state = (
            f"binds: carries {_share(b.ceiling / rate)} of {_rate(rate)}"
            if v.binds
            else f"{_times(v.headroom)} headroom"
        )
        kinds = " = ".join(dict.fromkeys(x.kind for x in v.tied))
        lines.append(f"- first to bind: **{v.names}** ({kinds}) at {_rate(b.ceiling)}: {state}")
        if v.then is not None:
            lines.append(f"- then: {v.then.label} ({v.then.kind}) at {_rate(v.then.ceiling)}")
        lines.append(f"- to change: {b.fix}")
    lines.append(
        f"- from idle to {_rate(min(rate, v.binding.ceiling if v.binding else rate))}: {duration(v.ramp) if v.ramp is not None else 'not reached (see the links)'}"
    )
    if burst:
        lines.append(
            f"- a burst of {burst:,.0f} waiting in the queue drains in {duration(v.drain)}"
        )
    for chain in plan.chains:
        lines.append(f"- chain: {chain.path()}")
    for note in plan.notes:
        lines.append(f"- note: {note}")
    return "\n".join(lines)


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def _share(fraction: float) -> str:
    return f"{fraction:.0%}" if fraction >= 0.01 else f"{fraction:.1%}"


def readme_table(plans_by_profile: Mapping[str, list[StackPlan]]) -> str:
    """The README's Capacity table: each stack's binding link at 100, 1,000 and 10,000/s."""
    head = " | ".join(f"{r:,}/s" for r in README_RATES)
    lines = [
        f"| stack | profile | binds first | then | {head} |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in README_RATES) + " |",
    ]
    stacks = [p.stack_id for p in next(iter(plans_by_profile.values()))]
    for stack_id in stacks:
        for profile, plans in plans_by_profile.items():
            plan = next(p for p in plans if p.stack_id == stack_id)
            cells = []
            for rate in README_RATES:
                v = plan.at(rate)
                if v.binding is None:
                    cells.append("—")
                elif v.binds:
                    cells.append(f"**carries {_share(v.binding.ceiling / rate)}**")
                else:
                    cells.append(f"{_times(v.headroom)}, ready in {duration(v.ramp)}")
            v = plan.at(README_RATES[0])
            first = "—" if v.binding is None else f"{v.names}, {_rate(v.binding.ceiling)}"
            then = "—" if v.then is None else f"{v.then.label}, {_rate(v.then.ceiling)}"
            lines.append(
                f"| {stack_id} | {profile} | {first} | {then} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def render_readme(text: str, plans_by_profile: Mapping[str, list[StackPlan]]) -> str:
    """`text` with its Capacity table, and every embedded plan, redone from the plans."""

    def plan_block(m: re.Match) -> str:
        rate = float(m.group(3))
        body = "\n\n".join(
            report(plan, rate, DOCS_BURST, level=3) for plan in plans_by_profile[m.group(2)]
        )
        return f"{m.group(1)}{body}\n{m.group(4)}"

    table = readme_table(plans_by_profile)
    text = BLOCK.sub(lambda m: f"{m.group(1)}{table}\n{m.group(2)}", text)
    return REPORT_BLOCK.sub(plan_block, text)


def parse_rate(text: str) -> float:
    match = re.fullmatch(r"([\d,_.]+)\s*(?:/\s*(s|sec|second|min|minute|h|hour))?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: a rate like 2000/s or 120000/min")
    value = float(match.group(1).replace(",", "").replace("_", ""))
    per = {"min": 60, "minute": 60, "h": 3600, "hour": 3600}.get(match.group(2) or "s", 1)
    return value / per


def parse_size(text: str) -> int:
    match = re.fullmatch(r"([\d.]+)\s*(B|KB|KiB|MB|MiB)?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: a size like 512B, 4KB or 1MB")
    unit = (match.group(2) or "B").lower().replace("i", "")
    return int(float(match.group(1)) * {"b": 1, "kb": KB, "mb": KB * KB}[unit])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=parse_rate, default=parse_rate("1000/s"))
    parser.add_argument("--size", type=parse_size, default=KB, help="message size (default 1KB)")
    parser.add_argument("--burst", type=float, default=100_000, help="messages waiting at once")
    parser.add_argument("--profile", choices=PROFILES, default="production")
    parser.add_argument("--stack", action="append", help="only these stacks (repeatable)")
    parser.add_argument(
        "--cdk-out", help="a `cdk synth` folder of the profile (default: synthesize)"
    )
    parser.add_argument("--handler-ms", type=float, help="a measured duration per Lambda record")
    parser.add_argument("--message-groups", type=int, help="active FIFO message groups")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--readme", action="store_true", help="rewrite the tables in README.md, docs/capacity.md"
    )
    parser.add_argument("--check", action="store_true", help="fail if those tables are stale")
    args = parser.parse_args(argv)

    from tools.template_reader import Assembly, synthesize

    if args.readme or args.check:
        plans = {p: plan_assembly(synthesize(p), profile=p) for p in PROFILES}
        stale = []
        for page in (README, DOCS):
            text = page.read_text()
            fresh = render_readme(text, plans)
            if fresh == text:
                continue
            stale.append(str(page.relative_to(ROOT)))
            if not args.check:
                page.write_text(fresh)
                print(f"wrote the capacity tables in {page.relative_to(ROOT)}")
        if args.check and stale:
            print(f"stale (run ./run capacity --readme): {', '.join(stale)}", file=sys.stderr)
            return 1
        if not stale:
            print("README.md and docs/capacity.md match the templates")
        return 0

    assumptions = Assumptions(
        handler_s=args.handler_ms / 1000 if args.handler_ms is not None else None,
        message_groups=args.message_groups,
    )
    assembly = Assembly.from_directory(args.cdk_out) if args.cdk_out else synthesize(args.profile)
    plans = [
        plan_stack(t, profile=args.profile, size=args.size, assumptions=assumptions)
        for stack_id, t in assembly.stacks.items()
        if not args.stack or stack_id in args.stack
    ]
    if args.json:
        out = {}
        for plan in plans:
            v = plan.at(args.rate, args.burst)
            out[plan.stack_id] = {
                "links": [
                    {"link": x.label, "kind": x.kind, "ceiling": x.ceiling, "how": x.basis}
                    for x in plan.links
                ],
                "binding": v.binding.label if v.binding else None,
                "ceiling": v.binding.ceiling if v.binding else None,
                "binds": v.binds,
                "ramp_s": v.ramp,
                "drain_s": v.drain,
            }
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"# Capacity at {_rate(args.rate)}, {args.size:,}-byte messages, a burst of "
        f"{args.burst:,.0f} ({args.profile})\n\nAssumptions: {assumptions.describe()}.\n"
    )
    for plan in plans:
        print(report(plan, args.rate, args.burst))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
