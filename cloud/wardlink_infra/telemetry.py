"""Telemetry store, fed from Kinesis by one Lambda: Timestream for InfluxDB, or LiveAnalytics.

``wardlink:telemetryStore`` chooses the store; the stream, the rules, the writer's
event source mapping and the detectors do not change with it.

* ``influxdb`` (the default; any account): an ``AWS::Timestream::InfluxDBInstance``
  (InfluxDB 2.x) in a VPC of its own (isolated private subnets, no NAT, flow logs),
  not publicly accessible, reachable on 8086 only from the writer's and the
  set-up functions' security groups. CloudFormation gives the instance admin
  credentials only (generated into Secrets Manager, data key); a custom resource
  inside the VPC creates the organization, the bucket with its retention, the DBRP
  mapping and a token scoped to the bucket, kept in a second secret that a
  rotation function renews. The writer runs in the VPC and reaches AWS through
  interface endpoints (Secrets Manager, X-Ray) and the S3 and DynamoDB gateway
  endpoints.
* ``liveanalytics``: Timestream for LiveAnalytics, for accounts that still have it
  (closed to accounts opened after 2025-06-20). Memory store for the recent window,
  magnetic store for seven years, magnetic-store writes enabled for gateways that
  drain old spools.

Points a store refuses for good go to the data bucket under ``telemetry-rejected/``
(written by the writer; Timestream writes its own magnetic-store reports under
``timestream-rejected/``).
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_timestream as timestream
from constructs import Construct

from wardlink_infra.buckets import DATA_PREFIX_TELEMETRY_REJECTED, DATA_PREFIX_TIMESTREAM_REJECTED
from wardlink_infra.consumers import consume_stream
from wardlink_infra.functions import FunctionKit, WardlinkFunction
from wardlink_infra.grants import data_key_use
from wardlink_infra.messaging import dead_letter_queue
from wardlink_infra.nag import acknowledge, acknowledge_wildcard_resource
from wardlink_infra.settings import WardlinkSettings

TELEMETRY_WRITER_HANDLER = "wardlink.cloudapi.handlers.telemetry_writer.handler"
INFLUXDB_SETUP_HANDLER = "wardlink.cloudapi.handlers.influxdb_setup.handler"
INFLUXDB_ROTATION_HANDLER = "wardlink.cloudapi.handlers.influxdb_setup.rotation_handler"
TABLE_NAME = "telemetry"
INFLUXDB_ORG = "wardlink"
INFLUXDB_BUCKET = "telemetry"
INFLUXDB_PORT = 8086
INFLUXDB_ADMIN = "wardlink-admin"


def timestream_names(settings: WardlinkSettings) -> tuple[str, str]:
    """``(database, table)``: fixed names, so Lambda environments can carry them."""
    return f"{settings.prefix}-telemetry".replace("-", "_"), TABLE_NAME


class TelemetryStore(Construct):
    """The store of ``settings.telemetry_store``, the ``writer`` function and its ``dlq``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        data_key: kms.IKey,
        data_bucket: s3.IBucket,
        log_bucket: s3.IBucket,
        stream: kinesis.IStream,
        kit: FunctionKit,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.dlq = dead_letter_queue(
            self, "WriterFailures", key=data_key,
            holds="Kinesis batches the telemetry writer could not store",
        )
        self.outputs: dict[str, str] = {}
        self.queues: list[tuple[str, sqs.IQueue]] = [("TelemetryWriterFailures", self.dlq)]
        self.functions: list[WardlinkFunction] = []
        ready: list[Construct] = []
        if settings.telemetry_store == "influxdb":
            self.writer = self._influxdb(kit, data_key, log_bucket, ready)
        else:
            self.writer = self._live_analytics(kit, data_key, data_bucket)
        self.functions.insert(0, self.writer)

        rejected = data_bucket.arn_for_objects(f"{DATA_PREFIX_TELEMETRY_REJECTED}*")
        self.writer.allow(
            iam.PolicyStatement(
                sid="ReportRefusedPoints", actions=["s3:PutObject"], resources=[rejected]
            ),
            data_key_use(data_key),
        )
        acknowledge_wildcard_resource(
            self.writer.policy,
            rejected,
            "The writer names each refused-points report object itself (date and a random "
            "id); it may only PutObject under the telemetry-rejected/ prefix of the data bucket.",
        )
        acknowledge(
            self.writer.function,
            "HIPAA.Security-LambdaDLQ",
            "Invoked only by its Kinesis event source mapping, never asynchronously; failed "
            "batches go to the mapping's on-failure destination (an encrypted SQS DLQ with "
            "a depth alarm), which is where a function DLQ would not apply.",
        )
        self.mapping = consume_stream(
            self,
            "FromUplink",
            consumer=self.writer,
            stream=stream,
            dead_letter_queue=self.dlq,
            data_key=data_key,
        )
        for construct in ready:  # no telemetry before the store can take it
            self.mapping.node.add_dependency(construct)

    # -- Timestream for LiveAnalytics ------------------------------------------------------

    def _live_analytics(
        self, kit: FunctionKit, data_key: kms.IKey, data_bucket: s3.IBucket
    ) -> WardlinkFunction:
        settings = self.settings
        self.database_name, _ = timestream_names(settings)
        self.database = timestream.CfnDatabase(
            self, "Database", database_name=self.database_name, kms_key_id=data_key.key_arn
        )
        self.database.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.table = timestream.CfnTable(
            self,
            "Table",
            database_name=self.database_name,
            table_name=TABLE_NAME,
            retention_properties={
                "MemoryStoreRetentionPeriodInHours": str(
                    settings.timestream_memory_retention_hours
                ),
                "MagneticStoreRetentionPeriodInDays": str(
                    settings.timestream_magnetic_retention_days
                ),
            },
            magnetic_store_write_properties={
                "EnableMagneticStoreWrites": True,
                "MagneticStoreRejectedDataLocation": {
                    "S3Configuration": {
                        "BucketName": data_bucket.bucket_name,
                        "ObjectKeyPrefix": DATA_PREFIX_TIMESTREAM_REJECTED,
                        "EncryptionOption": "SSE_KMS",
                        "KmsKeyId": data_key.key_arn,
                    }
                },
            },
            schema=timestream.CfnTable.SchemaProperty(
                composite_partition_key=[
                    timestream.CfnTable.PartitionKeyProperty(
                        type="DIMENSION", name="gateway_id", enforcement_in_record="OPTIONAL"
                    )
                ]
            ),
        )
        self.table.node.add_dependency(self.database)
        self.table.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.outputs = {"TimestreamDatabase": self.database_name, "TimestreamTable": TABLE_NAME}

        writer = WardlinkFunction(
            self,
            "Writer",
            kit=kit,
            handler=TELEMETRY_WRITER_HANDLER,
            description="Kinesis uplink -> Timestream multi-measure records (idempotent on seq)",
            reserved_concurrency=settings.concurrency.telemetry_writer,
            timeout=cdk.Duration.seconds(60),
            memory_size=512,
            environment={"TELEMETRY_STORE": "liveanalytics"},
        )
        writer.allow(
            iam.PolicyStatement(
                actions=["timestream:WriteRecords"], resources=[self.table.attr_arn]
            )
        )
        writer.allow_endpoint_discovery()
        # Timestream writes magnetic-store rejection reports with the writer's identity.
        rejected_reports = data_bucket.arn_for_objects(f"{DATA_PREFIX_TIMESTREAM_REJECTED}*")
        writer.allow(
            iam.PolicyStatement(
                sid="TimestreamRejectedRecordReports",
                actions=["s3:PutObject"],
                resources=[rejected_reports],
            )
        )
        acknowledge_wildcard_resource(
            writer.policy,
            rejected_reports,
            "Timestream names its rejected-record report objects itself; the writer may only "
            "PutObject under the timestream-rejected/ prefix of the data bucket.",
        )
        return writer

    # -- Timestream for InfluxDB -------------------------------------------------------------

    def _influxdb(
        self,
        kit: FunctionKit,
        data_key: kms.IKey,
        log_bucket: s3.IBucket,
        ready: list[Construct],
    ) -> WardlinkFunction:
        settings = self.settings
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_s3(log_bucket, "vpc-flow-logs/"),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
            restrict_default_security_group=True,
        )
        self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[private]
        )
        # The writer records each gateway's last stored seq in the Gateways table.
        self.vpc.add_gateway_endpoint(
            "DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[private]
        )
        self.instance_sg = ec2.SecurityGroup(
            self, "InstanceSg", vpc=self.vpc, allow_all_outbound=False,
            description="Timestream for InfluxDB: 8086 from the writer and set-up functions only",
        )  # fmt: skip
        self.endpoint_sg = ec2.SecurityGroup(
            self, "EndpointSg", vpc=self.vpc, allow_all_outbound=False,
            description="VPC interface endpoints: 443 from the telemetry functions only",
        )  # fmt: skip
        endpoints = [
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=private,
                private_dns_enabled=True,
                open=False,
                security_groups=[self.endpoint_sg],
            )
            for name, service in (
                ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
                ("XRay", ec2.InterfaceVpcEndpointAwsService.XRAY),
            )
        ]
        self.writer_sg = self._client_sg("WriterSg", "telemetry writer")
        self.admin_sg = self._client_sg("AdminSg", "InfluxDB set-up and token rotation")

        self.admin_secret = secretsmanager.Secret(
            self,
            "AdminSecret",
            description="Timestream for InfluxDB admin (set-up and token rotation only)",
            encryption_key=data_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": INFLUXDB_ADMIN}),
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=32,
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        _acknowledge_admin_secret_rotation(self.admin_secret)
        self.token_secret = secretsmanager.Secret(
            self,
            "WriterTokenSecret",
            description="Token scoped to the telemetry bucket (written by the set-up, rotated)",
            encryption_key=data_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        self.instance = timestream.CfnInfluxDBInstance(
            self,
            "Instance",
            name=f"{settings.prefix}-telemetry",
            db_instance_type=settings.influxdb_instance_type,
            db_storage_type="InfluxIOIncludedT1",
            allocated_storage=settings.influxdb_storage_gib,
            deployment_type=settings.influxdb_deployment,
            publicly_accessible=False,
            network_type="IPV4",
            port=INFLUXDB_PORT,
            vpc_subnet_ids=self.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
            ).subnet_ids,
            vpc_security_group_ids=[self.instance_sg.security_group_id],
            username=self.admin_secret.secret_value_from_json("username").unsafe_unwrap(),
            password=self.admin_secret.secret_value_from_json("password").unsafe_unwrap(),
            organization=INFLUXDB_ORG,
            bucket=INFLUXDB_BUCKET,
        )
        self.instance.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        url = f"https://{self.instance.attr_endpoint}:{INFLUXDB_PORT}"

        # CloudFormation and Secrets Manager may invoke these asynchronously
        self.admin_dlq = dead_letter_queue(
            self, "AdminFailures", key=data_key,
            holds="failed asynchronous invocations of the InfluxDB set-up and rotation",
        )  # fmt: skip
        setup = self._function(
            kit, "Setup", INFLUXDB_SETUP_HANDLER,
            "CloudFormation custom resource: InfluxDB org, bucket, DBRP and bucket token",
            self.admin_sg, cdk.Duration.minutes(5),
        )  # fmt: skip
        setup.allow(
            _secret_access("ReadAdminSecret", self.admin_secret, ["secretsmanager:GetSecretValue"]),
            _secret_access("StoreWriterToken", self.token_secret,
                           ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]),
            data_key_use(data_key),
        )  # fmt: skip
        self.setup = cdk.CustomResource(
            self,
            "Provisioned",
            service_token=setup.function.function_arn,
            resource_type="Custom::WardlinkInfluxDBSetup",
            properties={
                "Url": url,
                "AdminSecretArn": self.admin_secret.secret_arn,
                "TokenSecretArn": self.token_secret.secret_arn,
                "Organization": INFLUXDB_ORG,
                "Bucket": INFLUXDB_BUCKET,
                "RetentionDays": str(settings.timestream_magnetic_retention_days),
            },
        )
        self.setup.node.add_dependency(self.instance, setup, *endpoints)
        ready.append(self.setup)

        rotation = self._function(
            kit, "TokenRotation", INFLUXDB_ROTATION_HANDLER,
            "Secrets Manager rotation of the InfluxDB writer token",
            self.admin_sg, cdk.Duration.minutes(2),
            environment={"INFLUXDB_ADMIN_SECRET_ARN": self.admin_secret.secret_arn},
        )  # fmt: skip
        rotation.allow(
            _secret_access("ReadAdminSecret", self.admin_secret, ["secretsmanager:GetSecretValue"]),
            _secret_access("RotateWriterToken", self.token_secret, [
                "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]),
            data_key_use(data_key),
        )  # fmt: skip
        invoke = lambda_.CfnPermission(
            self,
            "SecretsManagerMayRotate",
            action="lambda:InvokeFunction",
            function_name=rotation.function.function_arn,
            principal="secretsmanager.amazonaws.com",
            source_account=cdk.Stack.of(self).account,
        )
        schedule = secretsmanager.CfnRotationSchedule(
            self,
            "WriterTokenRotation",
            secret_id=self.token_secret.secret_arn,
            rotation_lambda_arn=rotation.function.function_arn,
            rotate_immediately_on_update=False,
            rotation_rules=secretsmanager.CfnRotationSchedule.RotationRulesProperty(
                automatically_after_days=settings.influxdb_token_rotation_days
            ),
        )
        schedule.node.add_dependency(invoke, self.setup)

        self._reader_environment = {
            "TELEMETRY_STORE": "influxdb",
            "INFLUXDB_URL": url,
            "INFLUXDB_DATABASE": INFLUXDB_BUCKET,
            "INFLUXDB_TOKEN_SECRET_ARN": self.token_secret.secret_arn,
        }
        writer = self._function(
            kit, "Writer", TELEMETRY_WRITER_HANDLER,
            "Kinesis uplink -> Timestream for InfluxDB, line protocol over /write (idempotent)",
            self.writer_sg, cdk.Duration.seconds(60),
            environment=dict(self._reader_environment),
            reserved_concurrency=settings.concurrency.telemetry_writer,
            memory_size=512,
        )  # fmt: skip
        writer.allow(
            _secret_access("ReadWriterToken", self.token_secret, ["secretsmanager:GetSecretValue"])
        )
        self.functions.extend([setup, rotation])
        self.queues.append(("InfluxDBAdminFailures", self.admin_dlq))
        self.outputs = {
            "InfluxDBEndpoint": self.instance.attr_endpoint,
            "InfluxDBBucket": INFLUXDB_BUCKET,
            "InfluxDBTokenSecretArn": self.token_secret.secret_arn,
        }
        return writer

    def reader(self, kit: FunctionKit, handler: str) -> WardlinkFunction:
        """The support API's telemetry reader (``GET /devices/{uid}/telemetry``).

        With InfluxDB: in the VPC beside the writer, reading the store's token. With
        LiveAnalytics the route answers 501 (no read path there yet), so the function
        holds no store permission at all.
        """
        description = "A device's recent telemetry for support (InfluxQL over /query)"
        if self.settings.telemetry_store != "influxdb":
            return WardlinkFunction(
                self, "Reader", kit=kit, handler=handler, description=description,
                reserved_concurrency=2, environment={"TELEMETRY_STORE": "liveanalytics"},
            )  # fmt: skip
        reader = WardlinkFunction(
            self, "Reader", kit=kit, handler=handler, description=description,
            reserved_concurrency=self.settings.concurrency.telemetry_reader,
            timeout=cdk.Duration.seconds(20), environment=self._reader_environment,
            vpc=self.vpc, security_groups=[self._client_sg("ReaderSg", "telemetry reader")],
        )  # fmt: skip
        reader.allow(
            _secret_access("ReadStoreToken", self.token_secret, ["secretsmanager:GetSecretValue"])
        )
        return reader

    def _client_sg(self, construct_id: str, who: str) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, allow_all_outbound=False,
            description=f"{who}: InfluxDB on 8086, AWS endpoints on 443",
        )  # fmt: skip
        self.instance_sg.add_ingress_rule(group, ec2.Port.tcp(INFLUXDB_PORT), f"from the {who}")
        self.endpoint_sg.add_ingress_rule(group, ec2.Port.tcp(443), f"from the {who}")
        group.add_egress_rule(self.instance_sg, ec2.Port.tcp(INFLUXDB_PORT), "to InfluxDB")
        # The subnets have no route out: 443 reaches only the VPC endpoints (interface
        # endpoints in the VPC, S3 through the gateway endpoint's prefix list route).
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "to the VPC endpoints")
        return group

    def _function(
        self,
        kit: FunctionKit,
        construct_id: str,
        handler: str,
        description: str,
        group: ec2.ISecurityGroup,
        timeout: cdk.Duration,
        *,
        environment: dict[str, str] | None = None,
        reserved_concurrency: int = 1,
        memory_size: int = 256,
    ) -> WardlinkFunction:
        return WardlinkFunction(
            self,
            construct_id,
            kit=kit,
            handler=handler,
            description=description,
            reserved_concurrency=reserved_concurrency,
            timeout=timeout,
            memory_size=memory_size,
            environment=environment,
            async_dead_letter_queue=None if construct_id == "Writer" else self.admin_dlq,
            vpc=self.vpc,
            security_groups=[group],
        )


def _secret_access(
    sid: str, secret: secretsmanager.ISecret, actions: list[str]
) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=actions, resources=[secret.secret_arn])


def _acknowledge_admin_secret_rotation(secret: secretsmanager.ISecret) -> None:
    reason = (
        "The InfluxDB admin password is a set-up credential: only the set-up and rotation "
        "functions (in the VPC) read it, the instance is not publicly accessible, and "
        "changing it is the Timestream for InfluxDB UpdateDbInstance operation, not a "
        "rotation Lambda. The writer never holds it: its bucket-scoped token rotates."
    )
    acknowledge(secret, "AwsSolutions-SMG4", reason)
    acknowledge(secret, "HIPAA.Security-SecretsManagerRotationEnabled", reason)
