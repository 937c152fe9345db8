"""CloudTrail: who did what to the Wardlink account, tamper-evident and encrypted.

A multi-region trail of all management events plus S3 data events on the
procedure-data bucket (who read or wrote a procedure file), delivered to a
KMS-encrypted bucket with log file validation, and to an encrypted CloudWatch
Logs group for querying and metric filters.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from wardlink_infra.functions import FunctionKit
from wardlink_infra.nag import acknowledge


class AuditTrail(Construct):
    """``trail`` and its CloudWatch ``log_group``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trail_bucket: s3.IBucket,
        data_bucket: s3.IBucket,
        audit_key: kms.IKey,
        kit: FunctionKit,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "TrailLogs",
            retention=kit.log_retention,
            encryption_key=audit_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            bucket=trail_bucket,
            encryption_key=audit_key,
            enable_file_validation=True,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.log_group,
            is_multi_region_trail=True,
            include_global_service_events=True,
            management_events=cloudtrail.ReadWriteType.ALL,
        )
        delivery_policy = self.trail.node.find_child("LogsRole").node.find_child("DefaultPolicy")
        acknowledge(
            delivery_policy,
            "HIPAA.Security-IAMNoInlinePolicy",
            "Created by the CDK Trail construct for CloudTrail's delivery to CloudWatch "
            "Logs: logs:CreateLogStream and logs:PutLogEvents on this trail's log group "
            "only, on a role only cloudtrail.amazonaws.com can assume; the construct "
            "offers no way to supply a managed policy instead.",
        )
        self.trail.add_s3_event_selector(
            [cloudtrail.S3EventSelector(bucket=data_bucket)],
            include_management_events=False,
            read_write_type=cloudtrail.ReadWriteType.ALL,
        )
