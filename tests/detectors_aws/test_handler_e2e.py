"""The engine Lambda end to end: real envelopes on a Kinesis event, DynamoDB Local for
state and alarms, moto for EventBridge Scheduler and SNS; the offline alert arrives
when the scheduled timer calls the handler back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.detectors_aws.conftest import CATALOG_DIR, REGION, Tables, register_device
from tests.detectors_aws.envelopes import PULSE, SPO2, Gateway, assert_no_phi, kinesis_event
from wardlink.detectors.aws import entrypoint, handler
from wardlink.detectors.aws.alarm_store import AlarmRecorder
from wardlink.detectors.aws.runtime import EngineRuntime
from wardlink.detectors.aws.settings import EngineSettings
from wardlink.detectors.aws.state_store import DynamoDBStateStore
from wardlink.detectors.instance import DetectorInstance
from wardlink.detectors.store import StoredInstance
from wardlink.detectors.timeutil import format_iso_ms
from wardlink.model.status import Connectivity

GROUP = "wardlink-test-detector-timers"
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:wardlink-engine"


@dataclass
class _Context:
    function_name: str = "wardlink-engine"
    function_version: str = "$LATEST"
    invoked_function_arn: str = FUNCTION + ":live"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "req-1"
    log_group_name: str = "/aws/lambda/wardlink-engine"
    log_stream_name: str = "stream"


def Context(aws_request_id: str = "req-1") -> LambdaContext:
    """The invocation context Lambda passes (the fields Powertools reads)."""
    return cast(LambdaContext, _Context(aws_request_id=aws_request_id))


class Cloud:
    def __init__(self, ddb: Any, tables: Tables, endpoint: str) -> None:
        self.ddb = ddb
        self.tables = tables
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.scheduler = boto3.client("scheduler", region_name=REGION)
        self.scheduler.create_schedule_group(Name=GROUP)
        self.topic = self.sns.create_topic(Name="wardlink-prod-support")["TopicArn"]
        self.inbox = self.sqs.create_queue(QueueName="support")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(
            TopicArn=self.topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        self.env = {
            "DETECTOR_STATE_TABLE": tables.detector_state,
            "ALARMS_TABLE": tables.alarms,
            "ALARM_AUDIT_TABLE": tables.alarm_audit,
            "DEVICES_TABLE": tables.devices,
            "GATEWAYS_TABLE": tables.gateways,
            "ALERT_TOPIC_ARN": self.topic,
            "SCHEDULE_GROUP_NAME": GROUP,
            "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/wardlink-scheduler",
            "DETECTOR_MODELS_DIR": str(CATALOG_DIR),
            "RUNBOOK_BASE_URL": "https://runbooks.wardlink.example/alerts",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        }

    def alerts(self) -> list[str]:
        got = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10)
        return [m["Body"] for m in got.get("Messages", [])]

    def schedules(self) -> list[dict[str, Any]]:
        names = [s["Name"] for s in self.scheduler.list_schedules(GroupName=GROUP)["Schedules"]]
        return [self.scheduler.get_schedule(Name=n, GroupName=GROUP) for n in names]

    def state(self, detector_key: str) -> str | None:
        item = self.ddb.get_item(
            TableName=self.tables.detector_state, Key={"detector_key": {"S": detector_key}}
        ).get("Item")
        return item["state"]["S"] if item else None


@pytest.fixture
def cloud(
    ddb: Any, tables: Tables, dynamodb_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cloud]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        result = Cloud(ddb, tables, dynamodb_endpoint)
        for name, value in result.env.items():
            monkeypatch.setenv(name, value)
        entrypoint.use_runtime(None)  # cold start: built from the environment above
        try:
            yield result
        finally:
            entrypoint.use_runtime(None)


def test_silent_device_raises_the_offline_alert_through_the_scheduler(
    cloud: Cloud, gateway: Gateway
) -> None:
    gw = gateway.gateway_id
    register_device(cloud.ddb, cloud.tables, gw, "pulse-1")
    event = kinesis_event(
        gateway.telemetry("pulse-1", [(SPO2, 97.0, "%"), (PULSE, 72.0, "/min")]),
        b"this is not an envelope",
        gateway.status("pulse-1", connectivity=Connectivity.CONNECTED, battery=80),
    )
    assert handler(event, Context()) == {"batchItemFailures": []}
    assert cloud.state(f"wardlink-device-offline#{gw}/pulse-1") == "Online"
    assert cloud.state(f"wardlink-vital-signs#{gw}/pulse-1") == "Normal"
    assert cloud.alerts() == []

    # one heartbeat schedule, targeting the unqualified engine function
    (schedule,) = [s for s in cloud.schedules() if "device-offline" in s["Name"]]
    assert schedule["Target"]["Arn"] == FUNCTION
    assert schedule["ActionAfterCompletion"] == "DELETE"

    # EventBridge Scheduler invokes the engine with the schedule's input, within the
    # minute of its at() time. A firing before the due time is not evaluated: it is
    # re-armed for the next full minute, so a late message can still reset the timer.
    runtime = entrypoint.current_runtime()
    assert runtime is not None
    timer_input = json.loads(schedule["Target"]["Input"])
    due_ms = timer_input["wardlinkTimer"]["due_ms"]
    runtime.clock_ms = lambda: due_ms - 20_000
    early = handler(timer_input, Context(aws_request_id="req-2"))
    assert early["timer"] == "early"
    (schedule,) = [s for s in cloud.schedules() if "device-offline" in s["Name"]]
    assert schedule["ScheduleExpression"].endswith(":00)")
    assert cloud.alerts() == []

    runtime.clock_ms = lambda: due_ms + 30_000
    timer_input = json.loads(schedule["Target"]["Input"])
    result = handler(timer_input, Context(aws_request_id="req-3"))
    assert result == {"timer": "fired", "transitions": 1}
    assert cloud.state(f"wardlink-device-offline#{gw}/pulse-1") == "Offline"

    (alert,) = cloud.alerts()
    assert alert.startswith(
        f"Wardlink alert: device OFFLINE. Device pulse-1 (model Nonin 3150) "
        f"on gateway {gw} has sent no telemetry"
    )
    assert "Runbook: https://runbooks.wardlink.example/alerts/device-offline" in alert
    assert "firmware 2.1.0, site st-mary-icu" in alert
    assert_no_phi(alert)

    recorder = AlarmRecorder(cloud.ddb, cloud.tables.alarms, cloud.tables.alarm_audit)
    row = recorder.get_row(f"wardlink-device-offline#offline#{gw}/pulse-1")
    assert row is not None and row["state"] == "ACTIVE" and row["site_id"] == "st-mary-icu"

    # the same firing delivered twice (Scheduler is at-least-once) does nothing more
    assert handler(timer_input, Context(aws_request_id="req-4")) == {"timer": "stale"}
    assert cloud.alerts() == []

    # and the device's next message brings it back, with a recovery message
    handler(
        kinesis_event(gateway.telemetry("pulse-1", [(SPO2, 96.0, "%")]), first_sequence=10),
        Context(),
    )
    (recovered,) = cloud.alerts()
    assert "device back ONLINE" in recovered
    row = recorder.get_row(f"wardlink-device-offline#offline#{gw}/pulse-1")
    assert row is not None and row["state"] == "LATCHED"


def test_fault_status_alerts_at_once(cloud: Cloud, gateway: Gateway) -> None:
    event = kinesis_event(gateway.status("pulse-1", error_codes=("E42",)))
    assert handler(event, Context()) == {"batchItemFailures": []}
    (alert,) = [a for a in cloud.alerts() if "FAULT" in a]
    assert 'error codes ["E42"]' in alert
    assert_no_phi(alert)


def test_a_reset_keeps_the_schedule_and_its_firing_re_arms(cloud: Cloud, gateway: Gateway) -> None:
    runtime = EngineRuntime.from_settings(EngineSettings.from_env(), function_arn=FUNCTION)
    entrypoint.use_runtime(runtime)
    t0 = int(time.time() * 1000)
    runtime.clock_ms = lambda: t0
    handler(kinesis_event(gateway.telemetry("pulse-1", [(SPO2, 97.0, "%")])), Context())
    (first,) = [s for s in cloud.schedules() if "device-offline" in s["Name"]]
    runtime.clock_ms = lambda: t0 + 10_000  # the next reading, 10 s later, resets the timer
    handler(
        kinesis_event(gateway.telemetry("pulse-1", [(SPO2, 97.0, "%")]), first_sequence=5),
        Context(),
    )
    (kept,) = [s for s in cloud.schedules() if "device-offline" in s["Name"]]
    assert kept["Target"]["Input"] == first["Target"]["Input"]  # not re-created per reading

    runtime.clock_ms = lambda: t0 + 301_000  # the kept schedule fires: due time moved on
    result = handler(json.loads(first["Target"]["Input"]), Context())
    assert result == {"timer": "rearmed", "due": format_iso_ms(t0 + 310_000)}
    assert cloud.state(f"wardlink-device-offline#{gateway.gateway_id}/pulse-1") == "Online"
    assert cloud.alerts() == []

    (rearmed,) = [s for s in cloud.schedules() if "device-offline" in s["Name"]]
    runtime.clock_ms = lambda: t0 + 311_000
    assert handler(json.loads(rearmed["Target"]["Input"]), Context())["timer"] == "fired"
    assert any("device OFFLINE" in alert for alert in cloud.alerts())


class ThrottledFor:
    """DynamoDB store that is throttled (past botocore's retries) for one gateway."""

    def __init__(self, inner: DynamoDBStateStore, gateway_id: str) -> None:
        self.inner, self.gateway_id = inner, gateway_id

    def get(self, model_name: str, key: str | None) -> StoredInstance | None:
        if key is not None and key.startswith(self.gateway_id):
            raise ClientError(
                {
                    "Error": {
                        "Code": "ProvisionedThroughputExceededException",
                        "Message": "throttled",
                    }
                },
                "GetItem",
            )
        return self.inner.get(model_name, key)

    def put(
        self,
        model_name: str,
        key: str | None,
        instance: DetectorInstance,
        expected_version: int | None,
    ) -> int:
        return self.inner.put(model_name, key, instance, expected_version)


def test_a_failing_record_is_reported_and_later_records_wait(
    cloud: Cloud, gateway: Gateway, tmp_path: Any
) -> None:
    runtime = EngineRuntime.from_settings(
        EngineSettings.from_env(cloud.env),
        function_arn=FUNCTION,
        clients=lambda service: cloud.ddb if service == "dynamodb" else boto3.client(service),
    )
    throttled_gateway = Gateway(tmp_path / "other", "gw-throttled")
    runtime.detectors = type(runtime.detectors)(
        [e.model for e in runtime.detectors],
        ThrottledFor(DynamoDBStateStore(cloud.ddb, cloud.tables.detector_state), "gw-throttled"),
        runtime.timers,
        runtime.detectors.engines["wardlink-device-offline"]._sink,
    )
    entrypoint.use_runtime(runtime)
    event = kinesis_event(
        gateway.status("pulse-1"),
        throttled_gateway.status("pump-1"),
        gateway.status("pulse-2"),
        first_sequence=100,
    )
    response = handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{101:056d}"}]}
    gw = gateway.gateway_id
    assert cloud.state(f"wardlink-device-offline#{gw}/pulse-1") == "Online"
    assert cloud.state(f"wardlink-device-offline#{gw}/pulse-2") is None  # redelivered later
    throttled_gateway.close()


def test_unknown_events_and_bad_timer_payloads_fail_loudly(cloud: Cloud) -> None:
    with pytest.raises(ValueError, match="not a Kinesis batch"):
        handler({"hello": "world"}, Context())
    with pytest.raises(ValueError, match="timer"):
        handler({"wardlinkTimer": {"model": "wardlink-device-offline"}}, Context())
