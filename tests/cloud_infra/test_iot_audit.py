"""Auditing the IoT estate: Device Defender audit and detect, IoT logging, fleet indexing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App
from wardlink_infra import iot_audit
from wardlink_infra.settings import SettingsError, WardlinkSettings

from tests.cloud_infra.template_helpers import (
    Resources,
    as_list,
    flat,
    of_type,
    only,
    props,
    statements,
)
from wardlink.fleet.gateways import THING_TYPE


def _by_name(resources: Resources, cfn_type: str, key: str, name: str) -> tuple[str, Any]:
    (found,) = [
        (k, v) for k, v in of_type(resources, cfn_type).items() if props(v).get(key) == name
    ]
    return found


def _role_trusts_iot_of_this_account(resources: Resources, role_arn: Any) -> str:
    role_id = role_arn["Fn::GetAtt"][0]
    (trust,) = statements(props(resources[role_id])["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "iot.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    return str(role_id)


def _managed_statements(resources: Resources, role_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in of_type(resources, "AWS::IAM::ManagedPolicy").values():
        if {"Ref": role_id} in props(policy).get("Roles", []):
            found += statements(props(policy)["PolicyDocument"])
    return found


def test_account_audit_enables_every_applicable_check_and_notifies_sns(
    resources: Resources,
) -> None:
    _, audit = only(resources, "AWS::IoT::AccountAuditConfiguration")
    config = props(audit)
    assert config["AccountId"] == {"Ref": "AWS::AccountId"}
    checks = config["AuditCheckConfigurations"]
    enabled = {k for k, v in checks.items() if v["Enabled"]}
    assert enabled == set(iot_audit.AUDIT_CHECKS.values())
    assert {k for k, v in checks.items() if not v["Enabled"]} == {
        "AuthenticatedCognitoRoleOverlyPermissiveCheck",
        "UnauthenticatedCognitoRoleOverlyPermissiveCheck",
    }
    assert checks["DeviceCertificateExpiringCheck"]["Configuration"] == {
        "CertExpirationThresholdInDays": "30"}
    assert checks["DeviceCertificateAgeCheck"]["Configuration"] == {
        "CertAgeThresholdInDays": "730"}
    sns = config["AuditNotificationTargetConfigurations"]["Sns"]
    assert sns["Enabled"] is True
    topic_id = sns["TargetArn"]["Ref"]
    assert resources[topic_id]["Type"] == "AWS::SNS::Topic"
    assert "DataKey" in flat(props(resources[topic_id])["KmsMasterKeyId"])
    notify_role = _role_trusts_iot_of_this_account(resources, sns["RoleArn"])
    publish = [s for s in _managed_statements(resources, notify_role)
               if "sns:Publish" in as_list(s["Action"])]  # fmt: skip
    assert [s["Resource"] for s in publish] == [{"Ref": topic_id}]
    audit_role = _role_trusts_iot_of_this_account(resources, config["RoleArn"])
    (managed,) = props(resources[audit_role])["ManagedPolicyArns"]
    assert flat(managed).endswith(":iam::aws:policy/service-role/AWSIoTDeviceDefenderAudit")


def test_daily_scheduled_audit_runs_exactly_the_enabled_checks(resources: Resources) -> None:
    audit_id, _ = only(resources, "AWS::IoT::AccountAuditConfiguration")
    logical, scheduled = only(resources, "AWS::IoT::ScheduledAudit")
    assert props(scheduled)["Frequency"] == "DAILY"
    assert sorted(props(scheduled)["TargetCheckNames"]) == sorted(iot_audit.AUDIT_CHECKS)
    assert audit_id in as_list(resources[logical]["DependsOn"])


def test_security_profile_watches_the_gateways_and_alerts_sns(resources: Resources) -> None:
    _, profile = only(resources, "AWS::IoT::SecurityProfile")
    behaviors = {b["Metric"]: b["Criteria"] for b in props(profile)["Behaviors"]}
    assert set(behaviors) == {"aws:num-messages-sent", "aws:num-authorization-failures",
                              "aws:num-connection-attempts", "aws:num-disconnects"}  # fmt: skip
    for criteria in behaviors.values():
        assert criteria["ComparisonOperator"] == "greater-than"
        assert criteria["DurationSeconds"] in (300, 600, 900, 1800, 3600)
        assert int(criteria["Value"]["Count"]) > 0
    # the uplink publishes at most 100 messages/s: 5 minutes of that is the ceiling
    assert int(behaviors["aws:num-messages-sent"]["Value"]["Count"]) == 100 * 300
    sns = props(profile)["AlertTargets"]["SNS"]
    _role_trusts_iot_of_this_account(resources, sns["RoleArn"])
    (target,) = props(profile)["TargetArns"]
    group_id = target["Fn::GetAtt"][0]
    group = props(resources[group_id])
    assert group["ThingGroupName"] == iot_audit.GATEWAYS_GROUP
    assert group["QueryString"] == f"thingTypeName:{THING_TYPE}"


def test_iot_logging_goes_to_an_encrypted_retained_log_group(resources: Resources) -> None:
    logical, logging = only(resources, "AWS::IoT::Logging")
    assert props(logging)["DefaultLogLevel"] == "ERROR"
    assert props(logging)["AccountId"] == {"Ref": "AWS::AccountId"}
    role_id = props(logging)["RoleArn"]["Fn::GetAtt"][0]
    (trust,) = statements(props(resources[role_id])["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "iot.amazonaws.com"}
    (write,) = _managed_statements(resources, role_id)
    assert set(write["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents",
                                    "logs:DescribeLogStreams"}  # fmt: skip
    group_id, group = _by_name(resources, "AWS::Logs::LogGroup", "LogGroupName", "AWSIotLogsV2")
    assert flat(write["Resource"]) == f"<{group_id}.Arn>"
    assert "AuditKey" in flat(props(group)["KmsKeyId"])
    assert props(group)["RetentionInDays"] == 365
    assert resources[group_id]["DeletionPolicy"] == "Retain"
    assert group_id in as_list(resources[logical]["DependsOn"])


def test_investigation_group_gets_resource_specific_logging(resources: Resources) -> None:
    logical, specific = only(resources, "AWS::IoT::ResourceSpecificLogging")
    assert props(specific) == {"TargetType": "THING_GROUP",
                               "TargetName": iot_audit.INVESTIGATION_GROUP, "LogLevel": "DEBUG"}
    group_id, group = _by_name(resources, "AWS::IoT::ThingGroup", "ThingGroupName",
                               iot_audit.INVESTIGATION_GROUP)  # fmt: skip
    assert "QueryString" not in props(group)  # static: operators put gateways in it
    assert group_id in as_list(resources[logical]["DependsOn"])


def test_fleet_indexing_custom_resource_turns_on_registry_and_connectivity(
    resources: Resources,
) -> None:
    logical, custom = only(resources, "Custom::AWS")
    create = json.loads(props(custom)["Create"])
    assert json.loads(props(custom)["Update"]) == create
    assert "Delete" not in props(custom)
    assert (create["service"], create["action"]) == ("IoT", "UpdateIndexingConfiguration")
    assert create["parameters"] == {"thingIndexingConfiguration": {
        "thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS"}}
    provider_id = props(custom)["ServiceToken"]["Fn::GetAtt"][0]
    role_id = props(resources[provider_id])["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in props(resources[role_id])  # no AWS managed policy
    granted = _managed_statements(resources, role_id)
    (configure,) = [s for s in granted if s["Action"] == "iot:UpdateIndexingConfiguration"]
    assert configure["Resource"] == "*"
    # what needs the index waits for it
    gateways_id, _ = _by_name(resources, "AWS::IoT::ThingGroup", "ThingGroupName",
                              iot_audit.GATEWAYS_GROUP)  # fmt: skip
    metric_id, _ = only(resources, "AWS::IoT::FleetMetric")
    for dependent in (gateways_id, metric_id):
        assert logical in as_list(resources[dependent]["DependsOn"])


def test_fleet_metric_counts_connected_gateways(resources: Resources) -> None:
    _, metric = only(resources, "AWS::IoT::FleetMetric")
    assert props(metric)["QueryString"] == (
        f"thingTypeName:{THING_TYPE} AND connectivity.connected:true")
    assert props(metric)["AggregationType"] == {"Name": "Statistics", "Values": ["count"]}
    assert props(metric)["IndexName"] == "AWS_Things"
    assert props(metric)["Period"] % 60 == 0


def test_gateway_thing_type_is_what_the_queries_name(resources: Resources) -> None:
    _, thing_type = only(resources, "AWS::IoT::ThingType")
    assert props(thing_type)["ThingTypeName"] == THING_TYPE


def test_findings_topic_is_a_stack_output(template_json: dict[str, Any]) -> None:
    assert "IotAuditFindings" in json.dumps(template_json["Outputs"]["IotFindingsTopicArn"])


def test_log_levels_and_detect_come_from_context() -> None:
    app = App(context={"wardlink:iotLogLevel": "info", "wardlink:deviceDefenderDetect": "false"})
    settings = WardlinkSettings.from_context(app.node)
    assert settings.iot_log_level == "INFO"
    assert settings.iot_investigation_log_level == "DEBUG"
    assert settings.device_defender_detect is False
    with pytest.raises(SettingsError, match="iotLogLevel"):
        WardlinkSettings.from_context(App(context={"wardlink:iotLogLevel": "chatty"}).node)


def test_gateway_iot_policy_lets_the_device_defender_component_report(
    resources: Resources,
) -> None:
    """aws.greengrass.DeviceDefender publishes on the gateway's own reserved topic only."""
    (policy,) = of_type(resources, "AWS::IoT::Policy").values()
    by_sid = {s["Sid"]: s for s in statements(props(policy)["PolicyDocument"])}
    metrics = [flat(r) for r in as_list(by_sid["DeviceDefenderMetrics"]["Resource"])]
    assert [m.split(":topic/", 1)[1] for m in metrics] == [
        "$aws/things/${iot:Connection.Thing.ThingName}/defender/metrics/json",
        "$aws/things/${iot:Connection.Thing.ThingName}/defender/metrics/json/accepted",
        "$aws/things/${iot:Connection.Thing.ThingName}/defender/metrics/json/rejected",
    ]
    replies = [flat(r) for r in as_list(by_sid["DeviceDefenderReplies"]["Resource"])]
    assert all(":topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/defender/" in r
               for r in replies)  # fmt: skip
    assert not any("*" in r for r in [*metrics, *replies])


def test_without_detect_there_is_no_security_profile_and_levels_are_checked() -> None:
    """``wardlink:deviceDefenderDetect=false``: audit and logging stay, the profile goes."""
    from aws_cdk import Stack, assertions
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_logs as logs

    stack = Stack(App(), "Probe")
    key = kms.Key(stack, "Key")
    audit = iot_audit.IotAudit(stack, "IotAudit", data_key=key, audit_key=key,
                               log_retention=logs.RetentionDays.ONE_YEAR, detect=False)
    assert audit.security_profile is None
    template = assertions.Template.from_stack(stack)
    template.resource_count_is("AWS::IoT::SecurityProfile", 0)
    template.resource_count_is("AWS::IoT::AccountAuditConfiguration", 1)
    template.resource_count_is("AWS::IoT::Logging", 1)
    with pytest.raises(ValueError, match="log level"):
        iot_audit.IotAudit(stack, "Loud", data_key=key, audit_key=key,
                           log_retention=logs.RetentionDays.ONE_YEAR, log_level="VERBOSE")
