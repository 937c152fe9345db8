"""The Wardlink stack: the constructs wired together, and the stack outputs."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from wardlink_infra import grants
from wardlink_infra.api import WardlinkApi
from wardlink_infra.audit import AuditTrail
from wardlink_infra.backup import TableBackups
from wardlink_infra.buckets import Buckets
from wardlink_infra.detectors import DetectorEngine
from wardlink_infra.fleet import FleetProvisioning
from wardlink_infra.functions import FunctionKit
from wardlink_infra.gateway_audit import GatewayAudit
from wardlink_infra.gateway_identity import GatewayIdentity
from wardlink_infra.ingest import Ingest
from wardlink_infra.iot_audit import IotAudit
from wardlink_infra.keys import EncryptionKeys
from wardlink_infra.messaging import encrypted_topic
from wardlink_infra.monitoring import Monitoring
from wardlink_infra.settings import WardlinkSettings
from wardlink_infra.tables import Tables
from wardlink_infra.telemetry import TelemetryStore, timestream_names

DEVICE_TELEMETRY_HANDLER = "wardlink.cloudapi.handlers.device_telemetry.handler"


class WardlinkStack(cdk.Stack):
    """Everything Wardlink runs in AWS, in one stack."""

    def __init__(self, scope: Construct, construct_id: str, *,
                 settings: WardlinkSettings) -> None:
        env = cdk.Environment(account=settings.account, region=settings.region)
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="Wardlink cloud: device registry, telemetry, detectors, gateway API",
            termination_protection=settings.stage == "prod",
        )
        self.settings = settings
        keys = EncryptionKeys(self, "Keys")
        buckets = Buckets(self, "Buckets", settings=settings, data_key=keys.data,
                          audit_key=keys.audit)
        tables = Tables(self, "Tables", key=keys.data)
        self.ops_topic = encrypted_topic(self, "OpsAlarms", key=keys.data,
                                         display_name="Wardlink operations alarms")
        self.support_topic = encrypted_topic(self, "SupportAlerts", key=keys.data,
                                             display_name="Wardlink device alerts for support")
        ingest = Ingest(self, "Ingest", settings=settings, data_key=keys.data)
        store_env = {"TELEMETRY_STORE": settings.telemetry_store}
        if settings.telemetry_store == "liveanalytics":
            database, table = timestream_names(settings)
            store_env |= {"TIMESTREAM_DATABASE": database, "TIMESTREAM_TABLE": table}

        kit = FunctionKit(
            self,
            "Functions",
            settings=settings,
            audit_key=keys.audit,
            environment={
                **tables.environment(),
                "DATA_BUCKET": buckets.data.bucket_name,
                **store_env,
                "ALERT_TOPIC_ARN": self.support_topic.topic_arn,
                "WARDLINK_STAGE": settings.stage,
            },
        )
        telemetry = TelemetryStore(
            self, "Telemetry", settings=settings, data_key=keys.data,
            data_bucket=buckets.data, log_bucket=buckets.access_logs, stream=ingest.stream,
            kit=kit,
        )
        # The writer records how far it has stored each gateway's records, for
        # GET /gateways/{id}/sequence (a gateway that lost its spool numbers above it).
        telemetry.writer.allow(grants.table_access(tables.gateways, ["dynamodb:UpdateItem"]))
        # ... and moves each device's last_seen to its newest stored point, for support.
        telemetry.writer.allow(grants.table_access(tables.devices, ["dynamodb:UpdateItem"]))
        detectors = DetectorEngine(
            self, "Detectors", settings=settings, data_key=keys.data, tables=tables,
            stream=ingest.stream, support_topic=self.support_topic, kit=kit,
        )
        api = WardlinkApi(
            self, "Api", settings=settings, kit=kit, tables=tables,
            data_bucket=buckets.data, data_key=keys.data, audit_key=keys.audit,
            telemetry_reader=telemetry.reader(kit, DEVICE_TELEMETRY_HANDLER),
        )
        identity = GatewayIdentity(
            self, "GatewayIdentity", settings=settings, artifacts_bucket=buckets.artifacts,
            data_key=keys.data, api_invoke_arns=api.gateway_invoke_arns(),
        )
        fleet = FleetProvisioning(
            self, "Fleet", data_key=keys.data, access_logs=buckets.access_logs,
            devices=tables.devices, gateway_policy_name=identity.policy_name,
            operator_role=api.support_role,
        )
        GatewayAudit(self, "GatewayAudit", audit_key=keys.audit, data_key=keys.data,
                     errors=ingest.rules_dlq)
        AuditTrail(self, "Audit", trail_bucket=buckets.trail, data_bucket=buckets.data,
                   audit_key=keys.audit, kit=kit)
        self.iot_audit = IotAudit(
            self, "IotAudit", data_key=keys.data, audit_key=keys.audit,
            log_retention=kit.log_retention, log_level=settings.iot_log_level,
            investigation_log_level=settings.iot_investigation_log_level,
            detect=settings.device_defender_detect,
        )
        TableBackups(self, "Backups", tables=tables, key=keys.data,
                     monthly_retention_days=settings.audit_log_expire_after_days)
        Monitoring(
            self,
            "Monitoring",
            ops_topic=self.ops_topic,
            functions=[*api.functions, *telemetry.functions, detectors.engine],
            stream_consumers=[telemetry.writer, detectors.engine],
            queues=[
                ("IotRuleErrors", ingest.rules_dlq),
                *telemetry.queues,
                ("DetectorStreamFailures", detectors.stream_dlq),
                ("DetectorTimerFailures", detectors.async_dlq),
            ],
            api=api.rest_api,
        )

        outputs = {
            "ApiUrl": api.rest_api.url,
            "UplinkStreamName": ingest.stream.stream_name,
            "GatewayIotPolicyName": identity.policy.ref,
            "TokenExchangeRoleAlias": identity.role_alias_name,
            "ComponentArtifactsBucket": buckets.artifacts.bucket_name,
            "DataBucket": buckets.data.bucket_name,
            # wardlink fleet reads these as FLEET_BUCKET and FLEET_REGISTRATION_ROLE_ARN
            "FleetBucket": fleet.bucket.bucket_name,
            "FleetRegistrationRoleArn": fleet.registration_role.role_arn,
            "SupportAlertsTopicArn": self.support_topic.topic_arn,
            "OpsAlarmsTopicArn": self.ops_topic.topic_arn,
            "IotFindingsTopicArn": self.iot_audit.topic.topic_arn,
            **telemetry.outputs,
            **{t.definition.env_var: t.table.table_name for t in tables},
        }
        for name, value in outputs.items():
            cdk.CfnOutput(self, name.replace("_", ""), value=value)
