"""What fleet registration needs in AWS: spec bucket, registration role, thing type, quarantine.

``wardlink fleet gateways register`` uploads a JSONL spec to the fleet bucket and starts
``StartThingRegistrationTask`` with a role the IoT service assumes to read that spec and
to create each line's thing and certificate (the task runs as that role, not as the
operator). The role may do only what the provisioning template
(:func:`wardlink.fleet.gateways.template_body`) asks: read specs under ``fleet/`` in the
one bucket, create and describe things, register certificates from CSRs, attach the
gateway IoT policy and the thing principal. AWS's own role policy for the task
(``AWSIoTThingsRegistration``) grants some thirty IoT actions on ``*``; this one keeps
the subset the template uses, on our resources where IAM lets the action be scoped.

The operators (the support role of :mod:`wardlink_infra.api`, which ``wardlink cloud
credentials --support`` assumes) get a managed policy for the fleet commands: the
inventory load's batch reads and writes on the Devices table and its ``by_serial``
index, the registration task and certificate actions, revocation into the quarantine
group, and spec uploads to the fleet bucket.

The thing type and the ``wardlink-quarantine`` group have account-wide names (the CLI
addresses them by name), so one stack per account and region owns them; both are
retained on stack deletion so a revoked gateway never leaves quarantine by accident.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from wardlink.fleet.gateways import QUARANTINE_GROUP, THING_TYPE
from wardlink_infra.buckets import hardened_bucket
from wardlink_infra.nag import acknowledge_wildcard_resource
from wardlink_infra.tables import DeployedTable

#: Where ``wardlink fleet gateways register`` puts its specs (see Provisioner.provision).
SPEC_PREFIX = "fleet/gateways/"
SPEC_RETENTION_DAYS = 90

# Actions with no resource-level permission in IAM (Service Authorization Reference):
# they can only be granted on "*".
TASK_ACTIONS = [
    "iot:StartThingRegistrationTask",
    "iot:DescribeThingRegistrationTask",
    "iot:ListThingRegistrationTasks",
    "iot:ListThingRegistrationTaskReports",
    "iot:StopThingRegistrationTask",
]
UNSCOPED_IOT_ACTIONS_OF_THE_TASK = ["iot:CreateCertificateFromCsr", "iot:RegisterThing"]


class FleetProvisioning(Construct):
    """``bucket``, ``registration_role``, ``thing_type``, ``quarantine`` and ``operator_policy``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_key: kms.IKey,
        access_logs: s3.IBucket,
        devices: DeployedTable,
        gateway_policy_name: str,
        operator_role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        def iot_arn(resource: str) -> str:
            return f"arn:{stack.partition}:iot:{stack.region}:{stack.account}:{resource}"

        self.bucket = hardened_bucket(
            self, "Bucket", key=data_key, access_logs=access_logs, log_prefix="fleet/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-registration-specs",
                    prefix=SPEC_PREFIX,
                    expiration=cdk.Duration.days(SPEC_RETENTION_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )  # fmt: skip
        specs = self.bucket.arn_for_objects(f"{SPEC_PREFIX}*")
        things = iot_arn("thing/*")
        certificates = iot_arn("cert/*")
        thing_type_arn = iot_arn(f"thingtype/{THING_TYPE}")
        gateway_policy_arn = iot_arn(f"policy/{gateway_policy_name}")
        quarantine_arn = iot_arn(f"thinggroup/{QUARANTINE_GROUP}")
        read_through_s3 = iam.PolicyStatement(
            sid="DecryptSpecsThroughS3",
            actions=["kms:Decrypt"],
            resources=[data_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
        )

        self.thing_type = iot.CfnThingType(
            self, "GatewayThingType",
            thing_type_name=THING_TYPE,
            thing_type_properties=iot.CfnThingType.ThingTypePropertiesProperty(
                thing_type_description="Wardlink gateway (Greengrass core device)",
                searchable_attributes=["site_id"],
            ),
        )  # fmt: skip
        self.thing_type.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.quarantine = iot.CfnThingGroup(
            self, "QuarantineGroup",
            thing_group_name=QUARANTINE_GROUP,
            thing_group_properties=iot.CfnThingGroup.ThingGroupPropertiesProperty(
                thing_group_description="revoked Wardlink gateways (certificates INACTIVE)",
            ),
        )  # fmt: skip
        self.quarantine.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

        # -- the role the registration task runs as ------------------------------------
        self.registration_role = iam.Role(
            self, "RegistrationRole",
            assumed_by=iam.ServicePrincipal(
                "iot.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Assumed by AWS IoT to run Wardlink's bulk gateway registration tasks",
            max_session_duration=cdk.Duration.hours(1),
        )  # fmt: skip
        role_policy = iam.ManagedPolicy(
            self, "RegistrationPolicy",
            description="What the gateway provisioning template needs, on Wardlink resources",
            roles=[self.registration_role],
            statements=[
                iam.PolicyStatement(sid="ReadRegistrationSpecs", actions=["s3:GetObject"],
                                    resources=[specs]),
                read_through_s3,
                iam.PolicyStatement(
                    sid="CreateGatewayThings",
                    actions=["iot:CreateThing", "iot:DescribeThing", "iot:UpdateThing",
                             "iot:ListThingPrincipals", "iot:AttachThingPrincipal"],
                    resources=[things],
                ),
                iam.PolicyStatement(sid="UseGatewayThingType", actions=["iot:DescribeThingType"],
                                    resources=[thing_type_arn]),
                iam.PolicyStatement(
                    sid="CertificatesFromCsrs",
                    actions=["iot:DescribeCertificate", "iot:AttachPolicy",
                             "iot:ListAttachedPolicies", "iot:ListPrincipalThings"],
                    resources=[certificates],
                ),
                iam.PolicyStatement(sid="ReadGatewayPolicy", actions=["iot:GetPolicy"],
                                    resources=[gateway_policy_arn]),
                iam.PolicyStatement(sid="RunTheTemplate",
                                    actions=UNSCOPED_IOT_ACTIONS_OF_THE_TASK, resources=["*"]),
            ],
        )  # fmt: skip

        # -- the operators --------------------------------------------------------------
        self.operator_policy = iam.ManagedPolicy(
            self, "OperatorPolicy",
            description="wardlink fleet: inventory load, gateway provisioning and revocation",
            roles=[operator_role],
            statements=[
                iam.PolicyStatement(
                    sid="LoadDeviceInventory",
                    actions=["dynamodb:BatchWriteItem", "dynamodb:BatchGetItem",
                             "dynamodb:PutItem", "dynamodb:UpdateItem"],
                    resources=[devices.table.table_arn],
                ),
                iam.PolicyStatement(
                    sid="LocateUnitsBySerial",
                    actions=["dynamodb:Query"],
                    resources=[f"{devices.table.table_arn}/index/by_serial"],
                ),
                iam.PolicyStatement(
                    sid="DeviceTableAndSpecsEncryption",
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[data_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": [
                        f"dynamodb.{stack.region}.amazonaws.com",
                        f"s3.{stack.region}.amazonaws.com",
                    ]}},
                ),
                iam.PolicyStatement(sid="UploadRegistrationSpecs", actions=["s3:PutObject"],
                                    resources=[specs]),
                iam.PolicyStatement(sid="RunRegistrationTasks", actions=TASK_ACTIONS,
                                    resources=["*"]),
                iam.PolicyStatement(
                    sid="PassTheRegistrationRoleToIot",
                    actions=["iam:PassRole"],
                    resources=[self.registration_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="IotActionsWithoutResourceScope",
                    actions=["iot:ListThings", "iot:CreateCertificateFromCsr"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="GatewayThings",
                    actions=["iot:DescribeThing", "iot:ListThingPrincipals",
                             "iot:AttachThingPrincipal", "iot:DetachThingPrincipal",
                             "iot:ListThingGroupsForThing", "iot:AddThingToThingGroup"],
                    resources=[things, quarantine_arn],
                ),
                iam.PolicyStatement(sid="DescribeGatewayThingType",
                                    actions=["iot:DescribeThingType"],
                                    resources=[thing_type_arn]),
                iam.PolicyStatement(sid="DescribeQuarantineGroup",
                                    actions=["iot:DescribeThingGroup"],
                                    resources=[quarantine_arn]),
                iam.PolicyStatement(
                    sid="RotateAndRevokeCertificates",
                    actions=["iot:DescribeCertificate", "iot:UpdateCertificate",
                             "iot:AttachPolicy", "iot:ListAttachedPolicies",
                             "iot:ListPrincipalThings"],
                    resources=[certificates],
                ),
                iam.PolicyStatement(sid="AttachTheGatewayPolicy", actions=["iot:AttachPolicy"],
                                    resources=[gateway_policy_arn]),
            ],
        )  # fmt: skip
        self._acknowledge(role_policy, self.operator_policy, specs=specs, things=things,
                          certificates=certificates)

    @staticmethod
    def _acknowledge(role_policy: iam.ManagedPolicy, operator_policy: iam.ManagedPolicy, *,
                     specs: str, things: str, certificates: str) -> None:
        for policy in (role_policy, operator_policy):
            acknowledge_wildcard_resource(
                policy, specs,
                "Each registration spec is a new object named by time and a random suffix; "
                "the grant is limited to the fleet/gateways/ prefix of the one fleet bucket.",
            )
            acknowledge_wildcard_resource(
                policy, things,
                "Gateway things are created by the registration task, so their names are not "
                "known at deploy time; IoT policies and the token-exchange role, not this "
                "grant, keep a gateway to its own thing.",
            )
            acknowledge_wildcard_resource(
                policy, certificates,
                "Certificate ids are hashes AWS IoT assigns when it signs a gateway's CSR; "
                "no certificate can be named before it exists.",
            )
            acknowledge_wildcard_resource(
                policy, "*",
                "CreateCertificateFromCsr, RegisterThing, ListThings and the thing "
                "registration task actions have no resource-level permissions in IAM: "
                "they can only be granted on '*'.",
            )
