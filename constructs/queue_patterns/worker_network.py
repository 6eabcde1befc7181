"""VPC for queue workers and their database: isolated data tier, flow logs, no NAT unless asked.

Why a construct: the network decides what a write buffer costs when idle and what a reviewer can
trust. The database subnets never route to the internet. Workers sit in private subnets behind
NAT gateways when `nat_gateways > 0`, or in public subnets with no inbound rule when it is 0 (a
sandbox: a NAT gateway bills for every hour it exists, https://aws.amazon.com/vpc/pricing/). An S3
gateway endpoint (no charge: https://docs.aws.amazon.com/prescriptive-guidance/latest/aws-startup-security-baseline/wkld-12.html)
keeps asset and package downloads off the NAT, and flow logs record every accepted and rejected
connection.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

# Where RDS states the rule enforced below (as of 2026-12-02).
RDS_SUBNET_GROUP = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html"
)


class WorkerNetwork(Construct):
    """Two- or three-tier VPC. Attributes: `vpc`, `worker_subnets`, `flow_log_group`.

    Props:
        max_azs: Availability Zones (2..6; RDS needs two).
        nat_gateways: 0 puts workers in public subnets; 1+ adds private worker subnets behind NAT.
        cidr: the VPC's IPv4 range.
        flow_log_retention: VPC flow log retention.
        log_encryption_key: customer-managed KMS key for the log group; None: CloudWatch Logs' own encryption.
        removal_policy: what `cdk destroy` does to the flow log group.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        max_azs: int = 2,
        nat_gateways: int = 0,
        cidr: str = "10.40.0.0/16",
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        if not 2 <= max_azs <= 6:
            raise ValueError(
                f"WorkerNetwork.max_azs: {max_azs} is outside 2..6; an RDS subnet group needs "
                f"subnets in at least two Availability Zones ({RDS_SUBNET_GROUP}), and six is "
                "this construct's cap"
            )
        if not 0 <= nat_gateways <= max_azs:
            raise ValueError(
                f"WorkerNetwork.nat_gateways: {nat_gateways} is outside 0..max_azs ({max_azs}); "
                "one per AZ is the most that helps"
            )
        private = nat_gateways > 0
        subnets = [
            ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="Data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
            ),
        ]
        if private:
            subnets.insert(
                1,
                ec2.SubnetConfiguration(
                    name="Workers", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=flow_log_retention,
            encryption_key=log_encryption_key,
            removal_policy=removal_policy,
        )
        self.vpc.add_flow_log(
            "FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group)
        )
        self.worker_subnets = ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS if private else ec2.SubnetType.PUBLIC
        )
