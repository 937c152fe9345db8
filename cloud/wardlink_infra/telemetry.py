"""Telemetry store: Timestream for LiveAnalytics, fed from Kinesis by one Lambda.

Memory store for the recent window (fast point queries for support), magnetic
store for seven years. Magnetic-store writes are enabled because a gateway that
was offline longer than the memory window drains its spool with old timestamps;
records Timestream still rejects are reported to the data bucket instead of being
lost. The writer itself sits behind ``TelemetryStore`` in the application code, so
accounts without LiveAnalytics (closed to new customers since 2025-06-20) swap in
the InfluxDB store; see docs/cloud.md.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_timestream as timestream
from constructs import Construct

from wardlink_infra.buckets import DATA_PREFIX_TIMESTREAM_REJECTED
from wardlink_infra.consumers import consume_stream
from wardlink_infra.functions import FunctionKit, WardlinkFunction
from wardlink_infra.messaging import dead_letter_queue
from wardlink_infra.nag import acknowledge, acknowledge_wildcard_resource
from wardlink_infra.settings import WardlinkSettings

TELEMETRY_WRITER_HANDLER = "wardlink.cloudapi.handlers.telemetry_writer.handler"
TABLE_NAME = "telemetry"


def timestream_names(settings: WardlinkSettings) -> tuple[str, str]:
    """``(database, table)``: fixed names, so Lambda environments can carry them."""
    return f"{settings.prefix}-telemetry".replace("-", "_"), TABLE_NAME


class TelemetryStore(Construct):
    """``database``, ``table``, the ``writer`` function and its ``dlq``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        data_key: kms.IKey,
        data_bucket: s3.IBucket,
        stream: kinesis.IStream,
        kit: FunctionKit,
    ) -> None:
        super().__init__(scope, construct_id)
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

        self.dlq = dead_letter_queue(
            self, "WriterFailures", key=data_key,
            holds="Kinesis batches the telemetry writer could not store",
        )
        self.writer = WardlinkFunction(
            self,
            "Writer",
            kit=kit,
            handler=TELEMETRY_WRITER_HANDLER,
            description="Kinesis uplink -> Timestream multi-measure records (idempotent on seq)",
            reserved_concurrency=settings.concurrency.telemetry_writer,
            timeout=cdk.Duration.seconds(60),
            memory_size=512,
        )
        self.writer.allow(
            iam.PolicyStatement(
                actions=["timestream:WriteRecords"], resources=[self.table.attr_arn]
            )
        )
        self.writer.allow_endpoint_discovery()
        # Timestream writes magnetic-store rejection reports with the writer's identity.
        rejected_reports = data_bucket.arn_for_objects(f"{DATA_PREFIX_TIMESTREAM_REJECTED}*")
        self.writer.allow(
            iam.PolicyStatement(
                sid="TimestreamRejectedRecordReports",
                actions=["s3:PutObject"],
                resources=[rejected_reports],
            )
        )
        acknowledge_wildcard_resource(
            self.writer.policy,
            rejected_reports,
            "Timestream names its rejected-record report objects itself; the writer may only "
            "PutObject under the timestream-rejected/ prefix of the data bucket.",
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
