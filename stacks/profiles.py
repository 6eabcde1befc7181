"""Deployment profiles: every sandbox/production difference, on one screen.

A stack never asks "am I in production?"; it reads plain values from the `Profile` it is given.
`app.py` picks the profile once, from `-c profile=...`, so a reviewer can see every difference
between a throwaway sandbox and a production deployment here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    database_instance_type: str
    database_allocated_storage_gib: int
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
    # Database credentials rotation needs a rotation Lambda plus a Secrets Manager endpoint.
    rotate_database_secret: bool
    # Log pipeline input: a sandbox has no application, so its shippers generate access lines at
    # a fixed rate; production's follow the application's log file on each instance.
    log_source: str
    log_lines_per_second: int


SANDBOX = Profile(
    name="sandbox",
    nat_gateways=0,
    max_azs=2,
    worker_instance_type="t4g.micro",
    worker_max_capacity=2,
    database_instance_type="t4g.micro",
    database_allocated_storage_gib=20,
    multi_az=False,
    deletion_protection=False,
    backup_retention_days=1,
    retain_data=False,
    customer_managed_keys=False,
    log_retention_days=7,
    web_application_firewall=False,
    rotate_database_secret=False,
    log_source="generate",
    log_lines_per_second=50,
)

PRODUCTION = Profile(
    name="production",
    nat_gateways=2,
    max_azs=2,
    worker_instance_type="c7g.large",
    worker_max_capacity=10,
    database_instance_type="m7g.large",
    database_allocated_storage_gib=100,
    multi_az=True,
    deletion_protection=True,
    backup_retention_days=14,
    retain_data=True,
    customer_managed_keys=True,
    log_retention_days=365,
    web_application_firewall=True,
    rotate_database_secret=True,
    log_source="/var/log/app/access.log",
    log_lines_per_second=0,
)

# CloudWatch Logs accepts only these retention periods.
_RETENTION_NAMES = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    731: "TWO_YEARS",
    3653: "TEN_YEARS",
}


def log_retention(profile: Profile):
    """The profile's log retention as CDK's `RetentionDays`."""
    from aws_cdk import aws_logs

    return aws_logs.RetentionDays[_RETENTION_NAMES[profile.log_retention_days]]


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
