"""What a gateway (a Greengrass core device) is allowed to do, and nothing more.

Two halves:

* the **IoT policy** attached to each gateway certificate: connect as its own thing
  name (and the ``thing#N`` client ids the nucleus opens for extra connections),
  publish the four uplink topics and the UI's audit topic under its own name,
  and the Greengrass system topics (health, jobs, shadow) for its own thing;
  assume only our role alias.
  Thing policy variables resolve on every nucleus connection only when the
  certificate is attached with *exclusive* thing association (see docs/cloud.md).
* the **token-exchange role** behind ``AWS::IoT::RoleAlias`` (credentials the
  nucleus hands to components): call the gateway routes of our API under its own
  thing name only (``${credentials-iot:ThingName}``, which the credentials provider
  sets because the nucleus sends ``x-amzn-iot-thingname``), fetch
  component artifacts, ship logs (LogManager), and stream to ``wardlink-*``
  Kinesis Video streams. No DynamoDB, no Kinesis Data Streams, no Timestream: the
  gateway reaches the cloud only through MQTT and the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from wardlink_infra.api import gateway_role_name
from wardlink_infra.gateway_audit import AUDIT_KIND
from wardlink_infra.ingest import TOPIC_ROOT, UPLINK_KINDS
from wardlink_infra.nag import acknowledge_wildcard_resource
from wardlink_infra.settings import WardlinkSettings

THING = "${iot:Connection.Thing.ThingName}"
KINESIS_VIDEO_STREAM_PREFIX = "wardlink-"
GREENGRASS_DATA_PLANE_ACTIONS = [
    "greengrass:GetComponentVersionArtifact",
    "greengrass:ResolveComponentCandidates",
    "greengrass:GetDeploymentConfiguration",
    "greengrass:ListThingGroupsForCoreDevice",
]


def _iot_arn(stack: cdk.Stack, resource: str) -> str:
    # A plain join, never Fn::Sub: Sub would try to resolve ${iot:...} itself.
    return f"arn:{stack.partition}:iot:{stack.region}:{stack.account}:{resource}"


def gateway_policy_document(stack: cdk.Stack, role_alias_arn: str) -> dict[str, Any]:
    """The least-privilege IoT policy document for a Wardlink gateway."""
    own_things = f"$aws/things/{THING}"
    system_topics = [
        f"{own_things}/greengrass/health/json",
        f"{own_things}/greengrassv2/health/json",
        f"{own_things}/jobs/*",
        f"{own_things}/shadow/*",
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConnectAsOwnThingName",
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": [
                    _iot_arn(stack, f"client/{THING}"),
                    _iot_arn(stack, f"client/{THING}#*"),
                ],
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            {
                "Sid": "PublishOwnUplinkTopics",
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": [
                    _iot_arn(stack, f"topic/{TOPIC_ROOT}/{THING}/{kind}")
                    for kind in (*UPLINK_KINDS, AUDIT_KIND)
                ],
            },
            {
                "Sid": "GreengrassSystemTopics",
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:Receive"],
                "Resource": [_iot_arn(stack, f"topic/{t}") for t in system_topics],
            },
            {
                "Sid": "GreengrassSystemSubscriptions",
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [
                    _iot_arn(stack, f"topicfilter/{own_things}/jobs/*"),
                    _iot_arn(stack, f"topicfilter/{own_things}/shadow/*"),
                ],
            },
            {
                # aws.greengrass.DeviceDefender reports the core device's metrics every
                # 5 minutes (at least) on its own reserved topic; IoT Core would
                # disconnect a client that publishes where its policy does not allow.
                "Sid": "DeviceDefenderMetrics",
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:Receive"],
                "Resource": [
                    _iot_arn(stack, f"topic/{own_things}/defender/metrics/json"),
                    _iot_arn(stack, f"topic/{own_things}/defender/metrics/json/accepted"),
                    _iot_arn(stack, f"topic/{own_things}/defender/metrics/json/rejected"),
                ],
            },
            {
                "Sid": "DeviceDefenderReplies",
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [
                    _iot_arn(stack, f"topicfilter/{own_things}/defender/metrics/json/accepted"),
                    _iot_arn(stack, f"topicfilter/{own_things}/defender/metrics/json/rejected"),
                ],
            },
            {
                "Sid": "AssumeTokenExchangeRoleAlias",
                "Effect": "Allow",
                "Action": "iot:AssumeRoleWithCertificate",
                "Resource": role_alias_arn,
            },
            {
                "Sid": "GreengrassDataPlane",
                "Effect": "Allow",
                "Action": GREENGRASS_DATA_PLANE_ACTIONS,
                "Resource": "*",
            },
        ],
    }


class GatewayIdentity(Construct):
    """``policy`` (CfnPolicy), ``token_exchange_role`` and ``role_alias``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        artifacts_bucket: s3.IBucket,
        data_key: kms.IKey,
        api_invoke_arns: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role_alias_name = f"{settings.prefix}-token-exchange"
        self.policy_name = f"{settings.prefix}-gateway"

        self.token_exchange_role = iam.Role(
            self,
            "TokenExchangeRole",
            assumed_by=iam.ServicePrincipal("credentials.iot.amazonaws.com"),
            # A fixed name: the API handlers tell gateway callers apart by it.
            role_name=gateway_role_name(settings.prefix),
            description="Greengrass token-exchange role of Wardlink gateways",
            max_session_duration=cdk.Duration.hours(1),
        )
        greengrass_logs = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/greengrass/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        video_streams = stack.format_arn(
            service="kinesisvideo",
            resource="stream",
            resource_name=f"{KINESIS_VIDEO_STREAM_PREFIX}*/*",
        )
        policy = iam.ManagedPolicy(
            self,
            "TokenExchangePolicy",
            description="Only what a Wardlink gateway needs from AWS",
            roles=[self.token_exchange_role],
            statements=[
                iam.PolicyStatement(
                    sid="CallGatewayRoutesOfTheWardlinkApi",
                    actions=["execute-api:Invoke"],
                    resources=list(api_invoke_arns),
                ),
                iam.PolicyStatement(
                    sid="DownloadComponentArtifacts",
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="DecryptComponentArtifacts",
                    actions=["kms:Decrypt"],
                    resources=[data_key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}
                    },
                ),
                iam.PolicyStatement(
                    sid="LogManagerUploads",
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[greengrass_logs],
                ),
                iam.PolicyStatement(
                    sid="KinesisVideoStreams",
                    actions=[
                        "kinesisvideo:PutMedia",
                        "kinesisvideo:GetDataEndpoint",
                        "kinesisvideo:DescribeStream",
                    ],
                    resources=[video_streams],
                ),
            ],
        )
        self._acknowledge_wildcards(
            policy,
            artifacts=artifacts_bucket.arn_for_objects("*"),
            greengrass_logs=greengrass_logs,
            video_streams=video_streams,
            api_invoke_arns=api_invoke_arns,
        )

        self.role_alias = iot.CfnRoleAlias(
            self,
            "RoleAlias",
            role_alias=self.role_alias_name,
            role_arn=self.token_exchange_role.role_arn,
            credential_duration_seconds=3600,
        )
        self.role_alias.node.add_dependency(policy)
        role_alias_arn = _iot_arn(stack, f"rolealias/{self.role_alias_name}")

        self.policy = iot.CfnPolicy(
            self,
            "GatewayPolicy",
            policy_name=self.policy_name,
            policy_document=gateway_policy_document(stack, role_alias_arn),
        )


    @staticmethod
    def _acknowledge_wildcards(policy: iam.ManagedPolicy, *, artifacts: str,
                               greengrass_logs: str, video_streams: str,
                               api_invoke_arns: Sequence[str]) -> None:
        acknowledge_wildcard_resource(
            policy, artifacts,
            "Component artifacts are addressed by component name and version, chosen at "
            "publish time; the grant is GetObject only, on the one artifacts bucket.",
        )
        acknowledge_wildcard_resource(
            policy, greengrass_logs,
            "Greengrass LogManager writes to /aws/greengrass/GreengrassSystemComponent/... "
            "and /aws/greengrass/UserComponent/... groups it names per component; the "
            "grant is limited to that prefix and to creating and appending logs.",
        )
        acknowledge_wildcard_resource(
            policy, video_streams,
            "Kinesis Video stream ARNs end in a creation timestamp, so a stream is only "
            "addressable by name prefix; access is limited to streams named wardlink-*.",
        )
        for arn in api_invoke_arns:
            if "*" in str(cdk.Stack.of(policy).resolve(arn)):
                acknowledge_wildcard_resource(
                    policy, arn,
                    "The '*' stands for the {device_id} path parameter (execute-api ARNs "
                    "cannot name a path parameter); the method, the rest of the path and "
                    "the gateway segment (${credentials-iot:ThingName}, the caller's own "
                    "thing name) are fixed, so only the caller's own devices match.",
                )
