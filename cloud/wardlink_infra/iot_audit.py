"""Auditing the IoT estate: Device Defender, IoT Core logging, fleet indexing, a fleet metric.

CloudTrail (``audit.py``) records who changed the account; it does not say whether the
IoT estate is safe to run or what the gateways are doing. This construct adds what an
external audit and an incident need:

* **Device Defender Audit**: the account audit configuration with every check that
  applies to Wardlink enabled (the two Cognito role checks do not: Wardlink has no
  Cognito identity pool; gateways get AWS credentials from the IoT credentials provider)
  and findings notified to an encrypted SNS topic, plus a daily scheduled audit of those
  checks. ``wardlink support audit`` reads the latest audit's findings through the API.
* **Device Defender Detect**: a security profile on the gateways (a dynamic thing group
  of every thing of the gateway thing type) that alerts the same topic on message rate,
  authorization failures, connection attempts and disconnects. AWS stopped offering
  Detect to *new* customers on 2026-08-31 (audit is unaffected), so
  ``wardlink:deviceDefenderDetect=false`` leaves the profile out for such accounts.
* **IoT Core logging** (v2) at a configurable default level into the encrypted
  ``AWSIotLogsV2`` log group, and a more verbose level for one static thing group,
  ``wardlink-investigation``, that operators put a gateway in while they look at it.
* **Fleet indexing** (registry and connectivity status): CloudFormation has no resource
  for ``UpdateIndexingConfiguration``, so a custom resource calls it. The dynamic
  gateways group and the fleet metric of connected gateways need the index.

Audit configuration, logging options and the indexing configuration are account-wide
singletons (like the gateway thing type in ``fleet.py``): one Wardlink stack per account
and region owns them. The log group, both thing groups and the indexing configuration
are left in place when the stack is deleted; turning the index off would break
whatever else in the account relies on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from wardlink.fleet.gateways import THING_TYPE
from wardlink_infra.messaging import encrypted_topic
from wardlink_infra.nag import acknowledge, acknowledge_all, acknowledge_wildcard_resource

#: The log group AWS IoT Core's v2 logging writes to (the service fixes the name).
IOT_LOG_GROUP = "AWSIotLogsV2"
GATEWAYS_GROUP = "wardlink-gateways"
INVESTIGATION_GROUP = "wardlink-investigation"
SCHEDULED_AUDIT = "wardlink-daily-audit"
SECURITY_PROFILE = "wardlink-gateways"
CONNECTED_GATEWAYS_METRIC = "wardlink-connected-gateways"
FLEET_INDEX = "AWS_Things"
LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "DISABLED")

#: Audit check (API name) -> its key in ``AuditCheckConfigurations`` (CloudFormation
#: spells one of them differently: IoTPolicyPotentialMisConfigurationCheck). Checked
#: against the CloudFormation schema cfn-lint ships and the Device Defender guide's
#: list of audit checks (read 2026-12-06).
AUDIT_CHECKS: dict[str, str] = {
    "CA_CERTIFICATE_EXPIRING_CHECK": "CaCertificateExpiringCheck",
    "CA_CERTIFICATE_KEY_QUALITY_CHECK": "CaCertificateKeyQualityCheck",
    "CONFLICTING_CLIENT_IDS_CHECK": "ConflictingClientIdsCheck",
    "DEVICE_CERTIFICATE_AGE_CHECK": "DeviceCertificateAgeCheck",
    "DEVICE_CERTIFICATE_EXPIRING_CHECK": "DeviceCertificateExpiringCheck",
    "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK": "DeviceCertificateKeyQualityCheck",
    "DEVICE_CERTIFICATE_SHARED_CHECK": "DeviceCertificateSharedCheck",
    "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK":
        "IntermediateCaRevokedForActiveDeviceCertificatesCheck",
    "IOT_POLICY_OVERLY_PERMISSIVE_CHECK": "IotPolicyOverlyPermissiveCheck",
    "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK": "IoTPolicyPotentialMisConfigurationCheck",
    "IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK":
        "IotRoleAliasAllowsAccessToUnusedServicesCheck",
    "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK": "IotRoleAliasOverlyPermissiveCheck",
    "LOGGING_DISABLED_CHECK": "LoggingDisabledCheck",
    "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK": "RevokedCaCertificateStillActiveCheck",
    "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK": "RevokedDeviceCertificateStillActiveCheck",
}
#: Checks that cannot apply: Wardlink has no Cognito identity pool. Disabled explicitly.
NOT_APPLICABLE_CHECKS: dict[str, str] = {
    "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK":
        "AuthenticatedCognitoRoleOverlyPermissiveCheck",
    "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK":
        "UnauthenticatedCognitoRoleOverlyPermissiveCheck",
}
#: Gateway certificates are rotated yearly (operator guide); warn 30 days before expiry
#: and flag any certificate older than two rotations.
CERT_EXPIRING_DAYS = 30
CERT_AGE_DAYS = 730


@dataclass(frozen=True)
class Behavior:
    """One Detect rule: ``metric`` above ``limit`` within ``window_s``, ``datapoints`` times."""

    name: str
    metric: str
    limit: int
    window_s: int = 300
    datapoints: int = 1
    why: str = ""


#: The gateways' expected behaviour. The uplink never publishes more than 100 messages
#: a second (IoT Core's per-connection limit), so 30,000 in five minutes is not ours.
GATEWAY_BEHAVIORS: tuple[Behavior, ...] = (
    Behavior("MessagesSent", "aws:num-messages-sent", 30_000,
             why="more than the uplink's 100 publishes/s can send"),
    Behavior("AuthorizationFailures", "aws:num-authorization-failures", 5,
             why="a gateway reaching for topics its policy does not grant"),
    Behavior("ConnectionAttempts", "aws:num-connection-attempts", 10, datapoints=2,
             why="a client id fight or a reconnect loop"),
    Behavior("Disconnects", "aws:num-disconnects", 5, datapoints=2,
             why="an unstable site link or a duplicate client id"),
)  # fmt: skip


class IotAudit(Construct):
    """``topic`` (findings and alerts), ``account_audit``, ``scheduled_audit``,
    ``security_profile`` (or None), ``logging``, ``investigation_logging``,
    ``fleet_indexing``, ``gateways_group``, ``investigation_group``, ``connected_gateways``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_key: kms.IKey,
        audit_key: kms.IKey,
        log_retention: logs.RetentionDays,
        log_level: str = "ERROR",
        investigation_log_level: str = "DEBUG",
        detect: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        for level in (log_level, investigation_log_level):
            if level not in LOG_LEVELS:
                raise ValueError(f"IoT log level {level!r} is not one of {LOG_LEVELS}")
        stack = cdk.Stack.of(self)
        self.topic = encrypted_topic(self, "Findings", key=data_key,
                                     display_name="Wardlink IoT audit findings and alerts")
        notify_role, notify_policy = self._iot_role(
            "NotifyRole", "Lets AWS IoT Device Defender publish to Wardlink's findings topic",
            iam.PolicyStatement(sid="PublishFindings", actions=["sns:Publish"],
                                resources=[self.topic.topic_arn]),
            iam.PolicyStatement(sid="EncryptForTheTopic",
                                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                resources=[data_key.key_arn],
                                conditions={"StringEquals": {
                                    "kms:ViaService": f"sns.{stack.region}.amazonaws.com"}}),
        )  # fmt: skip

        # -- fleet indexing (no CloudFormation resource: a custom resource) --------------
        self.fleet_indexing = self._fleet_indexing(log_retention, audit_key)

        # -- thing groups --------------------------------------------------------------
        self.gateways_group = iot.CfnThingGroup(
            self, "GatewaysGroup",
            thing_group_name=GATEWAYS_GROUP,
            query_string=f"thingTypeName:{THING_TYPE}",
            thing_group_properties=iot.CfnThingGroup.ThingGroupPropertiesProperty(
                thing_group_description="every Wardlink gateway (dynamic: the gateway thing type)",
            ),
        )  # fmt: skip
        self.gateways_group.node.add_dependency(self.fleet_indexing)
        self.investigation_group = iot.CfnThingGroup(
            self, "InvestigationGroup",
            thing_group_name=INVESTIGATION_GROUP,
            thing_group_properties=iot.CfnThingGroup.ThingGroupPropertiesProperty(
                thing_group_description="gateways under investigation: verbose IoT Core logging",
            ),
        )  # fmt: skip
        for group in (self.gateways_group, self.investigation_group):
            group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

        # -- Device Defender audit -----------------------------------------------------
        audit_role = iam.Role(
            self, "AuditRole",
            assumed_by=_iot_principal(stack),
            description="Assumed by AWS IoT Device Defender to read the IoT estate for audits",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AWSIoTDeviceDefenderAudit")],
        )  # fmt: skip
        acknowledge(
            audit_role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/AWSIoTDeviceDefenderAudit]",
            "AWSIoTDeviceDefenderAudit is the read-only policy AWS maintains for Device "
            "Defender audits; AWS extends it when it adds checks, which a copy would miss.",
        )  # fmt: skip
        checks: dict[str, object] = {
            key: iot.CfnAccountAuditConfiguration.AuditCheckConfigurationProperty(enabled=True)
            for key in AUDIT_CHECKS.values()
        } | {
            key: iot.CfnAccountAuditConfiguration.AuditCheckConfigurationProperty(enabled=False)
            for key in NOT_APPLICABLE_CHECKS.values()
        }
        checks["DeviceCertificateAgeCheck"] = (
            iot.CfnAccountAuditConfiguration.DeviceCertAgeAuditCheckConfigurationProperty(
                enabled=True))
        self.account_audit = iot.CfnAccountAuditConfiguration(
            self, "AccountAudit",
            account_id=stack.account,
            role_arn=audit_role.role_arn,
            audit_check_configurations=iot.CfnAccountAuditConfiguration.AuditCheckConfigurationsProperty(
                **{_snake(k): v for k, v in checks.items()}),
            audit_notification_target_configurations=iot.CfnAccountAuditConfiguration.AuditNotificationTargetConfigurationsProperty(
                sns=iot.CfnAccountAuditConfiguration.AuditNotificationTargetProperty(
                    enabled=True, target_arn=self.topic.topic_arn, role_arn=notify_role.role_arn)),
        )  # fmt: skip
        # the thresholds: the L1 types of this aws-cdk-lib do not carry Configuration
        # for the expiring check, CloudFormation does
        self.account_audit.add_property_override(
            "AuditCheckConfigurations.DeviceCertificateAgeCheck.Configuration",
            {"CertAgeThresholdInDays": str(CERT_AGE_DAYS)})
        self.account_audit.add_property_override(
            "AuditCheckConfigurations.DeviceCertificateExpiringCheck.Configuration",
            {"CertExpirationThresholdInDays": str(CERT_EXPIRING_DAYS)})
        self.account_audit.node.add_dependency(notify_policy)
        self.scheduled_audit = iot.CfnScheduledAudit(
            self, "DailyAudit",
            scheduled_audit_name=SCHEDULED_AUDIT,
            frequency="DAILY",
            target_check_names=sorted(AUDIT_CHECKS),
        )  # fmt: skip
        self.scheduled_audit.node.add_dependency(self.account_audit)  # checks must be enabled first

        # -- Device Defender detect ----------------------------------------------------
        self.security_profile: iot.CfnSecurityProfile | None = None
        if detect:
            self.security_profile = iot.CfnSecurityProfile(
                self, "GatewayProfile",
                security_profile_name=SECURITY_PROFILE,
                security_profile_description="Wardlink gateways: message rate, authorization "
                "failures, connection attempts and disconnects",
                behaviors=[_behavior(b) for b in GATEWAY_BEHAVIORS],
                alert_targets={"SNS": iot.CfnSecurityProfile.AlertTargetProperty(
                    alert_target_arn=self.topic.topic_arn, role_arn=notify_role.role_arn)},
                target_arns=[self.gateways_group.attr_arn],
            )  # fmt: skip
            self.security_profile.node.add_dependency(notify_policy)

        # -- IoT Core logging ----------------------------------------------------------
        self.log_group = logs.LogGroup(
            self, "IotLogs",
            log_group_name=IOT_LOG_GROUP,
            retention=log_retention,
            encryption_key=audit_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )  # fmt: skip
        log_streams = self.log_group.log_group_arn  # ...:log-group:AWSIotLogsV2:* (its streams)
        logging_role, logging_policy = self._iot_role(
            "LoggingRole", "Lets AWS IoT Core write its logs to the AWSIotLogsV2 log group",
            iam.PolicyStatement(
                sid="WriteIotLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[log_streams],
            ),
        )  # fmt: skip
        acknowledge_wildcard_resource(
            logging_role, log_streams,
            "AWS IoT Core names a log stream per source and day; the grant is limited to the "
            "streams of the one AWSIotLogsV2 log group this stack creates and encrypts.",
        )  # fmt: skip
        self.logging = iot.CfnLogging(
            self, "Logging",
            account_id=stack.account,
            role_arn=logging_role.role_arn,
            default_log_level=log_level,
        )  # fmt: skip
        self.logging.node.add_dependency(self.log_group, logging_policy)
        self.investigation_logging = iot.CfnResourceSpecificLogging(
            self, "InvestigationLogging",
            target_type="THING_GROUP",
            target_name=INVESTIGATION_GROUP,
            log_level=investigation_log_level,
        )  # fmt: skip
        self.investigation_logging.node.add_dependency(self.logging)
        self.investigation_logging.node.add_dependency(self.investigation_group)

        # -- fleet metric --------------------------------------------------------------
        self.connected_gateways = iot.CfnFleetMetric(
            self, "ConnectedGateways",
            metric_name=CONNECTED_GATEWAYS_METRIC,
            description="Wardlink gateways connected to AWS IoT Core",
            index_name=FLEET_INDEX,
            query_string=f"thingTypeName:{THING_TYPE} AND connectivity.connected:true",
            aggregation_field="registry.version",  # a number every indexed thing has
            aggregation_type=iot.CfnFleetMetric.AggregationTypeProperty(
                name="Statistics", values=["count"]),
            period=300,
            unit="Count",
        )  # fmt: skip
        self.connected_gateways.node.add_dependency(self.fleet_indexing)

    def _iot_role(self, construct_id: str, description: str,
                  *statements: iam.PolicyStatement) -> tuple[iam.Role, iam.ManagedPolicy]:
        """A role only AWS IoT (for this account) can assume, and its managed policy."""
        role = iam.Role(self, construct_id, assumed_by=_iot_principal(cdk.Stack.of(self)),
                        description=description)
        policy = iam.ManagedPolicy(self, f"{construct_id}Policy", description=description,
                                   roles=[role], statements=list(statements))
        return role, policy

    def _fleet_indexing(self, log_retention: logs.RetentionDays,
                        audit_key: kms.IKey) -> cr.AwsCustomResource:
        call = cr.AwsSdkCall(
            service="IoT",
            action="UpdateIndexingConfiguration",
            parameters={"thingIndexingConfiguration": {
                "thingIndexingMode": "REGISTRY",
                "thingConnectivityIndexingMode": "STATUS",
            }},
            physical_resource_id=cr.PhysicalResourceId.of("wardlink-fleet-indexing"),
        )
        log_group = logs.LogGroup(self, "FleetIndexingLogs", retention=log_retention,
                                  encryption_key=audit_key,
                                  removal_policy=cdk.RemovalPolicy.RETAIN)
        # Our own role with a managed policy (not the construct's inline policy and
        # AWSLambdaBasicExecutionRole): one action, and logs into the one log group.
        role = iam.Role(
            self, "FleetIndexingRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the custom resource that turns on IoT fleet indexing",
        )  # fmt: skip
        policy = iam.ManagedPolicy(
            self, "FleetIndexingPolicy",
            description="iot:UpdateIndexingConfiguration, and the function's own logs",
            roles=[role],
            statements=[
                iam.PolicyStatement(sid="ConfigureFleetIndexing",
                                    actions=["iot:UpdateIndexingConfiguration"],
                                    resources=["*"]),
                iam.PolicyStatement(sid="WriteOwnLogs",
                                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                    resources=[log_group.log_group_arn]),
            ],
        )  # fmt: skip
        acknowledge_wildcard_resource(
            policy, "*",
            "iot:UpdateIndexingConfiguration has no resource-level permissions in IAM "
            "(the fleet index is an account setting): it can only be granted on '*'.",
        )  # fmt: skip
        acknowledge_wildcard_resource(
            policy, log_group.log_group_arn,
            "Lambda names a log stream per execution environment; the grant is limited to "
            "the streams of this custom resource's own encrypted log group.",
        )  # fmt: skip
        resource = cr.AwsCustomResource(
            self, "FleetIndexing",
            on_create=call,
            on_update=call,
            # on_delete: nothing; the index stays (see the module docstring)
            role=role,
            install_latest_aws_sdk=False,
            log_group=log_group,
            timeout=cdk.Duration.minutes(2),
        )  # fmt: skip
        resource.node.add_dependency(policy)
        provider = cdk.Stack.of(self).node.find_child(_AWS_CUSTOM_RESOURCE_PROVIDER)
        acknowledge_all(provider, [
            ("HIPAA.Security-LambdaConcurrency",
             "The provider function of AwsCustomResource runs only when CloudFormation "
             "creates or updates the fleet-indexing resource: one invocation per deployment."),
            ("HIPAA.Security-LambdaDLQ",
             "CloudFormation invokes the custom resource provider and waits for its answer; "
             "a failure fails the deployment, so there is no lost event for a DLQ to keep."),
            ("HIPAA.Security-LambdaInsideVPC",
             "The provider calls one AWS IoT control-plane API over TLS with SigV4; it has "
             "no private network peer and handles no device or patient data."),
        ])  # fmt: skip
        return resource


#: The logical id CDK gives AwsCustomResource's singleton provider function.
_AWS_CUSTOM_RESOURCE_PROVIDER = "AWS679f53fac002430cb0da5b7982bd2287"


def _iot_principal(stack: cdk.Stack) -> iam.ServicePrincipal:
    return iam.ServicePrincipal(
        "iot.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
    )


def _behavior(rule: Behavior) -> iot.CfnSecurityProfile.BehaviorProperty:
    return iot.CfnSecurityProfile.BehaviorProperty(
        name=rule.name,
        metric=rule.metric,
        criteria=iot.CfnSecurityProfile.BehaviorCriteriaProperty(
            comparison_operator="greater-than",
            value=iot.CfnSecurityProfile.MetricValueProperty(count=str(rule.limit)),
            duration_seconds=rule.window_s,
            consecutive_datapoints_to_alarm=rule.datapoints,
            consecutive_datapoints_to_clear=rule.datapoints,
        ),
        suppress_alerts=False,
    )


def _snake(camel: str) -> str:
    """A CloudFormation key as the L1 keyword jsii makes of it (an ``_`` before every
    capital): ``IoTPolicyPotentialMisConfigurationCheck`` -> ``io_t_policy_...``."""
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower()
                   for i, c in enumerate(camel))
