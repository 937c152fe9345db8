"""Where the gateway UI's audit copies land in the cloud: an encrypted, long-kept log group.

A gateway's local audit log (who signed in to its UI, who changed what) can be
lost with the gateway, so each gateway also publishes a redacted copy of every
record to ``wardlink/v1/{thing}/audit`` (see ``wardlink.uplink.audit_relay``).
One IoT rule writes them to a CloudWatch Logs group encrypted with the audit
key and kept six years (45 CFR 164.316(b)(2)). The rule selects only the
allowed fields and stamps ``gateway_id`` from the topic, which the IoT policy
ties to the publishing certificate's thing name, so a gateway can neither widen
an event nor speak for another. Failures go to the topic rules' dead-letter
queue, which is alarmed.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from wardlink_infra.grants import data_key_use, send_to_queue
from wardlink_infra.ingest import TOPIC_ROOT

AUDIT_KIND = "audit"
AUDIT_FIELDS = ("time", "user", "action", "device_id", "outcome", "alert")


def audit_rule_sql() -> str:
    """The rule query: the allowed fields only, the gateway from the topic."""
    fields = ", ".join(AUDIT_FIELDS)
    # Not injectable: built from the fixed constants above.
    return f"SELECT {fields}, topic(3) AS gateway_id FROM '{TOPIC_ROOT}/+/{AUDIT_KIND}'"  # noqa: S608


class GatewayAudit(Construct):
    """``log_group`` (the gateways' UI audit events) and ``rule``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        audit_key: kms.IKey,
        data_key: kms.IKey,
        errors: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Events",
            retention=logs.RetentionDays.SIX_YEARS,
            encryption_key=audit_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            "RuleRole",
            assumed_by=iam.ServicePrincipal(
                "iot.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            ),
            description="Lets the gateway audit rule write its log group and report errors",
        )
        policy = iam.ManagedPolicy(
            self,
            "RulePolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[self.log_group.log_group_arn],
                ),
                send_to_queue(errors),
                data_key_use(data_key),
            ],
        )
        self.rule = iot.CfnTopicRule(
            self,
            "Rule",
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                description="Wardlink gateway UI audit events into their log group",
                sql=audit_rule_sql(),
                aws_iot_sql_version="2016-03-23",
                rule_disabled=False,
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        cloudwatch_logs=iot.CfnTopicRule.CloudwatchLogsActionProperty(
                            log_group_name=self.log_group.log_group_name,
                            role_arn=role.role_arn,
                            batch_mode=False,
                        )
                    )
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    sqs=iot.CfnTopicRule.SqsActionProperty(
                        queue_url=errors.queue_url,
                        role_arn=role.role_arn,
                        use_base64=False,
                    )
                ),
            ),
        )
        self.rule.node.add_dependency(policy)
