"""The detector engine in AWS: the replacement for IoT Events' managed runtime.

AWS IoT Events ended on 2026-05-20, so there is deliberately no
``AWS::IoTEvents::*`` resource here. Instead, following the migration architecture
AWS documents: the same Kinesis stream the IoT rules feed drives the engine Lambda
(``wardlink.detectors.aws.handler``), detector instances live in DynamoDB
(conditional writes keep concurrent shards correct), timers are one-time
EventBridge Scheduler schedules in one group that invoke the engine back, and
alerts go to the KMS-encrypted support topic. Detector models (IoT Events
CreateDetectorModel JSON, the one copy in ``wardlink.detectors.catalog``) ship as
a layer, mounted at ``/opt/detectors``.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from wardlink_infra import grants
from wardlink_infra.assets import CATALOG_DIR, detector_layer_dir
from wardlink_infra.consumers import consume_stream
from wardlink_infra.functions import FunctionKit, WardlinkFunction
from wardlink_infra.messaging import dead_letter_queue
from wardlink_infra.nag import acknowledge_wildcard_resource
from wardlink_infra.settings import WardlinkSettings
from wardlink_infra.tables import Tables

ENGINE_HANDLER = "wardlink.detectors.aws.handler"
DETECTOR_MODELS_DIR = CATALOG_DIR
MODELS_MOUNT = "/opt/detectors"


def schedule_group_name(settings: WardlinkSettings) -> str:
    return f"{settings.prefix}-detector-timers"


class DetectorEngine(Construct):
    """``engine`` function, ``schedule_group``, ``scheduler_role`` and the DLQs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        data_key: kms.IKey,
        tables: Tables,
        stream: kinesis.IStream,
        support_topic: sns.ITopic,
        kit: FunctionKit,
        models_dir: Path = DETECTOR_MODELS_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        group_name = schedule_group_name(settings)
        self.schedule_group = scheduler.CfnScheduleGroup(self, "TimerGroup", name=group_name)
        schedules_in_group = stack.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{group_name}/*",
        )

        self.stream_dlq = dead_letter_queue(
            self, "StreamFailures", key=data_key,
            holds="Kinesis batches the detector engine could not evaluate",
        )
        self.async_dlq = dead_letter_queue(
            self, "TimerFailures", key=data_key,
            holds="timer invocations of the detector engine that failed or were undeliverable",
        )

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Lets EventBridge Scheduler fire detector timers into the engine",
        )

        self.models_layer = lambda_.LayerVersion(
            self,
            "DetectorModels",
            description="IoT Events CreateDetectorModel JSON, mounted at /opt/detectors",
            code=lambda_.Code.from_asset(str(detector_layer_dir(models_dir))),
            compatible_runtimes=[kit.runtime],
        )

        self.engine = WardlinkFunction(
            self,
            "Engine",
            kit=kit,
            handler=ENGINE_HANDLER,
            description="IoT Events detector-model engine (Kinesis inputs and Scheduler timers)",
            reserved_concurrency=settings.concurrency.detector_engine,
            timeout=cdk.Duration.seconds(60),
            memory_size=512,
            layers=[self.models_layer],
            async_dead_letter_queue=self.async_dlq,
            environment={
                "DETECTOR_MODELS_DIR": MODELS_MOUNT,
                "SCHEDULE_GROUP_NAME": group_name,
                "SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
                "SCHEDULER_DLQ_ARN": self.async_dlq.queue_arn,
                "RUNBOOK_BASE_URL": settings.runbook_base_url,
            },
        )
        engine = self.engine
        engine.allow(
            grants.table_access(
                tables.detector_state,
                [*grants.READ_ITEM, *grants.WRITE_ITEM, *grants.DELETE_ITEM],
            ),
            grants.table_access(
                tables.alarms, [*grants.READ_ITEM, *grants.WRITE_ITEM, *grants.QUERY],
                indexes=["by_state"],
            ),
            grants.table_access(tables.alarm_audit, ["dynamodb:PutItem"]),
            grants.table_access(tables.devices, grants.READ_ITEM),
            grants.table_access(tables.gateways, grants.READ_ITEM),
            iam.PolicyStatement(actions=["sns:Publish"], resources=[support_topic.topic_arn]),
            iam.PolicyStatement(
                sid="ManageDetectorTimers",
                actions=["scheduler:CreateSchedule", "scheduler:DeleteSchedule"],
                resources=[schedules_in_group],
            ),
            iam.PolicyStatement(
                sid="HandTimerRoleToScheduler",
                actions=["iam:PassRole"],
                resources=[self.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
        )
        acknowledge_wildcard_resource(
            engine.policy,
            schedules_in_group,
            "Timer schedules are created at run time, one per detector instance and timer, "
            "so their names are not known at deploy time; the grant is limited to "
            "CreateSchedule/DeleteSchedule inside the engine's own schedule group.",
        )

        scheduler_policy = iam.ManagedPolicy(
            self,
            "SchedulerPolicy",
            roles=[self.scheduler_role],
            statements=[
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[engine.function.function_arn],
                ),
                grants.send_to_queue(self.async_dlq),
                grants.data_key_use(data_key),
            ],
        )
        self.schedule_group.node.add_dependency(scheduler_policy)

        self.mapping = consume_stream(
            self,
            "FromUplink",
            consumer=engine,
            stream=stream,
            dead_letter_queue=self.stream_dlq,
            data_key=data_key,
        )
