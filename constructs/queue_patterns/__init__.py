"""Reusable CDK constructs for queue-based architectures on AWS, and the queue rules that check any app.

Each module is one construct that imports only `aws_cdk` and `constructs` (the rules plugin also
`jsii`): copy the file you need into your own app. This package only gathers them for this
project's stacks.
"""

from queue_patterns.alarm_topic import AlarmTopic
from queue_patterns.aurora_postgres_database import AuroraPostgresDatabase
from queue_patterns.event_rule_to_queue import EventRuleToQueue
from queue_patterns.lambda_queue_consumer import LambdaQueueConsumer
from queue_patterns.postgres_database import PostgresDatabase
from queue_patterns.queue_alarms import QueueAlarms
from queue_patterns.queue_dashboard import QueueDashboard
from queue_patterns.queue_rules import QueueRules, acknowledge_queue_rule
from queue_patterns.queue_with_dead_letter import QueueWithDeadLetter
from queue_patterns.queue_worker_fleet import QueueWorkerFleet
from queue_patterns.rest_api_to_queue import RestApiToQueue
from queue_patterns.scheduled_queue_worker import ScheduledQueueWorker
from queue_patterns.worker_network import WorkerNetwork

__all__ = [
    "AlarmTopic",
    "AuroraPostgresDatabase",
    "EventRuleToQueue",
    "LambdaQueueConsumer",
    "PostgresDatabase",
    "QueueAlarms",
    "QueueDashboard",
    "QueueRules",
    "QueueWithDeadLetter",
    "QueueWorkerFleet",
    "RestApiToQueue",
    "ScheduledQueueWorker",
    "WorkerNetwork",
    "acknowledge_queue_rule",
]
