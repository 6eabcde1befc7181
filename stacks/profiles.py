"""Deployment profiles: every sandbox/production difference, on one screen.

A stack never asks "am I in production?"; it reads plain values from the `Profile` it is given.
`app.py` picks the profile once, from `-c profile=...`, so a reviewer can see every difference
between a throwaway sandbox and a production deployment here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Profile:
    """The knobs that differ between a sandbox and a production deployment."""

    name: str
    # Network: NAT gateways cost ~$32/month each; a sandbox puts workers in public subnets
    # (no inbound rules) so it needs none.
    nat_gateways: int
    max_azs: int
    # Compute and database sizes.
    worker_instance_type: str
    worker_max_capacity: int
    # The write buffer's database: "aurora-serverless" (AuroraPostgresDatabase: ACUs between a
    # minimum and a maximum, paused at a minimum of 0 after `database_auto_pause_minutes` without
    # a connection) or "rds-instance" (PostgresDatabase: an instance class and gp3 storage).
    database_engine: str
    database_instance_type: str
    database_allocated_storage_gib: int
    database_min_capacity: float
    database_max_capacity: float
    database_auto_pause_minutes: int
    multi_az: bool
    deletion_protection: bool
    backup_retention_days: int
    # Data lifetime: a sandbox is destroyed whole by `cdk destroy`; production keeps its data.
    retain_data: bool
    # Encryption: customer-managed KMS keys (rotating, with auditable key policies) in production;
    # AWS-managed or service-managed keys in a sandbox, where a $1/month key buys nothing.
    customer_managed_keys: bool
    log_retention_days: int
    # Edge protection: a WAF web ACL costs ~$5/month plus per-rule fees.
    web_application_firewall: bool
    # RDS Enhanced Monitoring (OS metrics every N seconds, 0 = off) bills CloudWatch Logs
    # ingestion of its metrics.
    database_monitoring_seconds: int
    # Log pipeline input: a sandbox has no application, so its shippers generate access lines at
    # a fixed rate; production's follow the application's log file on each instance.
    log_source: str
    log_lines_per_second: int
    # The log pipeline's fleets: a sandbox runs none at rest (its shippers are a load generator
    # you start for a demo; its archivers scale from zero on step scaling), production keeps one
    # of each and scales on CPU and on backlog per instance.
    pipeline_shippers_scaling: str
    pipeline_archivers_scaling: str
    pipeline_min_capacity: int
    # What this profile gives up that a security scanner or a reviewer will flag, each with its
    # reason, stated once here; the cdk-nag acknowledgments quote these texts.
    trade_offs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


SANDBOX = Profile(
    name="sandbox",
    nat_gateways=0,
    max_azs=2,
    worker_instance_type="t4g.micro",
    worker_max_capacity=2,
    database_engine="aurora-serverless",
    database_instance_type="",
    database_allocated_storage_gib=0,
    database_min_capacity=0,
    database_max_capacity=2,
    database_auto_pause_minutes=5,
    multi_az=False,
    deletion_protection=False,
    backup_retention_days=1,
    retain_data=False,
    customer_managed_keys=False,
    log_retention_days=7,
    web_application_firewall=False,
    database_monitoring_seconds=0,
    log_source="generate",
    log_lines_per_second=50,
    pipeline_shippers_scaling="none",
    pipeline_archivers_scaling="step",
    pipeline_min_capacity=0,
    trade_offs=MappingProxyType(
        {
            "public worker IPs": "Workers run in public subnets with a public IPv4 address so that "
            "they reach AWS APIs without a NAT gateway (~$32/month each plus data processing, "
            "https://aws.amazon.com/vpc/pricing/); their security group admits no inbound "
            "traffic at all. Production runs them in private subnets behind NAT.",
            "AWS-managed keys": "Queues use SQS-managed encryption, tables DynamoDB's AWS-owned "
            "key, buckets S3-managed keys, event topics the aws/sns key and the database the "
            "aws/rds key: encrypted at rest, under key policies AWS controls, at no key cost (a "
            "customer-managed key is $1/month, https://aws.amazon.com/kms/pricing/). Production "
            "uses customer-managed, rotating keys with auditable policies.",
            "unencrypted alarm topics": "Alarm topics are not encrypted: CloudWatch cannot "
            "publish to a topic under the AWS-managed aws/sns key, and a customer-managed key "
            "for each stack's alarm topic would cost $1/month a stack "
            "(https://aws.amazon.com/kms/pricing/) to protect alarm names, states and metric "
            "values, no business data. The topics stay TLS-only, and their policy lets only "
            "this account's alarms publish. Production encrypts them with a customer-managed "
            "key.",
            "single-AZ database": "One Aurora Serverless v2 instance, no reader in a second AZ: "
            "it pauses at 0 ACUs when idle and bills only its storage, and the queue buffers "
            "writes through an outage, a resume or a failover. Production is Multi-AZ.",
            "no deletion protection": "`cdk destroy` must remove everything it created. "
            "Production enables deletion protection and retains its data.",
            "no versioning": "Result buckets are not versioned: a sandbox's outputs are "
            "throwaway and `cdk destroy` empties them. Production versions them and expires old "
            "versions after 30 days.",
            "no web ACL": "A WAF web ACL costs ~$5/month plus per-rule fees "
            "(https://aws.amazon.com/waf/pricing/); IAM authorization and stage throttling still "
            "apply. Production attaches one, with logging.",
        }
    ),
)

PRODUCTION = Profile(
    name="production",
    nat_gateways=2,
    max_azs=2,
    worker_instance_type="c7g.large",
    worker_max_capacity=10,
    # A provisioned Multi-AZ instance: the write buffer flattens the database's load, and a flat
    # load is where an instance is cheapest per unit of work (README, "What it costs").
    database_engine="rds-instance",
    database_instance_type="m7g.large",
    database_allocated_storage_gib=100,
    database_min_capacity=0,
    database_max_capacity=0,
    database_auto_pause_minutes=0,
    multi_az=True,
    deletion_protection=True,
    backup_retention_days=14,
    retain_data=True,
    customer_managed_keys=True,
    log_retention_days=365,
    web_application_firewall=True,
    database_monitoring_seconds=60,
    log_source="/var/log/app/access.log",
    log_lines_per_second=0,
    pipeline_shippers_scaling="cpu",
    pipeline_archivers_scaling="backlog_per_instance",
    pipeline_min_capacity=1,
)

# Every retention period CloudWatch Logs accepts (PutRetentionPolicy's retentionInDays, as of
# 2026-12-02: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html),
# by CDK's name for it.
_RETENTION_NAMES = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


def log_retention(profile: Profile):
    """The profile's log retention as CDK's `RetentionDays`."""
    from aws_cdk import aws_logs

    days = profile.log_retention_days
    if days not in _RETENTION_NAMES:
        raise ValueError(
            f"Profile.log_retention_days: {days} is not a retention CloudWatch Logs accepts; "
            f"valid values are {', '.join(map(str, _RETENTION_NAMES))}"
        )
    return aws_logs.RetentionDays[_RETENTION_NAMES[days]]


PROFILES: dict[str, Profile] = {p.name: p for p in (SANDBOX, PRODUCTION)}


def profile_named(name: str | None) -> Profile:
    """Return the profile called `name` (default sandbox), or fail naming the valid ones."""
    chosen = name or SANDBOX.name
    try:
        return PROFILES[chosen]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ValueError(
            f"profile: unknown profile {chosen!r}; valid profiles are {valid} "
            f"(pass one with `-c profile=<name>`)"
        ) from None
