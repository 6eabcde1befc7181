"""One CloudWatch dashboard that tells whether a queue pattern is keeping up.

Why a construct: during a burst an operator asks three questions: is work arriving faster than
it leaves (visible vs. in flight, oldest message age), are consumers scaling (in-service
instances), and is anything failing (dead letters)? This puts those graphs on one screen.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class QueueDashboard(Construct):
    """Backlog, age, dead letters and (optionally) consumer count. Attributes: `dashboard`, `url`.

    Props:
        queue: the source queue.
        dead_letter_queue: its DLQ.
        consumer_group: an Auto Scaling group of consumers, graphed as instances in service.
        extra_widgets: more widgets to append (API, database, Lambda graphs).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        consumer_group: autoscaling.IAutoScalingGroup | None = None,
        extra_widgets: list[cloudwatch.IWidget] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        minute = Duration.minutes(1)
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Backlog: waiting vs. being worked",
                left=[
                    queue.metric_approximate_number_of_messages_visible(period=minute),
                    queue.metric_approximate_number_of_messages_not_visible(period=minute),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Oldest message age (s)",
                left=[queue.metric_approximate_age_of_oldest_message(period=minute)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Throughput: sent vs. deleted",
                left=[
                    queue.metric_number_of_messages_sent(period=minute, statistic="Sum"),
                    queue.metric_number_of_messages_deleted(period=minute, statistic="Sum"),
                ],
                width=8,
            ),
            cloudwatch.SingleValueWidget(
                title="Dead letters",
                metrics=[dead_letter_queue.metric_approximate_number_of_messages_visible()],
                width=8,
            ),
        ]
        if consumer_group is not None:
            widgets.append(
                cloudwatch.GraphWidget(
                    title="Consumers in service",
                    left=[
                        cloudwatch.Metric(
                            namespace="AWS/AutoScaling",
                            metric_name="GroupInServiceInstances",
                            dimensions_map={
                                "AutoScalingGroupName": consumer_group.auto_scaling_group_name
                            },
                            period=minute,
                        )
                    ],
                    width=8,
                )
            )
        widgets.extend(extra_widgets or [])
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", widgets=[widgets])
        self.url = (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )
