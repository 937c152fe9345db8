"""Kinesis event source mappings, configured the same way for every consumer.

Batches of up to 100 records; a failing batch is bisected to isolate the poison
record; the handler reports partial failures (``ReportBatchItemFailures``) so
that good records are not re-processed; after the retries, or when a record is
older than three days, Lambda sends the batch's *pointers* (shard id and sequence
numbers) to an encrypted SQS DLQ. The stream keeps records for seven days, so
anything the DLQ names can still be re-read and replayed.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from wardlink_infra.functions import WardlinkFunction
from wardlink_infra.grants import data_key_use, send_to_queue

BATCH_SIZE = 100
MAX_RETRY_ATTEMPTS = 5
MAX_RECORD_AGE_S = 3 * 24 * 3600
KINESIS_READ_ACTIONS = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:SubscribeToShard",
]


def consume_stream(
    scope: Construct,
    construct_id: str,
    *,
    consumer: WardlinkFunction,
    stream: kinesis.IStream,
    dead_letter_queue: sqs.IQueue,
    data_key: kms.IKey,
) -> lambda_.CfnEventSourceMapping:
    """Map ``stream`` to ``consumer`` and grant exactly the reads this needs."""
    consumer.allow(
        iam.PolicyStatement(actions=KINESIS_READ_ACTIONS, resources=[stream.stream_arn]),
        send_to_queue(dead_letter_queue),
        data_key_use(data_key),
    )
    mapping = lambda_.CfnEventSourceMapping(
        scope,
        construct_id,
        function_name=consumer.function.function_name,
        event_source_arn=stream.stream_arn,
        starting_position="TRIM_HORIZON",
        batch_size=BATCH_SIZE,
        maximum_batching_window_in_seconds=1,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=MAX_RETRY_ATTEMPTS,
        maximum_record_age_in_seconds=MAX_RECORD_AGE_S,
        parallelization_factor=1,
        function_response_types=["ReportBatchItemFailures"],
        destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
            on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(
                destination=dead_letter_queue.queue_arn
            )
        ),
    )
    mapping.node.add_dependency(consumer.policy)
    return mapping
