"""The LiveAnalytics store (non-default), the detector engine's scheduler wiring, SNS topics.

The default store, Timestream for InfluxDB, is asserted in ``test_influxdb_store.py``.
"""

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


def test_timestream_database_uses_the_customer_managed_key(
    liveanalytics_resources: Resources,
) -> None:
    _, database = only(liveanalytics_resources, "AWS::Timestream::Database")
    assert "DataKey" in flat(props(database)["KmsKeyId"])


def test_timestream_retention_is_a_day_in_memory_and_seven_years_magnetic(
    liveanalytics_resources: Resources,
) -> None:
    _, table = only(liveanalytics_resources, "AWS::Timestream::Table")
    assert props(table)["RetentionProperties"] == {
        "MemoryStoreRetentionPeriodInHours": "24",
        "MagneticStoreRetentionPeriodInDays": "2555",
    }
    writes = props(table)["MagneticStoreWriteProperties"]
    assert writes["EnableMagneticStoreWrites"] is True
    rejected = writes["MagneticStoreRejectedDataLocation"]["S3Configuration"]
    assert rejected["EncryptionOption"] == "SSE_KMS"


def _function(resources: Resources, handler: str) -> tuple[str, dict[str, Any]]:
    found = [(k, props(r)) for k, r in of_type(resources, "AWS::Lambda::Function").items()
             if props(r)["Handler"] == handler]
    assert len(found) == 1, handler
    return found[0]


def _policy_statements_of(resources: Resources, role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for p in of_type(resources, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in props(p).get("Roles", [])
        for s in statements(props(p)["PolicyDocument"])
    ]


def test_writer_may_write_only_its_timestream_table(liveanalytics_resources: Resources) -> None:
    resources = liveanalytics_resources
    table_id, _ = only(resources, "AWS::Timestream::Table")
    _, writer = _function(resources, "wardlink.cloudapi.handlers.telemetry_writer.handler")
    granted = _policy_statements_of(resources, writer["Role"]["Fn::GetAtt"][0])
    (write,) = [s for s in granted if "timestream:WriteRecords" in as_list(s["Action"])]
    assert write["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    env = writer["Environment"]["Variables"]
    assert env["TIMESTREAM_DATABASE"] == "wardlink_dev_telemetry"
    assert env["TIMESTREAM_TABLE"] == "telemetry"
    assert env["TELEMETRY_STORE"] == "liveanalytics"
    assert "VpcConfig" not in writer


def test_scheduler_can_invoke_only_the_engine(resources: Resources) -> None:
    engine_id, engine = _function(resources, "wardlink.detectors.aws.handler")
    env = engine["Environment"]["Variables"]
    scheduler_role_id = env["SCHEDULER_ROLE_ARN"]["Fn::GetAtt"][0]
    trust = statements(props(resources[scheduler_role_id])["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    granted = _policy_statements_of(resources, scheduler_role_id)
    (invoke,) = [s for s in granted if s["Action"] == "lambda:InvokeFunction"]
    assert invoke["Resource"] == {"Fn::GetAtt": [engine_id, "Arn"]}

    _, group = only(resources, "AWS::Scheduler::ScheduleGroup")
    assert env["SCHEDULE_GROUP_NAME"] == props(group)["Name"]
    engine_grants = _policy_statements_of(resources, engine["Role"]["Fn::GetAtt"][0])
    by_sid = {s.get("Sid"): s for s in engine_grants}
    timers = by_sid["ManageDetectorTimers"]
    assert sorted(as_list(timers["Action"])) == ["scheduler:CreateSchedule",
                                                 "scheduler:DeleteSchedule"]
    assert flat(timers["Resource"]).endswith(f":schedule/{props(group)['Name']}/*")
    pass_role = by_sid["HandTimerRoleToScheduler"]
    assert pass_role["Action"] == "iam:PassRole"
    assert pass_role["Resource"] == {"Fn::GetAtt": [scheduler_role_id, "Arn"]}
    assert "DeadLetterConfig" in engine, "timer invocations are async: they need a DLQ"


def test_engine_reads_and_writes_detector_tables_without_scan(resources: Resources) -> None:
    _, engine = _function(resources, "wardlink.detectors.aws.handler")
    env = engine["Environment"]["Variables"]
    for var in ("DETECTOR_STATE_TABLE", "ALARMS_TABLE", "ALARM_AUDIT_TABLE", "ALERT_TOPIC_ARN"):
        assert var in env
    assert env["DETECTOR_MODELS_DIR"] == "/opt/detectors"


def test_no_policy_allows_a_scan(resources: Resources) -> None:
    """Except support's fleet search, on the Devices table only (filters no index serves)."""
    for cfn_type in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for policy in of_type(resources, cfn_type).values():
            for statement in statements(props(policy)["PolicyDocument"]):
                actions = as_list(statement["Action"])
                if statement.get("Sid") == "FleetSearchOverFiltersNoIndexServes":
                    assert actions == ["dynamodb:Scan"]
                    assert "index" not in json.dumps(statement["Resource"])
                    continue
                assert "dynamodb:Scan" not in actions
                assert not any(a.startswith("dynamodb:*") for a in actions)


def test_sns_topics_are_kms_encrypted_and_tls_only(resources: Resources) -> None:
    topics = of_type(resources, "AWS::SNS::Topic")
    assert len(topics) == 3  # ops alarms, support alerts, IoT audit findings
    for topic in topics.values():
        assert "DataKey" in flat(props(topic)["KmsMasterKeyId"])
    policies = [props(p) for p in of_type(resources, "AWS::SNS::TopicPolicy").values()]
    for policy in policies:
        denies = [s for s in statements(policy["PolicyDocument"]) if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_every_lambda_is_hardened(resources: Resources) -> None:
    functions = {
        k: v for k, v in of_type(resources, "AWS::Lambda::Function").items()
        if "CustomResourceProvider" not in k  # CDK's own (restricts the VPC's default SG)
        and not k.startswith("AWS679f53fac002430cb0da5b7982bd2287")  # AwsCustomResource's
    }  # fmt: skip
    # devices, uploads, alarms, diagnostics, audit, fleet search, telemetry reader, engine;
    # the InfluxDB writer, set-up and rotation
    assert len(functions) == 11
    for logical_id, resource in functions.items():
        p = props(resource)
        assert p["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert p["ReservedConcurrentExecutions"] >= 1, logical_id
        assert p["Runtime"] in {"python3.12", "python3.13"}
        assert any(":017000801446:layer:AWSLambdaPowertoolsPythonV3-" in flat(layer)
                   for layer in p["Layers"])
        log_group = resources[p["LoggingConfig"]["LogGroup"]["Ref"]]
        assert "KmsKeyId" in props(log_group)
        assert props(log_group)["RetentionInDays"] >= 365
        env = p["Environment"]["Variables"]
        for var in ("DEVICES_TABLE", "GATEWAYS_TABLE", "DETECTOR_STATE_TABLE", "ALARMS_TABLE",
                    "ALARM_AUDIT_TABLE", "DATA_BUCKET", "TELEMETRY_STORE", "ALERT_TOPIC_ARN"):
            assert var in env, (logical_id, var)
