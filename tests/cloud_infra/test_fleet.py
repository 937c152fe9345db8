"""Fleet registration in AWS: spec bucket, registration role, thing type, quarantine, operators."""

from __future__ import annotations

import json
from typing import Any

from tests.cloud_infra.template_helpers import (
    Resources,
    as_list,
    flat,
    of_type,
    only,
    props,
    statements,
)
from wardlink.fleet.gateways import QUARANTINE_GROUP, THING_TYPE


def _fleet_id(resources: Resources, prefix: str, cfn_type: str) -> str:
    (found,) = [k for k in of_type(resources, cfn_type) if k.startswith(prefix)]
    return found


def _policy(resources: Resources, prefix: str) -> list[dict[str, Any]]:
    logical = _fleet_id(resources, prefix, "AWS::IAM::ManagedPolicy")
    return statements(props(resources[logical])["PolicyDocument"])


def _actions(found: list[dict[str, Any]]) -> set[str]:
    return {a for s in found for a in as_list(s["Action"])}


def test_fleet_bucket_is_hardened_like_the_others(resources: Resources) -> None:
    bucket_id = _fleet_id(resources, "FleetBucket", "AWS::S3::Bucket")
    bucket = props(resources[bucket_id])
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "DataKey" in flat(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "fleet/"
    assert "AccessLogs" in flat(bucket["LoggingConfiguration"]["DestinationBucketName"])
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert resources[bucket_id]["DeletionPolicy"] == "Retain"
    bucket_policies = [
        p for p in of_type(resources, "AWS::S3::BucketPolicy").values()
        if props(p)["Bucket"] == {"Ref": bucket_id}
    ]  # fmt: skip
    (policy,) = bucket_policies
    denies = [s for s in statements(props(policy)["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_thing_type_and_quarantine_group_are_named_as_the_cli_expects(
    resources: Resources,
) -> None:
    type_id, thing_type = only(resources, "AWS::IoT::ThingType")
    assert props(thing_type)["ThingTypeName"] == THING_TYPE
    assert props(thing_type)["ThingTypeProperties"]["SearchableAttributes"] == ["site_id"]
    (group_id,) = [k for k, v in of_type(resources, "AWS::IoT::ThingGroup").items()
                   if props(v)["ThingGroupName"] == QUARANTINE_GROUP]  # fmt: skip
    for logical in (type_id, group_id):
        assert resources[logical]["DeletionPolicy"] == "Retain"


def test_registration_role_is_iots_and_only_what_the_template_needs(
    resources: Resources,
) -> None:
    role_id = _fleet_id(resources, "FleetRegistrationRole", "AWS::IAM::Role")
    (trust,) = statements(props(resources[role_id])["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "iot.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    found = _policy(resources, "FleetRegistrationPolicy")
    assert _actions(found) == {
        "s3:GetObject", "kms:Decrypt",
        "iot:CreateThing", "iot:DescribeThing", "iot:UpdateThing", "iot:ListThingPrincipals",
        "iot:AttachThingPrincipal", "iot:DescribeThingType", "iot:DescribeCertificate",
        "iot:AttachPolicy", "iot:ListAttachedPolicies", "iot:ListPrincipalThings",
        "iot:GetPolicy", "iot:CreateCertificateFromCsr", "iot:RegisterThing",
    }  # fmt: skip
    reads = [s for s in found if "s3:GetObject" in as_list(s["Action"])]
    assert [flat(r) for s in reads for r in as_list(s["Resource"])] == [
        f"<{_fleet_id(resources, 'FleetBucket', 'AWS::S3::Bucket')}.Arn>/fleet/gateways/*"
    ]
    for statement in found:
        if as_list(statement["Resource"]) == ["*"]:
            assert set(as_list(statement["Action"])) == {
                "iot:CreateCertificateFromCsr",
                "iot:RegisterThing",
            }


def test_operators_get_the_fleet_policy_on_the_support_role(resources: Resources) -> None:
    logical = _fleet_id(resources, "FleetOperatorPolicy", "AWS::IAM::ManagedPolicy")
    roles = props(resources[logical])["Roles"]
    assert len(roles) == 1 and roles[0]["Ref"].startswith("ApiSupportRole")
    found = _policy(resources, "FleetOperatorPolicy")
    actions = _actions(found)
    assert {"dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:Query",
            "iot:StartThingRegistrationTask", "iot:ListThingRegistrationTaskReports",
            "iot:UpdateCertificate", "iot:AddThingToThingGroup", "iam:PassRole",
            "s3:PutObject"} <= actions  # fmt: skip
    assert "dynamodb:Scan" not in actions
    assert not any(a.endswith("*") for a in actions)
    (query,) = [s for s in found if "dynamodb:Query" in as_list(s["Action"])]
    assert next(flat(r) for r in as_list(query["Resource"])).endswith("/index/by_serial")
    (pass_role,) = [s for s in found if "iam:PassRole" in as_list(s["Action"])]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}}
    assert "FleetRegistrationRole" in flat(as_list(pass_role["Resource"])[0])


def test_stack_outputs_name_the_bucket_and_the_role(template_json: dict[str, Any]) -> None:
    outputs = template_json["Outputs"]
    assert "FleetBucket" in json.dumps(outputs["FleetBucket"]["Value"])
    assert "FleetRegistrationRole" in json.dumps(outputs["FleetRegistrationRoleArn"]["Value"])
