"""Customer-managed KMS keys: one for application data, one for audit and logs.

Two keys so that whoever may decrypt device metadata or telemetry cannot, by that
grant alone, read the audit trail, and vice versa. Both rotate yearly and survive
stack deletion (encrypted backups and logs outlive the stack).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class EncryptionKeys(Construct):
    """``data``: tables, stream, queues, topics, buckets, Timestream. ``audit``: logs, trail."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        self.data = kms.Key(
            self,
            "DataKey",
            description="Wardlink application data (DynamoDB, Kinesis, SQS, SNS, S3, Timestream)",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # CloudWatch alarms publish to the KMS-encrypted ops topic as the service itself.
        self.data.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseEncryptedTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )

        self.audit = kms.Key(
            self,
            "AuditKey",
            description="Wardlink audit data (CloudWatch Logs, CloudTrail)",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        log_group_arn_pattern = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.audit.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsInThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_group_arn_pattern}
                },
            )
        )
        trail_arn_pattern = stack.format_arn(
            service="cloudtrail", resource="trail", resource_name="*", region="*"
        )
        self.audit.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToEncryptLogs",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn_pattern},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        self.audit.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToDescribeKey",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
            )
        )
