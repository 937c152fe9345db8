"""Least-privilege IAM statements, written out instead of CDK's ``grant*`` helpers.

The CDK helpers add wildcard actions (``kms:GenerateDataKey*``, ``dynamodb:*Item``
families) and land in inline default policies; here every statement names its
actions and resources, so each function's policy reads as a list of what it may
do. Table statements never include ``dynamodb:Scan``; the one exception is
``table_scan``, support's fleet search over filters no index serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from wardlink_infra.tables import DeployedTable

READ_ITEM = ("dynamodb:GetItem", "dynamodb:BatchGetItem")
WRITE_ITEM = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
DELETE_ITEM = ("dynamodb:DeleteItem",)
QUERY = ("dynamodb:Query",)

# Services through which application code may use the data key.
DATA_KEY_SERVICES = ("dynamodb", "kinesis", "sqs", "sns", "s3", "timestream", "secretsmanager")


def table_access(
    table: DeployedTable, actions: Sequence[str], *, indexes: Iterable[str] = ()
) -> iam.PolicyStatement:
    """``actions`` on ``table``; ``dynamodb:Query`` also on the named GSIs only."""
    if "dynamodb:Scan" in actions:
        raise ValueError("no access pattern may Scan; add a GSI instead")
    known = {ix.name for ix in table.definition.indexes}
    wanted = list(indexes)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(f"{table.definition.construct_id} has no index {unknown}")
    resources = [table.table.table_arn]
    resources += [f"{table.table.table_arn}/index/{name}" for name in wanted]
    return iam.PolicyStatement(actions=sorted(set(actions)), resources=resources)


def table_scan(table: DeployedTable, *, sid: str) -> iam.PolicyStatement:
    """``dynamodb:Scan`` on the base table only: the one deliberate exception.

    Support's fleet search answers filters no index serves (a firmware range alone,
    connectivity, last seen) with a paged Scan it reports as such; only that
    function gets this statement, and never on an index.
    """
    return iam.PolicyStatement(sid=sid, actions=["dynamodb:Scan"],
                               resources=[table.table.table_arn])  # fmt: skip


def data_key_use(key: kms.IKey, *, encrypt: bool = True) -> iam.PolicyStatement:
    """Use of the data key, only through the AWS services that hold our data."""
    region = cdk.Stack.of(key).region
    actions = ["kms:Decrypt", "kms:DescribeKey"]
    if encrypt:
        actions += ["kms:Encrypt", "kms:GenerateDataKey"]
    return iam.PolicyStatement(
        actions=actions,
        resources=[key.key_arn],
        conditions={
            "StringEquals": {
                "kms:ViaService": [f"{svc}.{region}.amazonaws.com" for svc in DATA_KEY_SERVICES]
            }
        },
    )


def send_to_queue(queue: sqs.IQueue) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
