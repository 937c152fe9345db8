"""External actions: fields, payload rendering (default, STRING, JSON) and delivery."""

from __future__ import annotations

import json
from typing import Any

from tests.detectors.support import Harness, at, event, model_request, state

GOT = 'currentInput("In")'


def one_action(
    action: dict[str, Any], payload: dict[str, Any] | None = None, **model: Any
) -> Harness:
    request = model_request([state("A", on_input=[event("fire", GOT, action)])], **model)
    h = Harness(request)
    h.send(
        "In", payload or {"id": "dev-1", "gw": "gw-7", "v": 21.5, "obj": {"a": [1, 2]}}, 0, "00042"
    )
    return h


def payload(kind: str, content: str) -> dict[str, str]:
    return {"contentExpression": content, "type": kind}


def test_default_payload_matches_the_iot_events_format() -> None:
    h = one_action({"sns": {"targetArn": "arn:aws:sns:us-east-1:123456789012:t"}})
    (action,) = h.replay.sink.actions
    assert action.payload_type == "DEFAULT"
    assert action.payload == {
        "eventTime": at(0),
        "payload": {
            "actionExecutionId": action.action_execution_id,
            "detector": {
                "detectorModelName": "test-model",
                "keyValue": "dev-1",
                "detectorModelVersion": "1",
            },
            "eventTriggerDetails": {
                "inputName": "In",
                "messageId": "00042",
                "triggerType": "Message",
            },
            "state": {"stateName": "A", "variables": {}, "timers": {}},
        },
        "eventName": "fire",
    }
    assert list(action.payload) == ["eventTime", "payload", "eventName"]
    assert json.loads(action.payload_text()) == action.payload


def test_default_payload_of_a_keyless_model_has_no_key_value() -> None:
    h = one_action(
        {"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}}, key=None
    )
    detector = h.replay.sink.actions[0].payload["payload"]["detector"]
    assert detector == {"detectorModelName": "test-model", "detectorModelVersion": "1"}


def test_string_payload() -> None:
    h = one_action(
        {
            "sns": {
                "targetArn": "arn:x",
                "payload": payload("STRING", "'v=${$input.In.v} on ${$input.In.gw}'"),
            }
        }
    )
    (action,) = h.replay.sink.actions
    assert (action.payload, action.payload_type, action.payload_text()) == (
        "v=21.5 on gw-7",
        "STRING",
        "v=21.5 on gw-7",
    )


def test_string_payload_of_a_non_string_value_is_its_text() -> None:
    h = one_action({"sns": {"targetArn": "arn:x", "payload": payload("STRING", "$input.In.v * 2")}})
    assert h.replay.sink.actions[0].payload == "43.0"


def test_json_payload_is_parsed() -> None:
    content = '\'{"device": "${$input.In.id}", "v": ${$input.In.v}, "ok": ${$input.In.v > 20}}\''
    h = one_action(
        {"iotTopicPublish": {"mqttTopic": "alerts/x", "payload": payload("JSON", content)}}
    )
    (action,) = h.replay.sink.actions
    assert action.payload == {"device": "dev-1", "v": 21.5, "ok": True}
    assert action.payload_type == "JSON"
    assert action.payload_text() == '{"device":"dev-1","v":21.5,"ok":true}'


def test_json_payload_from_an_object_reference() -> None:
    h = one_action(
        {"lambda": {"functionArn": "arn:f", "payload": payload("JSON", "$input.In.obj")}}
    )
    assert h.replay.sink.actions[0].payload == {"a": [1, 2]}


def test_invalid_payloads_are_delivered_with_an_error_not_dropped() -> None:
    h = one_action({"sqs": {"queueUrl": "https://q", "payload": payload("JSON", "'{not json'")}})
    (action,) = h.replay.sink.actions
    assert action.payload is None
    assert action.error is not None and "not valid JSON" in action.error
    assert h.lines[-1]["error"] == action.error
    h = one_action({"sqs": {"queueUrl": "https://q", "payload": payload("JSON", "42")}})
    assert "must evaluate to a string" in (h.replay.sink.actions[0].error or "")
    h = one_action(
        {"sqs": {"queueUrl": "https://q", "payload": payload("STRING", "$input.In.none")}}
    )
    assert "evaluated to undefined" in (h.replay.sink.actions[0].error or "")


def test_action_fields_literals_templates_and_expressions() -> None:
    actions: list[dict[str, Any]] = [
        {"sns": {"targetArn": "arn:aws:sns:us-east-1:123456789012:alerts"}},
        {"iotTopicPublish": {"mqttTopic": "wardlink/${$input.In.gw}/alerts"}},
        {"iotTopicPublish": {"mqttTopic": "'fixed/' + $input.In.id"}},
        {"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}},
        {
            "sqs": {
                "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                "useBase64": True,
            }
        },
        {
            "dynamoDBv2": {
                "tableName": "'Alarms'",
                "payload": payload("JSON", '\'{"id": "${$input.In.id}"}\''),
            }
        },
        {
            "dynamoDB": {
                "hashKeyField": "'device'",
                "hashKeyValue": "$input.In.id",
                "hashKeyType": "'STRING'",
                "rangeKeyField": "'at'",
                "rangeKeyValue": "'${$input.In.v}'",
                "operation": "'INSERT'",
                "tableName": "Readings",
            }
        },
        {"iotEvents": {"inputName": "Forwarded"}},
        {"firehose": {"deliveryStreamName": "stream", "separator": ","}},
        {
            "iotSiteWise": {
                "propertyAlias": "'/wardlink/${$input.In.gw}/v'",
                "propertyValue": {
                    "value": {"doubleValue": "$input.In.v"},
                    "quality": "'GOOD'",
                    "timestamp": {"timeInSeconds": "'1700000000'"},
                },
            }
        },
    ]
    request = model_request([state("A", on_input=[event("fire", GOT, *actions)])])
    h = Harness(request)
    h.send("In", {"id": "dev-1", "gw": "gw-7", "v": 21.5}, 0)
    got = [(a.kind, dict(a.target)) for a in h.replay.sink.actions]
    assert got == [
        ("sns", {"targetArn": "arn:aws:sns:us-east-1:123456789012:alerts"}),
        ("iotTopicPublish", {"mqttTopic": "wardlink/gw-7/alerts"}),
        ("iotTopicPublish", {"mqttTopic": "fixed/dev-1"}),
        ("lambda", {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}),
        (
            "sqs",
            {"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "useBase64": True},
        ),
        ("dynamoDBv2", {"tableName": "Alarms"}),
        (
            "dynamoDB",
            {
                "hashKeyField": "device",
                "hashKeyValue": "dev-1",
                "hashKeyType": "STRING",
                "rangeKeyField": "at",
                "rangeKeyValue": "21.5",
                "operation": "INSERT",
                "tableName": "Readings",
            },
        ),
        ("iotEvents", {"inputName": "Forwarded"}),
        ("firehose", {"deliveryStreamName": "stream", "separator": ","}),
        (
            "iotSiteWise",
            {
                "propertyAlias": "/wardlink/gw-7/v",
                "propertyValue": {
                    "value": {"doubleValue": "21.5"},
                    "quality": "GOOD",
                    "timestamp": {"timeInSeconds": "1700000000"},
                },
            },
        ),
    ]
    assert h.replay.sink.actions[5].payload == {"id": "dev-1"}
    ids = [a.action_execution_id for a in h.replay.sink.actions]
    assert len(set(ids)) == len(ids)


def test_a_field_that_evaluates_to_undefined_is_an_error_on_the_action() -> None:
    h = one_action({"iotTopicPublish": {"mqttTopic": "wardlink/${$input.In.missing}/x"}})
    (action,) = h.replay.sink.actions
    assert action.target == {}
    assert action.error is not None and "evaluated to undefined" in action.error


def test_action_execution_ids_are_deterministic_for_a_replay() -> None:
    first = one_action({"sns": {"targetArn": "arn:x"}}).replay.sink.actions[0]
    second = one_action({"sns": {"targetArn": "arn:x"}}).replay.sink.actions[0]
    assert first.action_execution_id == second.action_execution_id
