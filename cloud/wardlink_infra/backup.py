"""AWS Backup for the DynamoDB tables, beyond point-in-time recovery's 35 days.

PITR answers "undo the last hour"; this plan answers "what did the registry and
the alarm audit say a year ago" (daily backups kept 35 days, monthly kept seven
years), in a vault encrypted with the data key.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

from wardlink_infra.nag import acknowledge
from wardlink_infra.tables import Tables


class TableBackups(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, tables: Tables,
                 key: kms.IKey, monthly_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.vault = backup.BackupVault(
            self, "Vault", encryption_key=key, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily",
                schedule_expression=events.Schedule.cron(hour="3", minute="0"),
                delete_after=cdk.Duration.days(35),
            )
        )
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="monthly",
                schedule_expression=events.Schedule.cron(day="1", hour="4", minute="0"),
                delete_after=cdk.Duration.days(monthly_retention_days),
            )
        )
        selection = self.plan.add_selection(
            "Tables",
            resources=[backup.BackupResource.from_dynamo_db_table(t.table) for t in tables],
        )
        acknowledge(
            selection,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            "AWS Backup's documented service-role policy, maintained by AWS as the service "
            "adds resource types; the role is assumable only by backup.amazonaws.com and "
            "the selection limits it to the five Wardlink tables.",
        )
