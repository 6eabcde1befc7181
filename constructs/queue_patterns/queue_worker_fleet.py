"""EC2 Auto Scaling fleet on one side of an SQS queue: consumers scaled on how backed up it is,
or producers scaled on their own load.

Why a construct: the consumer side of a write buffer (seed 004) has to grow when a burst lands
and shrink to nothing when the queue is empty, run a long-lived poller as a proper service, and
be locked down the way a reviewer expects. This puts that in one place:

- Instances: Amazon Linux 2023 on Graviton, IMDSv2 only, encrypted gp3 root volume, no SSH key
  and no inbound rule (Session Manager instead), egress only on 443 plus what callers allow.
- The worker: a folder with a `requirements.txt`, shipped as a CDK asset, installed into a venv
  and run as a hardened systemd service (`Type=notify` watchdog, restart on failure, SIGTERM
  with a grace period so scale-in drains in-flight work), logs shipped to CloudWatch Logs. A
  worker that keeps failing marks its own instance Unhealthy, so the group replaces it.
- Scaling, two ways:
  * `"step"` (default): step scaling on `ApproximateNumberOfMessagesVisible`. Scale-out steps add
    more instances the deeper the queue; scale-in halves the fleet once nothing has been waiting
    for `scale_in_after`, down to `min_capacity` (0: an empty queue costs no instances).
  * `"backlog_per_instance"`: target tracking on visible messages / in-service instances (metric
    math, through the L1 policy since the L2 cannot take it). It sizes the fleet in one move
    from "how many messages can one instance clear within the acceptable latency", which step
    scaling only approximates with fixed thresholds; it cannot scale out from zero instances.
  * `"cpu"`: target tracking on the group's average CPU. For a producer fleet
    (`queue_access="send"`, seed 001 pattern 4's producer side), whose load is its input, not the
    queue: scaling producers on the backlog they create would add producers as consumers fall
    behind.
  * `"none"`: no scaling policy; the group runs `min_capacity` instances until someone sets its
    desired capacity (a load generator in a sandbox, started for a demo and stopped after it).

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

SCALING_MODES = ("step", "backlog_per_instance", "cpu", "none")
QUEUE_ACCESS = ("consume", "send")
INSTALL_DIR = "/opt/queue-worker"


class QueueWorkerFleet(Construct):
    """Auto Scaling group of queue workers: consumers scaled on queue depth, or producers on CPU.

    Attributes: `auto_scaling_group`, `role`, `security_group` (allow it to reach your database),
    `log_group`, `scaling_policies`.

    Props:
        vpc: the VPC to run in.
        queue: the queue the workers consume (receive/delete/change-visibility) or, with `queue_access="send"`, send to.
        queue_access: `consume` (a consumer fleet) or `send` (a producer fleet: send-only, needs `scaling="cpu"` or `"none"`).
        code_path: folder with the worker package and a `requirements.txt`, shipped as an asset.
        module: Python module the service runs with `python -m`.
        environment: extra environment variables for the worker (QUEUE_URL and AWS_REGION are set).
        vpc_subnets: where instances run; public subnets get a public IP (no NAT needed).
        instance_type: a Graviton (arm64) type; default t4g.micro.
        min_capacity: fewest instances; 0 lets an empty queue cost nothing.
        max_capacity: most instances: the ceiling on database write load.
        scaling: `step` (on visible messages), `backlog_per_instance` (target tracking, metric math), `cpu` (target tracking on average CPU) or `none` (capacity set by hand).
        scale_out_steps: (visible messages at least, instances to add) pairs, thresholds rising.
        scale_in_after: whole minutes with nothing visible before the fleet is halved.
        target_backlog_per_instance: `backlog_per_instance` target: acceptable latency / seconds per message.
        target_cpu_utilization: `cpu` target: the average CPU percent (10..90) the group is sized to.
        instance_warmup: time before a new instance counts toward metrics and health.
        shutdown_grace: SIGTERM-to-kill time for the worker to finish in-flight batches (1..300 s).
        notifications_topic: SNS topic for launch/terminate notifications.
        log_retention: worker log retention.
        log_encryption_key: customer-managed KMS key for the log group; None: CloudWatch Logs' own encryption.
        removal_policy: what `cdk destroy` does to the worker log group.
        setup_module: a module run once at boot, before the service (`python -m`, a systemd one-shot); None: none.
        setup_environment: environment of the setup step only (the service never sees it); `{worker_home}` is the install folder.
        boot_downloads: files fetched over HTTPS at boot into the install folder, {file name: https URL}.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        queue: sqs.IQueue,
        code_path: str,
        module: str,
        queue_access: str = "consume",
        environment: Mapping[str, str] | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        instance_type: ec2.InstanceType | None = None,
        min_capacity: int = 0,
        max_capacity: int = 4,
        scaling: str = "step",
        scale_out_steps: Sequence[tuple[int, int]] = ((1, 1), (100, 2), (500, 4)),
        scale_in_after: Duration = Duration.minutes(5),
        target_backlog_per_instance: int = 500,
        target_cpu_utilization: int = 60,
        instance_warmup: Duration = Duration.minutes(3),
        shutdown_grace: Duration = Duration.seconds(30),
        notifications_topic: sns.ITopic | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        setup_module: str | None = None,
        setup_environment: Mapping[str, str] | None = None,
        boot_downloads: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        instance_type = instance_type or ec2.InstanceType("t4g.micro")
        _validate_setup(setup_module, setup_environment, boot_downloads)
        _validate(
            code_path=code_path,
            module=module,
            queue_access=queue_access,
            instance_type=instance_type,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            scaling=scaling,
            scale_out_steps=scale_out_steps,
            scale_in_after=scale_in_after,
            target_backlog_per_instance=target_backlog_per_instance,
            target_cpu_utilization=target_cpu_utilization,
            shutdown_grace=shutdown_grace,
        )
        service = _service_name(id_)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=log_encryption_key,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Queue worker instances: {queue_access} the queue, ship logs, Session Manager",
        )
        # Session Manager instead of SSH, with only what its agent needs
        # (https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-create-iam-instance-profile.html).
        # Not AmazonSSMManagedInstanceCore: that also lets every worker read every SSM
        # parameter in the account (ssm:GetParameter(s) on *) and run SSM documents.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="SessionManager",
                actions=[
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                resources=["*"],
            )
        )
        if queue_access == "send":
            # SendMessage only, and on an encrypted queue the two key actions a producer needs,
            # usable only through SQS (CDK's grant_send_messages adds queue reads and
            # kms:Encrypt/ReEncrypt*).
            self.role.add_to_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
            )
            if queue.encryption_master_key is not None:
                self.role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["kms:GenerateDataKey", "kms:Decrypt"],
                        resources=[queue.encryption_master_key.key_arn],
                        conditions={
                            "StringEquals": {
                                "kms:ViaService": f"sqs.{Stack.of(self).region}.amazonaws.com"
                            }
                        },
                    )
                )
        else:
            queue.grant_consume_messages(self.role)
        self.log_group.grant_write(self.role)
        self.log_group.grant(self.role, "logs:DescribeLogStreams")  # the CloudWatch agent's check

        code = s3_assets.Asset(
            self, "WorkerCode", path=code_path, exclude=["**/__pycache__", "**/*.pyc", "tests"]
        )
        # Just this one object, not the whole assets bucket that `grant_read` would open.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[code.bucket.arn_for_objects(code.s3_object_key)],
            )
        )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Queue workers: no inbound; outbound HTTPS to AWS APIs and packages",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to SQS, S3, Secrets Manager, packages"
        )

        env = {
            "QUEUE_URL": queue.queue_url,
            "AWS_REGION": Stack.of(self).region,
            "SHUTDOWN_GRACE_SECONDS": str(int(shutdown_grace.to_seconds())),
            **(environment or {}),
        }
        user_data = ec2.UserData.for_linux()
        archive = user_data.add_s3_download_command(
            bucket=code.bucket, bucket_key=code.s3_object_key
        )
        user_data.add_commands(
            *_install_commands(
                service=service,
                archive=archive,
                module=module,
                environment=env,
                log_group=self.log_group.log_group_name,
                stop_timeout=int(shutdown_grace.to_seconds()) + 15,
                setup_module=setup_module,
                setup_environment={
                    "AWS_REGION": Stack.of(self).region,
                    **(setup_environment or {}),
                },
                downloads=boot_downloads or {},
            )
        )

        launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ec2.MachineImage.latest_amazon_linux2023(
                cpu_type=ec2.AmazonLinuxCpuType.ARM_64
            ),
            instance_type=instance_type,
            role=self.role,
            security_group=self.security_group,
            user_data=user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            associate_public_ip_address=_public(vpc, vpc_subnets),
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        10, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            launch_template=launch_template,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            default_instance_warmup=instance_warmup,
            group_metrics=[autoscaling.GroupMetrics.all()],
            health_checks=autoscaling.HealthChecks.ec2(grace_period=instance_warmup),
            # New instances must come up healthy before old ones go: a broken worker build
            # rolls back instead of draining the fleet.
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                min_instances_in_service=min_capacity,
                max_batch_size=1,
                pause_time=instance_warmup,
            ),
            notifications=(
                [autoscaling.NotificationConfiguration(topic=notifications_topic)]
                if notifications_topic
                else None
            ),
        )
        stack = Stack.of(self)
        # Its own policy, not the role's default one: the launch template waits for the
        # default policy, and this statement names the group, which waits for the template.
        health_policy = iam.Policy(
            self,
            "ReportHealth",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["autoscaling:SetInstanceHealth"],
                    # The group's ARN holds a UUID known only after creation; its name pins it.
                    resources=[
                        f"arn:{stack.partition}:autoscaling:{stack.region}:{stack.account}:"
                        "autoScalingGroup:*:autoScalingGroupName/"
                        f"{self.auto_scaling_group.auto_scaling_group_name}"
                    ],
                )
            ],
        )
        Validations.of(self.role.node.find_child("DefaultPolicy")).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Session Manager only: the ssmmessages channel actions have no resource "
                "type, and AWS's minimal Session Manager instance policy grants "
                "ssm:UpdateInstanceInformation on *; no parameter, document or command access",
            )
        )
        Validations.of(health_policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_nag_arn(stack, self.auto_scaling_group)}]",
                reason="An Auto Scaling group's ARN contains a UUID assigned at creation; the "
                "group name pins SetInstanceHealth to this fleet's own group",
            )
        )
        if scaling == "step":
            self.scaling_policies = self._step_scaling(
                queue, scale_out_steps, scale_in_after, instance_warmup
            )
        elif scaling == "backlog_per_instance":
            self.scaling_policies = [
                self._backlog_tracking(queue, target_backlog_per_instance, instance_warmup)
            ]
        elif scaling == "cpu":
            self.scaling_policies = [
                self.auto_scaling_group.scale_on_cpu_utilization(
                    "CpuTracking", target_utilization_percent=target_cpu_utilization
                )
            ]
        else:
            self.scaling_policies = []

    def _step_scaling(self, queue, scale_out_steps, scale_in_after, warmup):
        """Scale out in steps on visible messages; halve the fleet once nothing waits."""
        visible = queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        )
        scale_out = autoscaling.StepScalingAction(
            self,
            "ScaleOut",
            auto_scaling_group=self.auto_scaling_group,
            adjustment_type=autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            estimated_instance_warmup=warmup,
            metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
        )
        first = scale_out_steps[0][0]
        bounds = [threshold - first for threshold, _ in scale_out_steps] + [None]
        for (_, add), lower, upper in zip(scale_out_steps, bounds, bounds[1:], strict=False):
            scale_out.add_adjustment(adjustment=add, lower_bound=lower, upper_bound=upper)
        scale_out_alarm = cloudwatch.Alarm(
            self,
            "BacklogGrowing",
            alarm_description=f"{first}+ messages waiting: add workers",
            metric=visible,
            threshold=first,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        scale_out_alarm.add_alarm_action(cw_actions.AutoScalingAction(scale_out))

        scale_in = autoscaling.StepScalingAction(
            self,
            "ScaleIn",
            auto_scaling_group=self.auto_scaling_group,
            adjustment_type=autoscaling.AdjustmentType.PERCENT_CHANGE_IN_CAPACITY,
            min_adjustment_magnitude=1,
            metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
        )
        scale_in.add_adjustment(adjustment=-50, upper_bound=0)
        minutes = int(scale_in_after.to_minutes())
        scale_in_alarm = cloudwatch.Alarm(
            self,
            "BacklogEmpty",
            alarm_description=f"Nothing waiting for {minutes} min: halve the workers",
            metric=visible,
            threshold=0,
            evaluation_periods=minutes,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data means SQS reported nothing: an idle queue, so scaling in is right.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        scale_in_alarm.add_alarm_action(cw_actions.AutoScalingAction(scale_in))
        return [scale_out, scale_in]

    def _backlog_tracking(self, queue, target, warmup):
        """Target tracking on backlog per instance: visible messages / in-service instances."""
        dimension = autoscaling.CfnScalingPolicy.MetricDimensionProperty

        def stat(id_, namespace, name, dims, return_data=False):
            return autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                id=id_,
                return_data=return_data,
                metric_stat=autoscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty(
                    metric=autoscaling.CfnScalingPolicy.MetricProperty(
                        namespace=namespace, metric_name=name, dimensions=dims
                    ),
                    stat="Sum" if namespace == "AWS/SQS" else "Average",
                ),
            )

        return autoscaling.CfnScalingPolicy(
            self,
            "BacklogPerInstance",
            auto_scaling_group_name=self.auto_scaling_group.auto_scaling_group_name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=int(warmup.to_seconds()),
            target_tracking_configuration=autoscaling.CfnScalingPolicy.TargetTrackingConfigurationProperty(
                target_value=target,
                customized_metric_specification=autoscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        stat(
                            "visible",
                            "AWS/SQS",
                            "ApproximateNumberOfMessagesVisible",
                            [dimension(name="QueueName", value=queue.queue_name)],
                        ),
                        stat(
                            "instances",
                            "AWS/AutoScaling",
                            "GroupInServiceInstances",
                            [
                                dimension(
                                    name="AutoScalingGroupName",
                                    value=self.auto_scaling_group.auto_scaling_group_name,
                                )
                            ],
                        ),
                        autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                            id="backlogPerInstance",
                            expression="visible / instances",
                            label="Visible messages per in-service instance",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )


def _validate(
    *,
    code_path,
    module,
    queue_access,
    instance_type,
    min_capacity,
    max_capacity,
    scaling,
    scale_out_steps,
    scale_in_after,
    target_backlog_per_instance,
    target_cpu_utilization,
    shutdown_grace,
) -> None:
    """Fail synth with a message naming the prop, its value and the rule."""
    name = "QueueWorkerFleet"
    if not (Path(code_path) / "requirements.txt").is_file():
        raise ValueError(
            f"{name}.code_path: {code_path!r} has no requirements.txt; the instances install "
            "the worker's dependencies from it at boot"
        )
    if not module.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"{name}.module: {module!r} is not a Python module name")
    if instance_type.architecture != ec2.InstanceArchitecture.ARM_64:
        raise ValueError(
            f"{name}.instance_type: {instance_type.to_string()} is not a Graviton (arm64) type; the fleet "
            "runs the arm64 Amazon Linux 2023 image"
        )
    if not 0 <= min_capacity <= max_capacity or max_capacity < 1:
        raise ValueError(
            f"{name}.max_capacity: {max_capacity} must be at least 1 and at least "
            f"min_capacity ({min_capacity}), which must be 0 or more"
        )
    if scaling not in SCALING_MODES:
        raise ValueError(f"{name}.scaling: {scaling!r} is not one of {', '.join(SCALING_MODES)}")
    if queue_access not in QUEUE_ACCESS:
        raise ValueError(
            f"{name}.queue_access: {queue_access!r} is not one of {', '.join(QUEUE_ACCESS)}"
        )
    if queue_access == "send" and scaling not in ("cpu", "none"):
        raise ValueError(
            f"{name}.scaling: {scaling!r} with queue_access='send' would scale producers on the "
            "backlog they create, adding producers as consumers fall behind; a producer fleet "
            "scales on its own load (scaling='cpu') or is sized by hand (scaling='none')"
        )
    if scaling == "step":
        thresholds = [t for t, _ in scale_out_steps]
        if not scale_out_steps or thresholds[0] < 1 or thresholds != sorted(set(thresholds)):
            raise ValueError(
                f"{name}.scale_out_steps: thresholds {thresholds} must start at 1 or more and "
                "rise strictly; each step applies from its threshold up to the next"
            )
        if any(add < 1 for _, add in scale_out_steps):
            raise ValueError(
                f"{name}.scale_out_steps: {list(scale_out_steps)} has a step that adds fewer "
                "than 1 instance; scale-out steps must add instances"
            )
        if scale_in_after.to_seconds() % 60 or not 60 <= scale_in_after.to_seconds() <= 3600:
            raise ValueError(
                f"{name}.scale_in_after: {scale_in_after.to_seconds()}s must be whole minutes "
                "from 1 to 60; SQS metrics arrive once a minute (https://docs.aws.amazon.com/"
                "AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-monitoring-using-cloudwatch.html)"
            )
    elif scaling == "backlog_per_instance" and min_capacity < 1:
        raise ValueError(
            f"{name}.min_capacity: 0 with scaling='backlog_per_instance' cannot work; backlog "
            "per instance divides by the in-service count, which is undefined at zero "
            "instances, so target tracking would never scale out from zero (use min 1, or "
            "step scaling)"
        )
    elif scaling == "cpu" and min_capacity < 1:
        raise ValueError(
            f"{name}.min_capacity: 0 with scaling='cpu' cannot work; with no instance there is "
            "no CPU metric, so target tracking would never scale out from zero (use min 1)"
        )
    if not 10 <= target_cpu_utilization <= 90:
        raise ValueError(
            f"{name}.target_cpu_utilization: {target_cpu_utilization} is outside 10..90 percent; "
            "lower wastes instances, higher leaves no headroom while new ones boot"
        )
    if target_backlog_per_instance < 1:
        raise ValueError(
            f"{name}.target_backlog_per_instance: {target_backlog_per_instance} must be 1 or "
            "more (acceptable latency / average processing time per message)"
        )
    if not 1 <= shutdown_grace.to_seconds() <= 300:
        raise ValueError(
            f"{name}.shutdown_grace: {shutdown_grace.to_seconds()}s is outside 1..300s, this "
            "construct's range: a scale-in should not wait on a worker for more than minutes"
        )


def _validate_setup(setup_module, setup_environment, boot_downloads) -> None:
    name = "QueueWorkerFleet"
    if setup_module is not None and not setup_module.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"{name}.setup_module: {setup_module!r} is not a Python module name")
    if setup_environment and setup_module is None:
        raise ValueError(
            f"{name}.setup_environment: given without setup_module; it is the setup step's "
            "environment (the service never sees it)"
        )
    for file_name, url in (boot_downloads or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", file_name):
            raise ValueError(
                f"{name}.boot_downloads: {file_name!r} is not a plain file name (letters, "
                "digits, '.', '_', '-')"
            )
        if not re.fullmatch(r"https://[^\s'\"]+", url):
            raise ValueError(
                f"{name}.boot_downloads: {url!r} is not an https URL; boot downloads are fetched "
                "over TLS only"
            )


def _nag_arn(stack: Stack, group: autoscaling.AutoScalingGroup) -> str:
    """The group-name ARN as cdk-nag prints it: intrinsics as <AWS::Region>, refs as <LogicalId>."""

    def shown(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value

    logical_id = stack.resolve(stack.get_logical_id(group.node.default_child))
    return (
        f"arn:{shown(stack.partition, 'Partition')}:autoscaling:{shown(stack.region, 'Region')}:"
        f"{shown(stack.account, 'AccountId')}:autoScalingGroup:*:autoScalingGroupName/<{logical_id}>"
    )


def _service_name(id_: str) -> str:
    """`WriteWorkers` -> `write-workers`: a systemd unit and user name from the construct id."""
    chars = [("-" + c.lower()) if c.isupper() else c for c in id_]
    return "".join(chars).lstrip("-").replace("_", "-")


def _public(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> bool | None:
    """Public subnets need a public IP for the instances to reach AWS APIs without a NAT."""
    if selection is None or selection.subnet_type != ec2.SubnetType.PUBLIC:
        return None
    return True


def _install_commands(
    *,
    service,
    archive,
    module,
    environment,
    log_group,
    stop_timeout,
    setup_module=None,
    setup_environment=None,
    downloads=None,
):
    """Boot script: install the worker into a venv, run it as a hardened systemd service (after
    its one-shot setup step, if it has one)."""
    home = f"{INSTALL_DIR}/{service}"

    def env_file(values) -> str:
        return "\n".join(
            f"{key}={str(value).replace('{worker_home}', home)}" for key, value in values.items()
        )

    env_lines = env_file(environment)
    agent_config = json.dumps(
        {
            "logs": {
                "logs_collected": {
                    "files": {
                        "collect_list": [
                            {
                                "file_path": f"/var/log/{service}/{name}.log",
                                "log_group_name": log_group,
                                "log_stream_name": "{instance_id}" + suffix,
                            }
                            for name, suffix in (("worker", ""), ("setup", "-setup"))
                            if name == "worker" or setup_module
                        ]
                    }
                }
            }
        }
    )
    logrotate = f"""/var/log/{service}/worker.log {{
    daily
    rotate 3
    compress
    missingok
    copytruncate
}}
"""
    # The health signal the Auto Scaling group acts on: a worker that keeps failing (five
    # failed starts or watchdog kills in ten minutes) marks its instance Unhealthy, and the group
    # replaces it, instead of the instance sitting in the fleet consuming nothing.
    mark_unhealthy = """#!/bin/bash
token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
instance=$(curl -sf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
exec aws autoscaling set-instance-health --instance-id "$instance" --health-status Unhealthy
"""
    unhealthy_unit = f"""[Unit]
Description=Report {service}'s instance Unhealthy to its Auto Scaling group

[Service]
Type=oneshot
ExecStart=/usr/local/bin/{service}-mark-unhealthy
"""
    setup = f"{service}-setup.service"
    setup_unit = f"""[Unit]
Description=One-shot setup of {service}, before it starts
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
User={service}
WorkingDirectory={home}
EnvironmentFile=/etc/{service}-setup.env
ExecStart={home}/venv/bin/python -m {setup_module}
Restart=on-failure
RestartSec=10
StandardOutput=append:/var/log/{service}/setup.log
StandardError=inherit
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=/var/log/{service}
"""
    ordering = f"{setup} network-online.target" if setup_module else "network-online.target"
    requires = f"Requires={setup}\n" if setup_module else ""
    unit = f"""[Unit]
Description=Queue worker {service}
After={ordering}
Wants=network-online.target
{requires}StartLimitIntervalSec=600
StartLimitBurst=5
OnFailure={service}-unhealthy.service

[Service]
Type=notify
NotifyAccess=main
User={service}
WorkingDirectory={home}
EnvironmentFile=/etc/{service}.env
ExecStart={home}/venv/bin/python -m {module}
Restart=always
RestartSec=5
WatchdogSec=60
KillSignal=SIGTERM
TimeoutStopSec={stop_timeout}
StandardOutput=append:/var/log/{service}/worker.log
StandardError=inherit
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=/var/log/{service}

[Install]
WantedBy=multi-user.target
"""
    fetch = [
        f"curl --fail --silent --show-error --retry 5 --proto '=https' --tlsv1.2 "
        f"-o {home}/{name} {shlex.quote(url)}"
        for name, url in (downloads or {}).items()
    ]
    setup_files = (
        [
            f"cat > /etc/{service}-setup.env <<'ENV'\n{env_file(setup_environment)}\nENV",
            f"chmod 600 /etc/{service}-setup.env",
            f"cat > /etc/systemd/system/{setup} <<'UNIT'\n{setup_unit}UNIT",
        ]
        if setup_module
        else []
    )
    return [
        "set -euo pipefail",
        "dnf install -y python3.11 python3.11-pip unzip amazon-cloudwatch-agent",
        f"useradd --system --no-create-home --shell /sbin/nologin {service}",
        f"mkdir -p {home} /var/log/{service}",
        f"chown {service} /var/log/{service}",
        f"unzip -o {shlex.quote(archive)} -d {home}",
        *fetch,
        f"python3.11 -m venv {home}/venv",
        f"{home}/venv/bin/pip install --no-cache-dir -r {home}/requirements.txt",
        f"cat > /etc/{service}.env <<'ENV'\n{env_lines}\nENV",
        f"chmod 600 /etc/{service}.env",
        *setup_files,
        f"cat > /etc/logrotate.d/{service} <<'ROTATE'\n{logrotate}ROTATE",
        f"cat > /usr/local/bin/{service}-mark-unhealthy <<'SCRIPT'\n{mark_unhealthy}SCRIPT",
        f"chmod 755 /usr/local/bin/{service}-mark-unhealthy",
        f"cat > /etc/systemd/system/{service}-unhealthy.service <<'UNIT'\n{unhealthy_unit}UNIT",
        f"cat > /etc/systemd/system/{service}.service <<'UNIT'\n{unit}UNIT",
        f"cat > /opt/aws/amazon-cloudwatch-agent/etc/{service}.json <<'CWA'\n{agent_config}\nCWA",
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 "
        f"-s -c file:/opt/aws/amazon-cloudwatch-agent/etc/{service}.json",
        "systemctl daemon-reload",
        f"systemctl enable --now {service}.service",
    ]
