"""Encrypted SQS dead-letter queues and SNS topics, one recipe each.

Both use the customer-managed data key and refuse non-TLS requests. DLQs keep
messages for the SQS maximum (14 days) so that an incident found on a Monday
still has Friday's failures to replay.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from wardlink_infra.nag import acknowledge


def dead_letter_queue(scope: Construct, construct_id: str, *, key: kms.IKey,
                      holds: str) -> sqs.Queue:
    """A KMS-encrypted, TLS-only DLQ; ``holds`` says what lands there (for the docs)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        data_key_reuse=cdk.Duration.hours(1),
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself the dead-letter queue for {holds}; a DLQ of a DLQ would only "
        "move the same messages once more. Its depth has a CloudWatch alarm instead.",
    )
    return queue


def encrypted_topic(scope: Construct, construct_id: str, *, key: kms.IKey,
                    display_name: str) -> sns.Topic:
    """A KMS-encrypted SNS topic whose policy denies publishing without TLS."""
    return sns.Topic(
        scope,
        construct_id,
        display_name=display_name,
        master_key=key,
        enforce_ssl=True,
    )
