"""The S3 buckets: access logs, procedure data, Greengrass artifacts, CloudTrail.

All block public access, refuse non-TLS requests, are versioned and log their
access to the access-log bucket. Data buckets use the customer-managed keys; the
access-log bucket uses SSE-S3 because S3 server access logging cannot deliver to
an SSE-KMS bucket.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from wardlink_infra.nag import acknowledge
from wardlink_infra.settings import WardlinkSettings

NO_REPLICATION_REASON = (
    "Single-region deployment: cross-region replication needs a bucket and a replica KMS "
    "key in a second region, which this one-region stack does not own. Versioning, "
    "deletion protection by RETAIN and the access log cover recovery inside the region."
)
DATA_PREFIX_DEVICES = "devices/"
DATA_PREFIX_TIMESTREAM_REJECTED = "timestream-rejected/"
#: Points a telemetry store refused for good, written by the writer (JSON lines).
DATA_PREFIX_TELEMETRY_REJECTED = "telemetry-rejected/"
#: Support's diagnostics requests and the bundles sites approved (``handlers.diagnostics``).
DATA_PREFIX_DIAGNOSTICS = "diagnostics/"


class Buckets(Construct):
    """``access_logs``, ``data``, ``artifacts`` and ``trail``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        data_key: kms.IKey,
        audit_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(settings.audit_log_expire_after_days),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                )
            ],
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the server access log bucket; logging its own access into itself "
            "would create a feedback loop of log objects.",
        )
        acknowledge(
            self.access_logs,
            "HIPAA.Security-S3BucketLoggingEnabled",
            "This is the server access log bucket; logging its own access into itself "
            "would create a feedback loop of log objects.",
        )
        acknowledge(
            self.access_logs,
            "HIPAA.Security-S3DefaultEncryptionKMS",
            "S3 server access logging can only deliver to a bucket encrypted with SSE-S3; "
            "SSE-KMS destinations are not supported. The logs carry no PHI (object keys "
            "are gateway and device identifiers).",
        )
        acknowledge(self.access_logs, "HIPAA.Security-S3BucketReplicationEnabled",
                    NO_REPLICATION_REASON)

        self.data = self._bucket(
            "Data",
            key=data_key,
            log_prefix="data/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="archive-then-expire-procedure-files",
                    prefix=DATA_PREFIX_DEVICES,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=cdk.Duration.days(settings.data_glacier_after_days),
                        )
                    ],
                    expiration=cdk.Duration.days(settings.data_expire_after_days),
                    noncurrent_version_expiration=cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="expire-timestream-rejects",
                    prefix=DATA_PREFIX_TIMESTREAM_REJECTED,
                    expiration=cdk.Duration.days(90),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="expire-telemetry-rejects",
                    prefix=DATA_PREFIX_TELEMETRY_REJECTED,
                    expiration=cdk.Duration.days(90),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                ),
                s3.LifecycleRule(
                    # a diagnostics bundle serves one support case: not kept for long
                    id="expire-diagnostics",
                    prefix=DATA_PREFIX_DIAGNOSTICS,
                    expiration=cdk.Duration.days(90),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                ),
            ],
        )
        self.artifacts = self._bucket(
            "ComponentArtifacts",
            key=data_key,
            log_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-artifact-versions",
                    noncurrent_version_expiration=cdk.Duration.days(365),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        self.trail = self._bucket(
            "Trail",
            key=audit_key,
            log_prefix="trail/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="archive-then-expire-trail",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(365),
                        )
                    ],
                    expiration=cdk.Duration.days(settings.audit_log_expire_after_days),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                )
            ],
        )

    def _bucket(
        self,
        construct_id: str,
        *,
        key: kms.IKey,
        log_prefix: str,
        lifecycle_rules: list[s3.LifecycleRule],
    ) -> s3.Bucket:
        return hardened_bucket(
            self, construct_id, key=key, access_logs=self.access_logs,
            log_prefix=log_prefix, lifecycle_rules=lifecycle_rules,
        )  # fmt: skip


def hardened_bucket(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    access_logs: s3.IBucket,
    log_prefix: str,
    lifecycle_rules: list[s3.LifecycleRule],
) -> s3.Bucket:
    """A data bucket as all of ours are: SSE-KMS with ``key``, TLS only, versioned,
    no public access, access logged under ``log_prefix``, retained on stack deletion."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=log_prefix,
        lifecycle_rules=lifecycle_rules,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    acknowledge(bucket, "HIPAA.Security-S3BucketReplicationEnabled", NO_REPLICATION_REASON)
    return bucket
