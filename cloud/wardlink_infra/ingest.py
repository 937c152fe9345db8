"""IoT Core topic rules -> one KMS-encrypted Kinesis Data Stream.

One rule per uplink topic kind. Each rule stamps ``gateway_id`` from the topic
(``topic(3)``): the IoT policy lets a gateway publish only under its own thing
name, so the topic is the authenticated source, and it overrides whatever the
payload claims. Records are partitioned by gateway, which keeps each gateway's
``seq`` order within one shard for the consumers. Rule failures (throttling, KMS,
a deleted stream) go to an encrypted SQS DLQ rather than vanish.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from wardlink_infra.grants import data_key_use, send_to_queue
from wardlink_infra.messaging import dead_letter_queue
from wardlink_infra.nag import acknowledge
from wardlink_infra.settings import WardlinkSettings

TOPIC_ROOT = "wardlink/v1"
UPLINK_KINDS = ("telemetry", "status", "alert", "health")


def rule_sql(kind: str) -> str:
    """The rule query for one uplink kind (IoT SQL version 2016-03-23)."""
    if kind not in UPLINK_KINDS:
        raise ValueError(f"unknown uplink kind {kind!r}")
    # Not injectable: kind is one of the fixed UPLINK_KINDS checked above.
    return f"SELECT *, topic(3) AS gateway_id FROM '{TOPIC_ROOT}/+/{kind}'"  # noqa: S608


class Ingest(Construct):
    """``stream`` (what consumers read), ``rules`` by kind, and ``rules_dlq``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        data_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self,
            "Uplink",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=data_key,
            retention_period=cdk.Duration.hours(settings.kinesis_retention_hours),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.stream,
            "AwsSolutions-KDS3",
            "A customer-managed key is deliberate: its key policy, rotation and CloudTrail "
            "record of use are under our control and shared with the other stores of "
            "device data, which the AWS-managed aws/kinesis key cannot offer.",
        )
        self.rules_dlq = dead_letter_queue(
            self, "RuleErrors", key=data_key, holds="IoT topic-rule action failures"
        )
        self.role = iam.Role(
            self,
            "RuleRole",
            assumed_by=iam.ServicePrincipal(
                "iot.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            ),
            description="Lets the Wardlink IoT rules put records and report errors",
        )
        policy = iam.ManagedPolicy(
            self,
            "RulePolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(actions=["kinesis:PutRecord"],
                                    resources=[self.stream.stream_arn]),
                send_to_queue(self.rules_dlq),
                data_key_use(data_key),
            ],
        )
        self.rules: dict[str, iot.CfnTopicRule] = {}
        for kind in UPLINK_KINDS:
            rule = iot.CfnTopicRule(
                self,
                f"{kind.capitalize()}Rule",
                topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                    description=f"Wardlink {kind} envelopes from gateways into Kinesis",
                    sql=rule_sql(kind),
                    aws_iot_sql_version="2016-03-23",
                    rule_disabled=False,
                    actions=[
                        iot.CfnTopicRule.ActionProperty(
                            kinesis=iot.CfnTopicRule.KinesisActionProperty(
                                stream_name=self.stream.stream_name,
                                partition_key="${topic(3)}",
                                role_arn=self.role.role_arn,
                            )
                        )
                    ],
                    error_action=iot.CfnTopicRule.ActionProperty(
                        sqs=iot.CfnTopicRule.SqsActionProperty(
                            queue_url=self.rules_dlq.queue_url,
                            role_arn=self.role.role_arn,
                            use_base64=False,
                        )
                    ),
                ),
            )
            rule.node.add_dependency(policy)
            self.rules[kind] = rule
