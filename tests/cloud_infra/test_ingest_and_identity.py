"""IoT Core -> Kinesis, and what a gateway may do (IoT policy, token-exchange role)."""

from __future__ import annotations

import json
from typing import Any

from tests.cloud_infra.template_helpers import (
    Resources,
    as_list,
    flat,
    get_att_arn,
    of_type,
    only,
    props,
    statements,
)

THING = "${iot:Connection.Thing.ThingName}"


def test_stream_is_encrypted_with_the_customer_managed_key(resources: Resources) -> None:
    _, stream = only(resources, "AWS::Kinesis::Stream")
    encryption = props(stream)["StreamEncryption"]
    assert encryption["EncryptionType"] == "KMS"
    assert "DataKey" in flat(encryption["KeyId"])
    assert props(stream)["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}


def test_one_rule_per_uplink_topic_feeds_the_stream(resources: Resources) -> None:
    stream_id, _ = only(resources, "AWS::Kinesis::Stream")
    rules = [
        props(r)["TopicRulePayload"] for r in of_type(resources, "AWS::IoT::TopicRule").values()
    ]
    rules = [rule for rule in rules if "Kinesis" in rule["Actions"][0]]
    sqls = sorted(rule["Sql"] for rule in rules)
    assert sqls == sorted(
        f"SELECT *, topic(3) AS gateway_id FROM 'wardlink/v1/+/{kind}'"
        for kind in ("telemetry", "status", "alert", "health")
    )
    for rule in rules:
        (action,) = rule["Actions"]
        assert action["Kinesis"]["StreamName"] == {"Ref": stream_id}
        assert action["Kinesis"]["PartitionKey"] == "${topic(3)}"
        assert "Sqs" in rule["ErrorAction"], "rule failures must land in the DLQ"
        assert rule["AwsIotSqlVersion"] == "2016-03-23"


def test_gateway_audit_events_land_in_an_encrypted_long_kept_log_group(
    resources: Resources,
) -> None:
    [audit] = [
        props(r)["TopicRulePayload"]
        for r in of_type(resources, "AWS::IoT::TopicRule").values()
        if "wardlink/v1/+/audit" in props(r)["TopicRulePayload"]["Sql"]
    ]
    # only the allowed fields leave the rule; the gateway comes from the topic
    assert audit["Sql"] == (
        "SELECT time, user, action, device_id, outcome, alert, topic(3) AS gateway_id"
        " FROM 'wardlink/v1/+/audit'"
    )
    (action,) = audit["Actions"]
    group_ref = action["CloudwatchLogs"]["LogGroupName"]["Ref"]
    group = props(resources[group_ref])
    assert "AuditKey" in flat(group["KmsKeyId"])
    assert group["RetentionInDays"] >= 2192  # six years, 45 CFR 164.316(b)(2)
    assert resources[group_ref]["DeletionPolicy"] == "Retain"
    assert "Sqs" in audit["ErrorAction"]


def test_rule_error_queue_is_encrypted(resources: Resources) -> None:
    rule = next(iter(of_type(resources, "AWS::IoT::TopicRule").values()))
    queue_id = props(rule)["TopicRulePayload"]["ErrorAction"]["Sqs"]["QueueUrl"]["Ref"]
    assert "DataKey" in flat(props(resources[queue_id])["KmsMasterKeyId"])


def _iot_policy(resources: Resources) -> list[dict[str, Any]]:
    _, policy = only(resources, "AWS::IoT::Policy")
    return statements(props(policy)["PolicyDocument"])


def test_gateway_publishes_only_its_own_topics(resources: Resources) -> None:
    publish = [
        flat(r) for s in _iot_policy(resources) if "iot:Publish" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]
    assert publish, "the gateway must be able to publish"
    for resource in publish:
        assert f"/{THING}/" in resource, resource
        assert not resource.endswith(":topic/*"), resource
    uplink = [r for r in publish if ":topic/wardlink/" in r]
    assert sorted(r.rsplit("/", 1)[1] for r in uplink) == [
        "alert", "audit", "health", "status", "telemetry",
    ]  # fmt: skip


def test_gateway_connects_only_as_its_thing_name(resources: Resources) -> None:
    (connect,) = [s for s in _iot_policy(resources) if s["Action"] == "iot:Connect"]
    clients = [flat(r).split(":client/", 1)[1] for r in connect["Resource"]]
    assert clients == [THING, f"{THING}#*"]
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def test_gateway_may_assume_only_our_role_alias(resources: Resources) -> None:
    (assume,) = [
        s for s in _iot_policy(resources) if s["Action"] == "iot:AssumeRoleWithCertificate"
    ]
    _, alias = only(resources, "AWS::IoT::RoleAlias")
    assert flat(assume["Resource"]).endswith(f":rolealias/{props(alias)['RoleAlias']}")


def test_token_exchange_role_allows_only_the_gateway_needs(resources: Resources) -> None:
    _, alias = only(resources, "AWS::IoT::RoleAlias")
    role_id = props(alias)["RoleArn"]["Fn::GetAtt"][0]
    trust = statements(props(resources[role_id])["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in trust] == [{"Service": "credentials.iot.amazonaws.com"}]
    policies = [
        props(p) for p in of_type(resources, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in props(p).get("Roles", [])
    ]
    assert len(policies) == 1
    actions = {a for s in statements(policies[0]["PolicyDocument"]) for a in as_list(s["Action"])}
    assert actions == {
        "execute-api:Invoke",
        "s3:GetObject",
        "kms:Decrypt",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
        "kinesisvideo:PutMedia",
        "kinesisvideo:GetDataEndpoint",
        "kinesisvideo:DescribeStream",
    }
    by_sid = {s["Sid"]: s for s in statements(policies[0]["PolicyDocument"])}
    invoke = [flat(r) for r in as_list(by_sid["CallGatewayRoutesOfTheWardlinkApi"]["Resource"])]
    own = "gateways/${credentials-iot:ThingName}/devices"
    assert sorted(r.split("/v1/", 1)[1] for r in invoke) == sorted(
        [f"POST/{own}", f"GET/{own}", f"GET/{own}/*", f"POST/{own}/*/uploads",
         "GET/gateways/${credentials-iot:ThingName}/sequence",
         "GET/gateways/${credentials-iot:ThingName}/diagnostics",
         "POST/gateways/${credentials-iot:ThingName}/diagnostics/*"]
    ), "gateways call their own thing name's routes only"
    assert not any("/alarms" in r or r.endswith("/v1/GET/devices") for r in invoke), (
        "no gateway permission on alarms or fleet search"
    )
    video = flat(by_sid["KinesisVideoStreams"]["Resource"])
    assert ":stream/wardlink-*/" in video
    artifacts = flat(by_sid["DownloadComponentArtifacts"]["Resource"])
    assert "ComponentArtifacts" in artifacts


def test_no_iot_events_resources(resources: Resources) -> None:
    """AWS IoT Events ended on 2026-05-20: the engine replaces it entirely."""
    assert [k for k, r in resources.items() if r["Type"].startswith("AWS::IoTEvents::")] == []


def test_stream_has_both_consumers(resources: Resources) -> None:
    stream_id, _ = only(resources, "AWS::Kinesis::Stream")
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    handlers = set()
    for mapping in mappings.values():
        p = props(mapping)
        assert p["EventSourceArn"] == get_att_arn(stream_id)
        assert p["BatchSize"] == 100
        assert p["BisectBatchOnFunctionError"] is True
        assert p["MaximumRetryAttempts"] >= 1
        assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        dlq_id = p["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        assert resources[dlq_id]["Type"] == "AWS::SQS::Queue"
        assert "KmsMasterKeyId" in props(resources[dlq_id])
        function = resources[p["FunctionName"]["Ref"]]
        handlers.add(props(function)["Handler"])
    assert handlers == {
        "wardlink.cloudapi.handlers.telemetry_writer.handler",
        "wardlink.detectors.aws.handler",
    }


def _invoke_resources(resources: Resources, role_id: str) -> list[str]:
    return [
        flat(r)
        for p in of_type(resources, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in props(p).get("Roles", [])
        for s in statements(props(p)["PolicyDocument"])
        if "execute-api:Invoke" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]


def test_every_gateway_api_grant_names_the_callers_thing_name(resources: Resources) -> None:
    _, alias = only(resources, "AWS::IoT::RoleAlias")
    role_id = props(alias)["RoleArn"]["Fn::GetAtt"][0]
    invoke = _invoke_resources(resources, role_id)
    assert invoke
    for arn in invoke:
        path = arn.split("/v1/", 1)[1]
        assert path.split("/")[1:3] == ["gateways", "${credentials-iot:ThingName}"], arn
    # a plain join, so CloudFormation leaves the IAM variable for IAM to resolve
    assert "Fn::Sub" not in json.dumps(resources[role_id])


def test_support_role_searches_the_fleet_and_acts_on_alarms(resources: Resources) -> None:
    roles = {
        rid: r for rid, r in of_type(resources, "AWS::IAM::Role").items() if "SupportRole" in rid
    }
    (role_id,) = roles
    invoke = {arn.split("/v1/", 1)[1] for arn in _invoke_resources(resources, role_id)}
    assert {"GET/devices", "GET/alarms", "POST/alarms/*"} <= invoke
    # support registers nothing; it may only ask a gateway for its diagnostics bundle
    assert [p for p in invoke if p.startswith("POST/gateways")] == ["POST/gateways/*/diagnostics"]
