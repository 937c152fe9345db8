"""The REST API (IAM on every method, validation, logs, WAF), storage and audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match, Template

from tests.cloud_infra.template_helpers import (
    Resources,
    as_list,
    flat,
    of_type,
    only,
    props,
    statements,
)


def _paths(resources: Resources) -> dict[str, str]:
    """Logical id of each API Gateway resource -> its full path."""
    parts = {k: props(r) for k, r in of_type(resources, "AWS::ApiGateway::Resource").items()}

    def path(logical_id: str) -> str:
        p = parts[logical_id]
        parent = p["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{p['PathPart']}"

    return {k: path(k) for k in parts}


def _methods(resources: Resources) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _paths(resources)
    methods = {}
    for method in of_type(resources, "AWS::ApiGateway::Method").values():
        p = props(method)
        methods[(p["HttpMethod"], paths[p["ResourceId"]["Ref"]])] = p
    return methods


def test_every_method_uses_aws_iam(template: Template, resources: Resources) -> None:
    methods = of_type(resources, "AWS::ApiGateway::Method")
    assert len(methods) == 18
    template.all_resources_properties(
        "AWS::ApiGateway::Method", {"AuthorizationType": "AWS_IAM"}
    )


def test_routes_and_handlers(resources: Resources) -> None:
    methods = _methods(resources)
    expected = {
        ("POST", "/gateways/{gateway_id}/devices"): "devices",
        ("GET", "/gateways/{gateway_id}/devices"): "devices",
        ("GET", "/gateways/{gateway_id}/devices/{device_id}"): "devices",
        ("POST", "/gateways/{gateway_id}/devices/{device_id}/uploads"): "uploads",
        ("GET", "/gateways/{gateway_id}/sequence"): "devices",
        ("GET", "/devices"): "devices",
        ("GET", "/devices/{device_uid}"): "devices",
        ("GET", "/alarms"): "alarms",
        ("GET", "/alarms/{alarm_id}"): "alarms",
        ("POST", "/alarms/{alarm_id}/{action}"): "alarms",
        ("GET", "/alarms/{alarm_id}/history"): "alarms",
        ("POST", "/gateways/{gateway_id}/diagnostics"): "diagnostics",
        ("GET", "/gateways/{gateway_id}/diagnostics"): "diagnostics",
        ("GET", "/gateways/{gateway_id}/diagnostics/{request_id}"): "diagnostics",
        ("POST", "/gateways/{gateway_id}/diagnostics/{request_id}/{decision}"): "diagnostics",
        ("GET", "/audit/findings"): "audit",
        ("GET", "/fleet/devices"): "fleet",
        ("GET", "/devices/{device_uid}/telemetry"): "device_telemetry",
    }
    assert set(methods) == set(expected)
    for key, handler_module in expected.items():
        uri = flat(methods[key]["Integration"]["Uri"])
        function_id = uri.split("<", 2)[2].split(".", 1)[0]
        handler = props(resources[function_id])["Handler"]
        assert handler == f"wardlink.cloudapi.handlers.{handler_module}.handler", key
        assert methods[key]["Integration"]["Type"] == "AWS_PROXY"


def test_bodies_are_validated_against_models(resources: Resources) -> None:
    methods = _methods(resources)
    validators = {
        k: props(v) for k, v in of_type(resources, "AWS::ApiGateway::RequestValidator").items()
    }
    models = {k: props(v) for k, v in of_type(resources, "AWS::ApiGateway::Model").items()}
    bodies = {
        ("POST", "/gateways/{gateway_id}/devices"): "DeviceRegistration",
        ("POST", "/gateways/{gateway_id}/devices/{device_id}/uploads"): "UploadRequest",
        ("POST", "/alarms/{alarm_id}/{action}"): "AlarmActionRequest",
        ("POST", "/gateways/{gateway_id}/diagnostics"): "DiagnosticsRequestBody",
        ("POST", "/gateways/{gateway_id}/diagnostics/{request_id}/{decision}"):
            "DiagnosticsDecisionBody",
    }
    for key, model_name in bodies.items():
        method = methods[key]
        model = models[method["RequestModels"]["application/json"]["Ref"]]
        assert model["Name"] == model_name
        assert model["Schema"]["$schema"] == "http://json-schema.org/draft-04/schema#"
        assert model["Schema"]["additionalProperties"] is False
        validator = validators[method["RequestValidatorId"]["Ref"]]
        assert validator["ValidateRequestBody"] is True
    for key, method in methods.items():
        assert "RequestValidatorId" in method, key
    registration = next(m for m in models.values() if m["Name"] == "DeviceRegistration")
    assert set(registration["Schema"]["required"]) == {"gateway_id", "device_id", "model"}
    status = registration["Schema"]["properties"]["status"]
    assert "connected" in status["enum"], "enum $refs must be inlined for API Gateway"


def test_stage_logs_traces_and_is_behind_waf(resources: Resources) -> None:
    stage_id, stage = only(resources, "AWS::ApiGateway::Stage")
    p = props(stage)
    assert p["TracingEnabled"] is True
    assert "DestinationArn" in p["AccessLogSetting"]
    (settings,) = p["MethodSettings"]
    assert settings["LoggingLevel"] in {"ERROR", "INFO"}
    assert settings["DataTraceEnabled"] is False
    _, association = only(resources, "AWS::WAFv2::WebACLAssociation")
    assert flat(props(association)["ResourceArn"]).endswith(f"/stages/<{stage_id}>")
    _, logging = only(resources, "AWS::WAFv2::LoggingConfiguration")
    assert any("aws-waf-logs-" in flat(d) for d in props(logging)["LogDestinationConfigs"])


def test_api_resource_policy_admits_only_this_account(resources: Resources) -> None:
    _, api = only(resources, "AWS::ApiGateway::RestApi")
    (statement,) = statements(props(api)["Policy"])
    assert statement["Action"] == "execute-api:Invoke"
    assert ":root" in flat(statement["Principal"]["AWS"])


def test_data_bucket_is_encrypted_versioned_tls_only_with_lifecycle(
    resources: Resources,
) -> None:
    data = {k: props(r) for k, r in of_type(resources, "AWS::S3::Bucket").items() if "Data" in k}
    ((bucket_id, bucket),) = data.items()
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any(r.get("Transitions") and r.get("ExpirationInDays") for r in rules)
    diagnostics = [r for r in rules if r.get("Prefix") == "diagnostics/"]
    assert [r["ExpirationInDays"] for r in diagnostics] == [90]
    policies = [props(p) for p in of_type(resources, "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    denies = [s for p in policies for s in statements(p["PolicyDocument"])
              if s["Effect"] == "Deny"]
    assert any(s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_cloudtrail_is_encrypted_validated_and_sent_to_logs(template: Template) -> None:
    template.resource_count_is("AWS::CloudTrail::Trail", 1)
    template.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {
            "EnableLogFileValidation": True,
            "IsMultiRegionTrail": True,
            "KMSKeyId": Match.any_value(),
            "CloudWatchLogsLogGroupArn": Match.any_value(),
            "CloudWatchLogsRoleArn": Match.any_value(),
        },
    )


def test_alarms_cover_errors_dlqs_and_5xx_and_notify_ops(resources: Resources) -> None:
    alarms = [props(a) for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]
    metrics = [(a.get("Namespace"), a.get("MetricName")) for a in alarms]
    # 8 API/engine functions + the InfluxDB writer, set-up and rotation; 5 DLQs
    assert metrics.count(("AWS/Lambda", "Errors")) == 11
    assert metrics.count(("AWS/SQS", "ApproximateNumberOfMessagesVisible")) == 5
    assert metrics.count(("AWS/ApiGateway", "5XXError")) == 1
    ops = [k for k, t in of_type(resources, "AWS::SNS::Topic").items() if "Ops" in k]
    assert len(ops) == 1
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": ops[0]}]
        assert alarm["ActionsEnabled"] is True


def test_queues_are_kms_encrypted_and_tls_only(resources: Resources) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    assert len(queues) == 5
    for queue in queues.values():
        assert "DataKey" in flat(props(queue)["KmsMasterKeyId"])
    for policy in of_type(resources, "AWS::SQS::QueuePolicy").values():
        denies = [s for s in statements(props(policy)["PolicyDocument"]) if s["Effect"] == "Deny"]
        assert any(as_list(s["Action"]) == ["sqs:*"] for s in denies)


def test_deployed_routes_match_the_openapi_document(resources: Resources) -> None:
    """The API Gateway routes and cloud/openapi.yaml describe the same API."""
    import yaml

    document = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "cloud" / "openapi.yaml").read_text("utf-8")
    )
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert set(_methods(resources)) == documented
