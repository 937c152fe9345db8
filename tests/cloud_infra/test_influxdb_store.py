"""The default telemetry store: Timestream for InfluxDB, in its VPC, set up by a custom resource.

Also: the default synthesis holds no Timestream LiveAnalytics resource, both
settings pass cdk-nag, and cfn-lint finds no error (and no W3697 "maintenance
mode", the LiveAnalytics warning) in the default template.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wardlink_infra.application import SynthesizedApp

from tests.cloud_infra.template_helpers import (
    Resources,
    as_list,
    flat,
    of_type,
    only,
    props,
    statements,
)

WRITER = "wardlink.cloudapi.handlers.telemetry_writer.handler"
SETUP = "wardlink.cloudapi.handlers.influxdb_setup.handler"
READER = "wardlink.cloudapi.handlers.device_telemetry.handler"
ROTATION = "wardlink.cloudapi.handlers.influxdb_setup.rotation_handler"
CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def _function(resources: Resources, handler: str) -> tuple[str, dict[str, Any]]:
    found = [(k, props(r)) for k, r in of_type(resources, "AWS::Lambda::Function").items()
             if props(r).get("Handler") == handler]
    assert len(found) == 1, handler
    return found[0]


def _grants(resources: Resources, function: dict[str, Any]) -> list[dict[str, Any]]:
    role = {"Ref": function["Role"]["Fn::GetAtt"][0]}
    return [s for p in of_type(resources, "AWS::IAM::ManagedPolicy").values()
            if role in props(p).get("Roles", []) for s in statements(props(p)["PolicyDocument"])]


def _ref(value: Any) -> str:
    """The logical id a Ref or GetAtt points at."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return ""


def test_default_synthesis_has_no_liveanalytics(resources: Resources) -> None:
    assert not [k for k, r in resources.items() if r["Type"] in (
        "AWS::Timestream::Database", "AWS::Timestream::Table")]
    only(resources, "AWS::Timestream::InfluxDBInstance")


def test_instance_is_private_in_isolated_subnets(resources: Resources) -> None:
    _, instance = only(resources, "AWS::Timestream::InfluxDBInstance")
    p = props(instance)
    assert p["PubliclyAccessible"] is False
    assert p["DbStorageType"] == "InfluxIOIncludedT1"
    assert p["DeploymentType"] == "WITH_MULTIAZ_STANDBY"
    assert instance["DeletionPolicy"] == "Retain"
    # admin credentials come from Secrets Manager by dynamic reference, never in clear
    assert "{{resolve:secretsmanager:" in flat(p["Password"])
    for subnet in p["VpcSubnetIds"]:
        subnet_props = props(resources[_ref(subnet)])
        assert subnet_props["MapPublicIpOnLaunch"] is False
    assert not of_type(resources, "AWS::EC2::InternetGateway")
    assert not of_type(resources, "AWS::EC2::NatGateway")
    flow_log = props(only(resources, "AWS::EC2::FlowLog")[1])
    assert (flow_log["LogDestinationType"], flow_log["TrafficType"]) == ("s3", "ALL")


def test_only_the_telemetry_functions_reach_port_8086(resources: Resources) -> None:
    _, instance = only(resources, "AWS::Timestream::InfluxDBInstance")
    [instance_sg] = [_ref(g) for g in props(instance)["VpcSecurityGroupIds"]]
    assert props(resources[instance_sg])["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"
    ingress = [props(r) for r in of_type(resources, "AWS::EC2::SecurityGroupIngress").values()
               if _ref(props(r)["GroupId"]) == instance_sg]
    assert {(i["FromPort"], i["ToPort"]) for i in ingress} == {(8086, 8086)}
    sources = {_ref(i["SourceSecurityGroupId"]) for i in ingress}
    writer_sg = {_ref(g) for g in _function(resources, WRITER)[1]["VpcConfig"]["SecurityGroupIds"]}
    admin_sg = {_ref(g) for g in _function(resources, SETUP)[1]["VpcConfig"]["SecurityGroupIds"]}
    reader_sg = {_ref(g) for g in _function(resources, READER)[1]["VpcConfig"]["SecurityGroupIds"]}
    assert sources == writer_sg | admin_sg | reader_sg and len(sources) == 3


def test_support_reader_runs_in_the_vpc_and_only_reads(resources: Resources) -> None:
    _, reader = _function(resources, READER)
    env = reader["Environment"]["Variables"]
    assert env["TELEMETRY_STORE"] == "influxdb" and reader["VpcConfig"]["SubnetIds"]
    grants = _grants(resources, reader)
    actions = {a for s in grants for a in as_list(s["Action"])}
    assert "dynamodb:GetItem" in actions and "secretsmanager:GetSecretValue" in actions
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "s3:PutObject"} & actions


def test_writer_runs_in_the_vpc_with_least_privilege(resources: Resources) -> None:
    _, writer = _function(resources, WRITER)
    env = writer["Environment"]["Variables"]
    assert env["TELEMETRY_STORE"] == "influxdb"
    assert env["INFLUXDB_DATABASE"] == "telemetry"
    assert flat(env["INFLUXDB_URL"]).startswith("https://<")
    assert flat(env["INFLUXDB_URL"]).endswith(".Endpoint>:8086")
    assert "TIMESTREAM_DATABASE" not in env
    token_secret = _ref(env["INFLUXDB_TOKEN_SECRET_ARN"])
    assert writer["VpcConfig"]["SubnetIds"]
    grants = _grants(resources, writer)
    actions = {a for s in grants for a in as_list(s["Action"])}
    assert not any(a.startswith("timestream:") for a in actions)
    (secret_read,) = [s for s in grants if s.get("Sid") == "ReadWriterToken"]
    assert secret_read["Action"] == "secretsmanager:GetSecretValue"
    assert _ref(secret_read["Resource"]) == token_secret
    (refused,) = [s for s in grants if s.get("Sid") == "ReportRefusedPoints"]
    assert flat(refused["Resource"]).endswith("/telemetry-rejected/*")
    # the admin secret is for the set-up and rotation functions only
    assert not [s for s in grants if "AdminSecret" in _ref(s["Resource"])]


def test_vpc_endpoints_for_what_the_functions_call(resources: Resources) -> None:
    endpoints = [props(r) for r in of_type(resources, "AWS::EC2::VPCEndpoint").values()]
    services = sorted(flat(e["ServiceName"]).rsplit(".", 1)[1] for e in endpoints)
    assert services == ["dynamodb", "s3", "secretsmanager", "xray"]
    for endpoint in endpoints:
        if endpoint.get("VpcEndpointType") == "Interface":
            assert endpoint["PrivateDnsEnabled"] is True


def test_custom_resource_provisions_bucket_dbrp_and_token(resources: Resources) -> None:
    [(_, resource)] = [(k, r) for k, r in resources.items()
                       if r["Type"] == "Custom::WardlinkInfluxDBSetup"]
    p = props(resource)
    setup_id, setup = _function(resources, SETUP)
    assert _ref(p["ServiceToken"]) == setup_id
    assert (p["Organization"], p["Bucket"], p["RetentionDays"]) == ("wardlink", "telemetry", "2555")
    instance_id, _ = only(resources, "AWS::Timestream::InfluxDBInstance")
    assert instance_id in resource["DependsOn"]
    assert setup["VpcConfig"]["SubnetIds"] and "DeadLetterConfig" in setup
    # the writer's stream mapping waits for the set-up
    [mapping] = [r for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
                 if "TelemetryWriter" in _ref(props(r)["FunctionName"])]
    assert any("Provisioned" in d for d in mapping["DependsOn"])


def test_writer_token_is_kms_encrypted_and_rotated(resources: Resources) -> None:
    _, writer = _function(resources, WRITER)
    token_secret = _ref(writer["Environment"]["Variables"]["INFLUXDB_TOKEN_SECRET_ARN"])
    for secret in of_type(resources, "AWS::SecretsManager::Secret").values():
        assert "DataKey" in flat(props(secret)["KmsKeyId"])
    _, schedule = only(resources, "AWS::SecretsManager::RotationSchedule")
    rotation_id, rotation = _function(resources, ROTATION)
    assert _ref(props(schedule)["SecretId"]) == token_secret
    assert _ref(props(schedule)["RotationLambdaARN"]) == rotation_id
    assert props(schedule)["RotationRules"]["AutomaticallyAfterDays"] == 30
    [permission] = [props(r) for r in of_type(resources, "AWS::Lambda::Permission").values()
                    if props(r)["Principal"] == "secretsmanager.amazonaws.com"]
    assert _ref(permission["FunctionName"]) == rotation_id
    rotate = [s for s in _grants(resources, rotation) if s.get("Sid") == "RotateWriterToken"]
    assert _ref(rotate[0]["Resource"]) == token_secret


def test_liveanalytics_setting_has_no_vpc_and_no_influxdb(
    liveanalytics_resources: Resources, synthesized_liveanalytics: SynthesizedApp
) -> None:
    assert not of_type(liveanalytics_resources, "AWS::Timestream::InfluxDBInstance")
    assert not of_type(liveanalytics_resources, "AWS::EC2::VPC")
    assert synthesized_liveanalytics.findings == [], "\n".join(
        f.render() for f in synthesized_liveanalytics.findings)


def _cfn_lint(template: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    if not CFN_LINT.exists():
        pytest.fail(f"cfn-lint is not installed next to {sys.executable}")
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    run = subprocess.run(  # our own venv's cfn-lint on our own template
        [str(CFN_LINT), "--format", "json", "--regions", "eu-central-1", "--", str(path)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert run.stdout.strip(), run.stderr
    findings: list[dict[str, Any]] = json.loads(run.stdout)
    return findings


def test_cfn_lint_default_template_no_error_no_maintenance_mode(
    template_json: dict[str, Any], tmp_path: Path
) -> None:
    findings = _cfn_lint(template_json, tmp_path)
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == []
    assert not [f for f in findings if f["Rule"]["Id"] == "W3697"]
