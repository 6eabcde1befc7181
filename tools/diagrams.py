"""Diagrams of each pattern's data path, drawn from the synthesized templates.

Hand-drawn sketches drift from the code; these cannot, because they are read from what
`cdk synth` wrote (through tools/template_reader.py) and a test fails when a page differs from
what the templates give. Each page shows, per profile, the path a message takes: producers
(clients of the API, publishers, buckets, schedules, producer policies), the API, topics, queues
and their dead-letter queues, the consumers (Lambda functions, the EC2 worker fleet), and where
they write (tables, buckets, the database), with the settings that decide behaviour on the edges
(filter policy and raw delivery on a subscription, maxReceiveCount to the DLQ, batch size and
maximum concurrency on an event source mapping, visibility timeout on the queue, the worker's
write rate) and the alarms hanging off each queue and function. Mermaid in Markdown: GitHub
renders it, no binary to build.

    python -m tools.diagrams                    # synthesize both profiles, rewrite docs/diagrams/
                                                # and the README's embedded diagram
    python -m tools.diagrams --check            # exit 1 if a page differs (what the test does)
    python -m tools.diagrams --cdk-out sandbox=cdk.out/sandbox --cdk-out production=cdk.out/production
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.template_reader import ROOT, Resource, StackTemplate

DOCS = ROOT / "docs" / "diagrams"
PROFILES = ("sandbox", "production")
# IAM actions that move data to or from a store, shown on the consumer's edge.
DATA_ACTIONS = re.compile(r"^(dynamodb:(Put|Get|Update|Delete|BatchWrite|BatchGet|Query|Scan)\w*|s3:(Get|Put|Delete)Object\w*)$")  # fmt: skip
RECEIVE = "sqs:ReceiveMessage"
SEND = "sqs:SendMessage"


@dataclass
class Node:
    id: str
    label: str
    shape: str  # queue, dlq, topic, function, workers, store, api, outside, alarm


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    dotted: bool = False


@dataclass
class DataPath:
    """The nodes and edges of one stack's data path."""

    template: StackTemplate
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    @classmethod
    def of(cls, template: StackTemplate) -> DataPath:
        path = cls(template)
        path._build()
        return path

    # -- reading the template ------------------------------------------------------------------

    def _build(self) -> None:
        t = self.template
        self.alarm_topics = {
            i
            for a in t.of_type("AWS::CloudWatch::Alarm")
            for i in t.referenced_ids(a.properties.get("AlarmActions", []))
            if t.resources[i].type == "AWS::SNS::Topic"
        }
        self.consumers: dict[str, str] = {}  # role logical id -> consumer node id
        self._queues()
        self._topics()
        self._api()
        self._bucket_notifications()
        self._functions()
        self._workers()
        self._role_edges()
        self._schedules()
        self._producer_policies()
        self._database()
        self._alarms()

    def _queues(self) -> None:
        t = self.template
        dead_letter_ids = {
            i
            for q in t.of_type("AWS::SQS::Queue")
            for i in t.referenced_ids(q.properties.get("RedrivePolicy", {}))
        } | {
            i
            for s in t.of_type("AWS::SNS::Subscription")
            for i in t.referenced_ids(s.properties.get("RedrivePolicy", {}))
        }
        for queue in t.of_type("AWS::SQS::Queue"):
            p = queue.properties
            lines = [_name(queue)]
            if p.get("FifoQueue") in (True, "true"):
                lines.append(
                    "FIFO" + (", content-based dedup" if p.get("ContentBasedDeduplication") else "")
                )
            if queue.logical_id not in dead_letter_ids:
                lines.append(f"visibility {_seconds(p.get('VisibilityTimeout', 30))}")
            lines.append(f"retention {_seconds(p.get('MessageRetentionPeriod', 345600))}")
            shape = "dlq" if queue.logical_id in dead_letter_ids else "queue"
            self._node(queue.logical_id, lines, shape)
            redrive = p.get("RedrivePolicy")
            if redrive:
                dlq = t.referenced_ids(redrive).pop()
                self.edges.append(
                    Edge(
                        queue.logical_id, dlq, f"after {redrive['maxReceiveCount']} receives", True
                    )
                )

    def _topics(self) -> None:
        t = self.template
        for topic in t.of_type("AWS::SNS::Topic"):
            if topic.logical_id in self.alarm_topics:
                continue
            fifo = topic.properties.get("FifoTopic") in (True, "true")
            self._node(
                topic.logical_id, [_name(topic), "SNS FIFO topic" if fifo else "SNS topic"], "topic"
            )
            publishers = f"{topic.logical_id}Publishers"
            self._node(publishers, ["publishers"], "outside")
            self.edges.append(Edge(publishers, topic.logical_id, "Publish"))
        for sub in t.of_type("AWS::SNS::Subscription"):
            p = sub.properties
            if p.get("Protocol") != "sqs":
                continue
            topic = t.referenced_ids(p["TopicArn"]).pop()
            if topic in self.alarm_topics:
                continue
            queue = t.referenced_ids(p["Endpoint"]).pop()
            parts = []
            if "FilterPolicy" in p:
                parts.append("filter " + _filter_policy(p["FilterPolicy"]))
            parts.append(
                "raw delivery" if p.get("RawMessageDelivery") in (True, "true") else "SNS envelope"
            )
            self.edges.append(Edge(topic, queue, "; ".join(parts)))
            if "RedrivePolicy" in p:
                dlq = t.referenced_ids(p["RedrivePolicy"]).pop()
                edge = Edge(topic, dlq, "undeliverable", True)
                if all((e.src, e.dst) != (edge.src, edge.dst) for e in self.edges):
                    self.edges.append(edge)

    def _api(self) -> None:
        t = self.template
        for api in t.of_type("AWS::ApiGateway::RestApi"):
            self._node(api.logical_id, [_name(api), "API Gateway REST API"], "api")
            clients = f"{api.logical_id}Clients"
            for method in t.of_type("AWS::ApiGateway::Method"):
                if api.logical_id not in t.referenced_ids(method.properties["RestApiId"]):
                    continue
                p = method.properties
                resource = t.resources[t.referenced_ids(p["ResourceId"]).pop()]
                request = f"{p['HttpMethod']} /{resource.properties.get('PathPart', '')}"
                checks = [
                    {"AWS_IAM": "SigV4"}.get(
                        p.get("AuthorizationType"), p.get("AuthorizationType")
                    ),
                    "request model" if p.get("RequestModels") else None,
                ]
                self._node(clients, ["clients"], "outside")
                self.edges.append(
                    Edge(clients, api.logical_id, ", ".join([request, *filter(None, checks)]))
                )
                integration = p.get("Integration", {})
                uri = str(t.resolve(integration.get("Uri", "")))
                if ":sqs:path/" in uri:
                    queue = self._queue_named(uri.rsplit("/", 1)[-1])
                    action = re.search(
                        r"Action=(\w+)", json.dumps(integration.get("RequestTemplates", {}))
                    )
                    self.edges.append(
                        Edge(
                            api.logical_id,
                            queue,
                            f"{action.group(1) if action else 'SQS'} (AWS integration, no Lambda)",
                        )
                    )

    def _bucket_notifications(self) -> None:
        t = self.template
        for notification in t.of_type("Custom::S3BucketNotifications"):
            p = notification.properties
            bucket = t.referenced_ids(p["BucketName"]).pop()
            for config in p.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
                queue = t.referenced_ids(config["QueueArn"]).pop()
                rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
                label = ", ".join(config["Events"] + [f"{r['Name']} {r['Value']}" for r in rules])
                self._store(bucket)
                self.edges.append(Edge(bucket, queue, label))

    def _functions(self) -> None:
        t = self.template
        mapped = {
            i
            for m in t.of_type("AWS::Lambda::EventSourceMapping")
            for i in t.referenced_ids(m.properties["FunctionName"])
        }
        scheduled = {
            i
            for r in t.of_type("AWS::Events::Rule")
            for target in r.properties.get("Targets", [])
            for i in t.referenced_ids(target["Arn"])
        }
        for function in t.of_type("AWS::Lambda::Function"):
            if function.logical_id not in mapped | scheduled:
                continue  # CDK's helper functions (custom resources) are not on the data path
            p = function.properties
            self._node(function.logical_id, [_name(function), f"Lambda, {p.get('Architectures', ['x86_64'])[0]}, timeout {_seconds(p.get('Timeout', 3))}"], "function")  # fmt: skip
            for role in t.referenced_ids(p.get("Role", {})):
                self.consumers[role] = function.logical_id
        for mapping in t.of_type("AWS::Lambda::EventSourceMapping"):
            p = mapping.properties
            queue = t.referenced_ids(p["EventSourceArn"]).pop()
            function = t.referenced_ids(p["FunctionName"]).pop()
            parts = [f"batch {p.get('BatchSize', 10)}"]
            if p.get("MaximumBatchingWindowInSeconds"):
                parts.append(f"window {p['MaximumBatchingWindowInSeconds']} s")
            if "ScalingConfig" in p:
                parts.append(f"max concurrency {p['ScalingConfig']['MaximumConcurrency']}")
            if "ReportBatchItemFailures" in p.get("FunctionResponseTypes", []):
                parts.append("partial batch failures")
            self.edges.append(Edge(queue, function, ", ".join(parts)))

    def _workers(self) -> None:
        t = self.template
        for group in t.of_type("AWS::AutoScaling::AutoScalingGroup"):
            p = group.properties
            launch = t.resources[t.referenced_ids(p["LaunchTemplate"]["LaunchTemplateId"]).pop()]
            data = launch.properties["LaunchTemplateData"]
            self._node(
                group.logical_id,
                [_name(group), f"EC2 Auto Scaling, {p['MinSize']}-{p['MaxSize']} x {t.resolve(data['InstanceType'])}"],
                "workers",
            )  # fmt: skip
            profile = t.resources[t.referenced_ids(data["IamInstanceProfile"]).pop()]
            for role in t.referenced_ids(profile.properties["Roles"]):
                self.consumers[role] = group.logical_id
            env = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", str(t.resolve(data.get("UserData", ""))), re.M))  # fmt: skip
            self.worker_env = getattr(self, "worker_env", {}) | {group.logical_id: env}
            self.worker_groups = {
                *getattr(self, "worker_groups", set()),
                *(
                    (g, group.logical_id)
                    # in public subnets the groups sit on the network interface instead
                    for g in t.referenced_ids(
                        [data.get("SecurityGroupIds", []), data.get("NetworkInterfaces", [])]
                    )
                ),
            }

    def _role_edges(self) -> None:
        """Receives with no event source mapping (workers, scheduled functions), and every
        table and bucket a consumer's role may read or write."""
        t = self.template
        mapped = {
            (t.referenced_ids(m.properties["EventSourceArn"]).pop(), t.referenced_ids(m.properties["FunctionName"]).pop())
            for m in t.of_type("AWS::Lambda::EventSourceMapping")
        }  # fmt: skip
        for policy in t.of_type("AWS::IAM::Policy"):
            consumers = [self.consumers[r] for r in t.referenced_ids(policy.properties.get("Roles", [])) if r in self.consumers]  # fmt: skip
            for consumer in consumers:
                for statement in _statements(policy.properties["PolicyDocument"]):
                    actions = _list(statement.get("Action"))
                    targets = [
                        i
                        for i in t.referenced_ids(statement.get("Resource"))
                        if t.resources[i].type in ("AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::S3::Bucket")
                    ]  # fmt: skip
                    for target in targets:
                        kind = t.resources[target].type
                        if kind == "AWS::SQS::Queue":
                            if RECEIVE in actions and (target, consumer) not in mapped:
                                self.edges.append(
                                    Edge(target, consumer, self._receive_label(target, consumer))
                                )
                            continue
                        verbs = sorted(
                            {a.split(":", 1)[1] for a in actions if DATA_ACTIONS.match(a)}
                        )
                        if not verbs:
                            continue
                        self._store(target)
                        reads_only = all(
                            v.startswith(("Get", "Query", "Scan", "BatchGet")) for v in verbs
                        )
                        prefix = _prefix(t, statement.get("Resource"), target)
                        label = ", ".join(verbs) + (f" {prefix}" if prefix else "")
                        if reads_only:
                            self.edges.append(Edge(target, consumer, label))
                        else:
                            self.edges.append(Edge(consumer, target, label))

    def _receive_label(self, queue: str, consumer: str) -> str:
        env = getattr(self, "worker_env", {}).get(consumer)
        if env is None:
            return "ReceiveMessage on its schedule"
        parts = ["long poll"]
        if "RECEIVE_LOOPS" in env:
            parts.append(f"{env['RECEIVE_LOOPS']} loops x 10")
        if "MAX_WRITES_PER_SECOND" in env:
            parts.append(f"at most {env['MAX_WRITES_PER_SECOND']} writes/s per instance")
        return ", ".join(parts)

    def _schedules(self) -> None:
        t = self.template
        for rule in t.of_type("AWS::Events::Rule"):
            expression = rule.properties.get("ScheduleExpression")
            if not expression:
                continue
            for target in rule.properties.get("Targets", []):
                for function in t.referenced_ids(target["Arn"]):
                    if function in self.nodes:
                        self._node(
                            rule.logical_id, [_name(rule), "EventBridge schedule"], "outside"
                        )
                        self.edges.append(Edge(rule.logical_id, function, expression))

    def _producer_policies(self) -> None:
        t = self.template
        for policy in t.of_type("AWS::IAM::ManagedPolicy"):
            for statement in _statements(policy.properties["PolicyDocument"]):
                if SEND not in _list(statement.get("Action")):
                    continue
                for queue in t.referenced_ids(statement.get("Resource")):
                    if t.resources[queue].type == "AWS::SQS::Queue":
                        self._node(
                            policy.logical_id, [f"producers with {_name(policy)}"], "outside"
                        )
                        self.edges.append(Edge(policy.logical_id, queue, SEND))
        for queue_policy in t.of_type("AWS::SQS::QueuePolicy"):
            for statement in _statements(queue_policy.properties["PolicyDocument"]):
                principal = statement.get("Principal", {})
                accounts = principal.get("AWS") if isinstance(principal, dict) else None
                if (
                    statement.get("Effect") == "Allow"
                    and SEND in _list(statement.get("Action"))
                    and accounts
                ):
                    for queue in t.referenced_ids(queue_policy.properties["Queues"]):
                        node = f"{queue}OtherAccounts"
                        self._node(node, ["producer accounts (queue policy)"], "outside")
                        self.edges.append(Edge(node, queue, SEND))

    def _database(self) -> None:
        t = self.template
        databases = []
        for db in t.of_type("AWS::RDS::DBInstance"):
            p = db.properties
            if "DBClusterIdentifier" in p:
                continue  # drawn as its cluster
            databases.append((db, [_name(db), f"RDS {p.get('Engine', '')} {p.get('EngineVersion', '')}".strip(), f"{p.get('DBInstanceClass')}{', Multi-AZ' if p.get('MultiAZ') in (True, 'true') else ''}"], p.get("VPCSecurityGroups", [])))  # fmt: skip
        for cluster in t.of_type("AWS::RDS::DBCluster"):
            p = cluster.properties
            instances = [
                i
                for i in t.of_type("AWS::RDS::DBInstance")
                if cluster.logical_id in t.referenced_ids(i.properties.get("DBClusterIdentifier"))
            ]
            scaling = p.get("ServerlessV2ScalingConfiguration", {})
            capacity = (
                f"Serverless v2, {scaling.get('MinCapacity')}-{scaling.get('MaxCapacity')} ACU"
            )
            if scaling.get("MinCapacity") == 0:
                capacity += f", pauses after {int(scaling.get('SecondsUntilAutoPause', 300)) // 60} min idle"
            shape = f"{len(instances)} instance{'s' if len(instances) != 1 else ''}" + (
                ", Multi-AZ" if len(instances) > 1 else ""
            )
            databases.append((cluster, [_name(cluster), f"Aurora {p.get('Engine', '')} {p.get('EngineVersion', '')}".strip(), capacity, shape], p.get("VpcSecurityGroupIds", [])))  # fmt: skip
        for db, label, groups in databases:
            self._node(db.logical_id, label, "store")
            db_groups = set(t.referenced_ids(groups))
            for ingress in t.of_type("AWS::EC2::SecurityGroupIngress"):
                ip = ingress.properties
                if db_groups.isdisjoint(t.referenced_ids(ip.get("GroupId"))):
                    continue
                for group, workers in getattr(self, "worker_groups", set()):
                    if group in t.referenced_ids(ip.get("SourceSecurityGroupId")):
                        port = t.resolve(ip.get("FromPort"))
                        self.edges.append(
                            Edge(workers, db.logical_id, f"INSERT batches, TLS, port {port}")
                        )

    def _alarms(self) -> None:
        t = self.template
        watched = {}
        for queue in t.of_type("AWS::SQS::Queue"):
            watched[("QueueName", t.get_att(queue.logical_id, "QueueName"))] = queue.logical_id
        for function in t.of_type("AWS::Lambda::Function"):
            watched[("FunctionName", t.ref(function.logical_id))] = function.logical_id
        policies = {p.logical_id: p for p in t.of_type("AWS::AutoScaling::ScalingPolicy")}
        for alarm in t.of_type("AWS::CloudWatch::Alarm"):
            p = alarm.properties
            targets = [
                watched.get((d["Name"], t.resolve(d["Value"]))) for d in p.get("Dimensions", [])
            ]
            target = next((x for x in targets if x in self.nodes), None)
            if target is None:
                continue
            self._node(alarm.logical_id, [f"alarm: {_alarm_condition(p)}"], "alarm")
            self.edges.append(Edge(target, alarm.logical_id, "", True))
            for policy_id in t.referenced_ids(p.get("AlarmActions", [])):
                if policy_id in policies:
                    policy = policies[policy_id]
                    group = t.referenced_ids(policy.properties["AutoScalingGroupName"]).pop()
                    self.edges.append(
                        Edge(
                            alarm.logical_id,
                            group,
                            _steps(policy.properties, float(p["Threshold"])),
                            True,
                        )
                    )
        for policy in policies.values():
            config = policy.properties.get("TargetTrackingConfiguration")
            if not config:
                continue
            group = t.referenced_ids(policy.properties["AutoScalingGroupName"]).pop()
            metrics = config.get("CustomizedMetricSpecification", {}).get("Metrics", [])
            expression = next(
                (m.get("Expression") for m in metrics if m.get("ReturnData")), "metric"
            )
            node = policy.logical_id
            self._node(node, [f"target tracking: {expression} = {config['TargetValue']:g}", f"warm-up {_seconds(policy.properties.get('EstimatedInstanceWarmup', 0))}"], "alarm")  # fmt: skip
            self.edges.append(Edge(node, group, "scales", True))

    # -- helpers ---------------------------------------------------------------------------------

    def _node(self, id_: str, lines: Iterable[str], shape: str) -> None:
        if id_ not in self.nodes:
            self.nodes[id_] = Node(id_, "<br/>".join(lines), shape)

    def _store(self, logical_id: str) -> None:
        resource = self.template.resources[logical_id]
        kind = {"AWS::DynamoDB::Table": "DynamoDB table", "AWS::S3::Bucket": "S3 bucket"}[
            resource.type
        ]
        self._node(logical_id, [_name(resource), kind], "store")

    def _queue_named(self, name: str) -> str:
        for queue in self.template.of_type("AWS::SQS::Queue"):
            if self.template.physical_name(queue) == name:
                return queue.logical_id
        raise KeyError(f"{self.template.stack_id}: no queue named {name}")

    # -- Mermaid -------------------------------------------------------------------------------

    def mermaid(self) -> str:
        """A Mermaid flowchart: nodes in template order, edges in the order they were found."""
        shapes = {
            "queue": ('[["', '"]]'),
            "dlq": ('[["', '"]]'),
            "topic": ('{{"', '"}}'),
            "function": ('("', '")'),
            "workers": ('["', '"]'),
            "store": ('[("', '")]'),
            "api": ('(["', '"])'),
            "outside": ('(["', '"])'),
            "alarm": ('>"', '"]'),
        }
        used = {e.src for e in self.edges} | {e.dst for e in self.edges}
        lines = ["flowchart LR"]
        for node in self.nodes.values():
            if node.id not in used:
                continue
            left, right = shapes[node.shape]
            lines.append(f"  {node.id}{left}{_escape(node.label)}{right}")
        seen = set()
        for edge in self.edges:
            key = (edge.src, edge.dst, edge.label)
            if key in seen:
                continue
            seen.add(key)
            arrow = "-.->" if edge.dotted else "-->"
            label = f'|"{_escape(edge.label)}"|' if edge.label else ""
            lines.append(f"  {edge.src} {arrow}{label} {edge.dst}")
        for shape in (
            "queue",
            "dlq",
            "topic",
            "function",
            "workers",
            "store",
            "api",
            "outside",
            "alarm",
        ):
            ids = [n.id for n in self.nodes.values() if n.shape == shape and n.id in used]
            if ids:
                lines.append(f"  class {','.join(ids)} {shape}")
        lines += [
            "  classDef queue fill:#fdebd0,stroke:#b9770e",
            "  classDef dlq fill:#fadbd8,stroke:#b03a2e",
            "  classDef topic fill:#e8daef,stroke:#7d3c98",
            "  classDef function fill:#d6eaf8,stroke:#2471a3",
            "  classDef workers fill:#d6eaf8,stroke:#2471a3",
            "  classDef store fill:#d5f5e3,stroke:#1e8449",
            "  classDef api fill:#fef9e7,stroke:#b7950b",
            "  classDef outside fill:#f2f3f4,stroke:#707b7c",
            "  classDef alarm fill:#fdfefe,stroke:#cb4335,stroke-dasharray:3 3",
        ]
        return "\n".join(lines)


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _list(document.get("Statement"))


def _list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _prefix(template: StackTemplate, resource: Any, bucket: str) -> str:
    """`under usage/` for an object ARN like `<bucket ARN>/usage/*` of `bucket` (a statement
    may also name objects of other buckets, such as the CDK asset a fleet downloads)."""
    for value in _list(resource):
        if bucket not in template.referenced_ids(value):
            continue
        resolved = str(template.resolve(value))
        if resolved.startswith("arn:aws:s3:::") and "/" in resolved:
            key = resolved.split("/", 1)[1].rstrip("*")
            if key:
                return f"under {key}"
    return ""


def _name(resource: Resource) -> str:
    """`Orders / Queue` from the construct path `WriteBuffer/Orders/Queue/Resource`."""
    parts = resource.path.split("/")[1:]
    while parts and parts[-1] in ("Resource", "Default", "ASG"):
        parts.pop()
    return " / ".join(parts) or resource.logical_id


def _seconds(value: Any) -> str:
    seconds = int(value)
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:g} d"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _filter_policy(policy: Mapping[str, Any]) -> str:
    """`eventType: OrderPlaced or OrderCancelled, amountCents > 0`."""
    parts = []
    for key, conditions in policy.items():
        shown = []
        for c in _list(conditions):
            if isinstance(c, dict) and "numeric" in c:
                n = c["numeric"]
                shown.append(" and ".join(f"{n[i]} {n[i + 1]}" for i in range(0, len(n), 2)))
            elif isinstance(c, dict):
                shown.append(json.dumps(c, separators=(",", ":")))
            else:
                shown.append(f"= {c}" if not shown else str(c))
        parts.append(f"{key} {' or '.join(shown)}")
    return ", ".join(parts)


_OPERATORS = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanOrEqualToThreshold": "≤",
    "LessThanThreshold": "<",
}
_METRICS = {
    "ApproximateNumberOfMessagesVisible": "messages visible",
    "ApproximateAgeOfOldestMessage": "age of oldest",
}


def _alarm_condition(p: Mapping[str, Any]) -> str:
    periods = int(p.get("EvaluationPeriods", 1))
    points = int(p.get("DatapointsToAlarm", periods))
    when = f"{points} of {periods} x {_seconds(p.get('Period', 60))}"
    threshold = float(p["Threshold"])
    shown = f"{threshold:g}"
    if p.get("MetricName", "").startswith("ApproximateAge"):
        shown = _seconds(threshold)
    metric = _METRICS.get(p.get("MetricName"), p.get("MetricName"))
    return f"{metric} ({p.get('Statistic', '')}) {_OPERATORS.get(p.get('ComparisonOperator'), '?')} {shown}, {when}"


def _steps(policy: Mapping[str, Any], threshold: float) -> str:
    """`≥ 1: +1, ≥ 100,000: +2` or `≤ 0: -50%`, absolute values of the alarm's metric."""
    percent = policy.get("AdjustmentType") == "PercentChangeInCapacity"
    parts = []
    for step in policy.get("StepAdjustments", []):
        adjustment = int(step["ScalingAdjustment"])
        change = f"{adjustment:+d}{'%' if percent else ''}"
        if adjustment > 0:
            parts.append(
                f"≥ {threshold + float(step.get('MetricIntervalLowerBound', 0)):,g}: {change}"
            )
        else:
            parts.append(
                f"≤ {threshold + float(step.get('MetricIntervalUpperBound', 0)):,g}: {change}"
            )
    warmup = policy.get("EstimatedInstanceWarmup")
    return ", ".join(parts) + (f", warm-up {_seconds(warmup)}" if warmup else "")


def _escape(text: str) -> str:
    """Mermaid's entity codes for what its HTML labels would misread (line breaks stay)."""
    text = text.replace('"', "#quot;").replace("<br/>", "\0")
    return text.replace("<", "#lt;").replace(">", "#gt;").replace("\0", "<br/>")


# -- pages -------------------------------------------------------------------------------------


def render_page(stack_id: str, templates: Mapping[str, StackTemplate]) -> str:
    """The Markdown page of one stack: one diagram per profile."""
    first = next(iter(templates.values()))
    lines = [
        f"# {stack_id}: data path",
        "",
        "<!-- Generated by tools/diagrams.py from the synthesized templates (`./run diagrams`). "
        "Do not edit: tests/tools/test_diagrams.py fails when this page differs from them. -->",
        "",
        f"{first.template.get('Description', '')}. Drawn from what `cdk synth` writes, so it "
        "shows what CloudFormation would deploy: solid arrows carry messages or data, dotted "
        "ones lead to dead-letter queues, alarms and scaling. Labels are construct paths. "
        "Every alarm also notifies the stack's alarm topic.",
    ]
    for profile, template in templates.items():
        lines += ["", f"## {profile}", "", "```mermaid", DataPath.of(template).mermaid(), "```"]
    return "\n".join(lines) + "\n"


def render_all(assemblies: Mapping[str, Any]) -> dict[Path, str]:
    """{page path: text} for every stack, from {profile: Assembly}."""
    stack_ids = list(next(iter(assemblies.values())).stacks)
    return {
        DOCS / f"{stack_id}.md": render_page(
            stack_id, {profile: a.stacks[stack_id] for profile, a in assemblies.items()}
        )
        for stack_id in stack_ids
    }


README = ROOT / "README.md"
# A diagram embedded in a Markdown file: <!-- diagram:WriteBuffer:production --> ... <!-- /diagram:... -->
_BLOCK = re.compile(r"(<!-- diagram:(\w+):(\w+) -->\n).*?(<!-- /diagram:\2:\3 -->)", re.DOTALL)


def render_blocks(text: str, assemblies: Mapping[str, Any]) -> str:
    """`text` with every embedded diagram block redrawn from its stack and profile."""

    def redraw(match: re.Match) -> str:
        stack_id, profile = match.group(2), match.group(3)
        chart = DataPath.of(assemblies[profile].stacks[stack_id]).mermaid()
        return f"{match.group(1)}```mermaid\n{chart}\n```\n{match.group(4)}"

    return _BLOCK.sub(redraw, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a page differs")
    parser.add_argument(
        "--cdk-out",
        action="append",
        default=[],
        metavar="PROFILE=DIR",
        help="a `cdk synth` folder per profile (default: synthesize both)",
    )
    args = parser.parse_args(argv)
    from tools.template_reader import Assembly, synthesize

    given = dict(item.split("=", 1) for item in args.cdk_out)
    assemblies = {
        profile: Assembly.from_directory(given[profile])
        if profile in given
        else synthesize(profile)
        for profile in PROFILES
    }
    stale = []
    pages = render_all(assemblies)
    pages[README] = render_blocks(README.read_text(), assemblies)
    for path, text in pages.items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                print(f"wrote {path.relative_to(ROOT)}")
    if not args.check and not stale:
        print("docs/diagrams/ and the README's diagram match the templates")
    if stale:
        print(
            "stale (run ./run diagrams): " + ", ".join(str(p.relative_to(ROOT)) for p in stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
