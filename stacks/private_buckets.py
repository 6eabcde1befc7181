"""Private S3 buckets for this project's stacks, and the access-log bucket they log into.

Every data bucket here blocks public access, requires TLS, is encrypted (with the given key, or
S3-managed), logs access, and in a sandbox empties itself on `cdk destroy`. One place for that,
so a stack asks for "a bucket for uploads" and a reviewer checks these rules once.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.profiles import Profile


class PrivateBuckets(Construct):
    """A factory of private buckets sharing one access-log bucket. Attribute: `access_logs`."""

    def __init__(self, scope: Construct, id_: str, *, profile: Profile, key: kms.IKey | None):
        super().__init__(scope, id_)
        self._key = key
        self._retain = profile.retain_data
        self._common = dict(
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY,
            auto_delete_objects=not profile.retain_data,  # `cdk destroy` leaves no bucket behind
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(profile.log_retention_days))
            ],
            **self._common,
        )

    def bucket(
        self, id_: str, *, lifecycle_rules: Sequence[s3.LifecycleRule] = (), results: bool = False
    ) -> s3.Bucket:
        """A private bucket. `results=True` for a bucket that keeps what the pattern produced:
        where the profile retains data it is versioned, so an overwrite or delete can be undone,
        and old versions expire after 30 days so that they do not pile up."""
        versioned = results and self._retain
        rules = list(lifecycle_rules)
        if versioned:
            rules.append(s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30)))
        return s3.Bucket(
            self,
            id_,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{id_.lower()}/",
            encryption=s3.BucketEncryption.KMS if self._key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self._key,
            bucket_key_enabled=bool(self._key) or None,
            lifecycle_rules=rules or None,
            versioned=versioned or None,
            **self._common,
        )
