"""The AWS action sink: SNS alerts (moto) enriched from the registry (DynamoDB Local),
the other action kinds, retries, and dead-lettering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.detectors_aws.conftest import CATALOG_DIR, REGION, Tables, register_device
from tests.detectors_aws.envelopes import Gateway, assert_no_phi
from wardlink.detectors import CollectingSink, DetectorEngine, DetectorModel, InMemoryStateStore
from wardlink.detectors.actions import RenderedAction, TriggerDetails
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.aws.retry import Backoff
from wardlink.detectors.aws.sink import AwsActionSink
from wardlink.detectors.ingest import flatten_envelope
from wardlink.detectors.timers import HeapTimerScheduler

NO_WAIT = Backoff(attempts=4, sleep=lambda _s: None)


class Aws:
    """moto clients plus an SQS queue subscribed (raw) to the support topic."""

    def __init__(self, ddb: Any) -> None:
        def client(service: str) -> Any:
            return boto3.client(
                service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
            )

        self.clients: dict[str, Any] = {s: client(s) for s in ("sns", "sqs", "iot-data")}
        self.clients["dynamodb"] = ddb
        self.topic = self.clients["sns"].create_topic(Name="support-alerts")["TopicArn"]
        self.inbox = self.queue("support-inbox")
        arn = self.clients["sqs"].get_queue_attributes(
            QueueUrl=self.inbox, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.clients["sns"].subscribe(
            TopicArn=self.topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        self.dlq = self.queue("action-dlq")

    def queue(self, name: str) -> str:
        return str(self.clients["sqs"].create_queue(QueueName=name)["QueueUrl"])

    def client(self, service: str) -> Any:
        return self.clients[service]

    def messages(self, queue_url: str) -> list[dict[str, Any]]:
        got = self.clients["sqs"].receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return list(got.get("Messages", []))


@pytest.fixture
def aws(ddb: Any) -> Iterator[Aws]:
    with mock_aws():
        yield Aws(ddb)


def _sink(aws: Aws, ddb: Any, tables: Tables, **options: Any) -> AwsActionSink:
    return AwsActionSink(
        aws.client,
        alert_topic_arn=aws.topic,
        directory=RegistryDirectory(ddb, tables.devices, tables.gateways),
        runbook_base_url="https://runbooks.example.com/wardlink/",
        dead_letter_queue_url=aws.dlq,
        backoff=NO_WAIT,
        **options,
    )


def _fault_actions(gateway: Gateway) -> list[RenderedAction]:
    """A real fault alert: a status envelope with error codes through the shipped model."""
    model = DetectorModel.from_file(CATALOG_DIR / "device-fault.json")
    collected = CollectingSink()
    engine = DetectorEngine(model, InMemoryStateStore(), HeapTimerScheduler(), collected)
    for message in flatten_envelope(gateway.status("pulse-1", error_codes=("E42", "B7"))).messages:
        engine.handle_message(
            message.input_name, message.payload, 1_800_000_000_000, message.message_id
        )
    return collected.of_kind("sns")


def test_fault_alert_is_published_enriched_and_phi_free(
    aws: Aws, ddb: Any, tables: Tables, gateway: Gateway
) -> None:
    register_device(ddb, tables, gateway.gateway_id, "pulse-1")
    sink = _sink(aws, ddb, tables)
    (action,) = _fault_actions(gateway)
    assert action.target["targetArn"].startswith("arn:aws:sns:eu-west-1:123456789012:")
    sink.deliver(action)

    (message,) = aws.messages(aws.inbox)
    body = message["Body"]
    assert body.startswith("Wardlink alert: device FAULT. Device pulse-1 (model Nonin 3150)")
    assert '["E42","B7"]' in body
    assert "Runbook: https://runbooks.example.com/wardlink/device-fault" in body
    assert "support.wardlink.example" not in body
    assert "Registry: model Nonin 3150 by Nonin, firmware 2.1.0, site st-mary-icu" in body
    alarm_id = f"wardlink-device-fault#fault#{gateway.gateway_id}/pulse-1"
    assert f"wardlink support alarms show '{alarm_id}'" in body
    assert_no_phi(body)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["alarm_id"] == alarm_id
    assert attributes["severity"] == "2"
    assert attributes["site_id"] == "st-mary-icu"
    assert attributes["wardlink_action_id"] == action.action_execution_id
    assert (sink.delivered, sink.dead_lettered) == (1, 0)


def test_recovery_messages_are_marked_and_carry_no_severity(
    aws: Aws, ddb: Any, tables: Tables, gateway: Gateway
) -> None:
    model = DetectorModel.from_file(CATALOG_DIR / "device-fault.json")
    collected = CollectingSink()
    engine = DetectorEngine(model, InMemoryStateStore(), HeapTimerScheduler(), collected)
    for codes in (("E42",), ()):
        (message,) = flatten_envelope(gateway.status("pulse-1", error_codes=codes)).messages
        engine.handle_message(message.input_name, message.payload, 1_800_000_000_000)
    sink = _sink(aws, ddb, tables)
    for action in collected.of_kind("sns"):
        sink.deliver(action)
    kinds = {}
    for received in aws.messages(aws.inbox):
        attributes = {k: v["StringValue"] for k, v in received["MessageAttributes"].items()}
        kinds[attributes["alert_type"]] = attributes
    assert kinds["alert"]["severity"] == "2"
    assert "severity" not in kinds["recovery"]
    assert kinds["recovery"]["alarm_id"] == kinds["alert"]["alarm_id"]


def test_unregistered_device_still_alerts(
    aws: Aws, ddb: Any, tables: Tables, gateway: Gateway
) -> None:
    sink = _sink(aws, ddb, tables)
    sink.deliver(_fault_actions(gateway)[0])
    (message,) = aws.messages(aws.inbox)
    assert "is not in the Devices table" in message["Body"]


class Flaky:
    """Wraps the real SNS client and throttles the first ``failures`` publishes."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    def publish(self, **request: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "slow down"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "Publish",
            )
        return self.inner.publish(**request)


def test_throttling_is_retried_with_backoff(
    aws: Aws, ddb: Any, tables: Tables, gateway: Gateway
) -> None:
    flaky = Flaky(aws.clients["sns"], failures=2)
    aws.clients["sns"] = flaky
    sink = _sink(aws, ddb, tables)
    sink.deliver(_fault_actions(gateway)[0])
    assert flaky.calls == 3
    assert len(aws.messages(aws.inbox)) == 1  # delivered once, no duplicates
    assert (sink.delivered, sink.dead_lettered) == (1, 0)


def test_failures_are_dead_lettered_and_never_raise(
    aws: Aws, ddb: Any, tables: Tables, gateway: Gateway
) -> None:
    sink = _sink(aws, ddb, tables)
    action = _fault_actions(gateway)[0]
    gone = "arn:aws:sns:eu-west-1:000000000000:deleted-topic"  # a real ARN, not a placeholder
    sink.deliver(replace(action, target={"targetArn": gone}))
    sink.deliver(replace(action, kind="iotSiteWise", target={}))
    assert (sink.delivered, sink.dead_lettered) == (0, 2)
    records = [json.loads(m["Body"]) for m in aws.messages(aws.dlq)]
    assert {r["action"] for r in records} == {"sns", "iotSiteWise"}
    assert all(r["action_execution_id"] == action.action_execution_id for r in records)
    assert all(r["payload"].startswith("Wardlink alert: device FAULT") for r in records)


def _action(kind: str, target: dict[str, Any], payload: Any, payload_type: str) -> RenderedAction:
    return RenderedAction(
        kind=kind,
        target=target,
        payload=payload,
        payload_type=payload_type,  # type: ignore[arg-type]
        detector_model="wardlink-device-fault",
        key="gw/pulse-1",
        state_name="Faulted",
        event_name="alertFault",
        event_time_ms=1_800_000_000_000,
        action_execution_id="5a1d7a52-0000-4000-8000-000000000001",
        trigger=TriggerDetails("Message", input_name="WardlinkStatus", message_id="1"),
    )


def test_other_action_kinds(aws: Aws, ddb: Any, tables: Tables) -> None:
    sink = _sink(aws, ddb, tables)
    queue = aws.queue("ops")
    sink.deliver(
        _action(
            "sqs",
            {"queueUrl": queue, "useBase64": "false"},
            {"device": "pulse-1", "patient_ref": "p-123"},
            "JSON",
        )
    )
    sink.deliver(
        _action(
            "iotTopicPublish", {"mqttTopic": "wardlink/ops/faults"}, "fault on pulse-1", "STRING"
        )
    )
    sink.deliver(
        _action(
            "dynamoDBv2",
            {"tableName": tables.devices},
            {"device_uid": "ops/row-1", "level": 2.5, "ok": True},
            "JSON",
        )
    )
    assert (sink.delivered, sink.dead_lettered) == (3, 0)

    (queued,) = aws.messages(queue)
    assert json.loads(queued["Body"]) == {"device": "pulse-1"}  # patient_ref never leaves
    from moto.iotdata.models import iotdata_backends

    published = iotdata_backends["123456789012"][REGION].published_payloads
    assert ("wardlink/ops/faults", b"fault on pulse-1") in published
    item = ddb.get_item(TableName=tables.devices, Key={"device_uid": {"S": "ops/row-1"}})["Item"]
    assert item["level"] == {"N": "2.5"} and item["ok"] == {"BOOL": True}


def test_unrenderable_alert_sends_a_fallback(aws: Aws, ddb: Any, tables: Tables) -> None:
    sink = _sink(aws, ddb, tables)
    action = replace(
        _action("sns", {"targetArn": "arn:aws:sns:eu-west-1:123456789012:x"}, None, "STRING"),
        error="content expression evaluated to undefined",
    )
    sink.deliver(action)
    (message,) = aws.messages(aws.inbox)
    assert "could not be rendered" in message["Body"]
    assert action.action_execution_id in message["Body"]
