"""Flattening envelopes into detector inputs, and routing inputs to the models that use them."""

from __future__ import annotations

import json

import pytest

from tests.detectors_aws.conftest import CATALOG_DIR
from tests.detectors_aws.envelopes import PULSE, SPO2, Gateway
from wardlink.detectors import CollectingSink, DetectorModelError, InMemoryStateStore
from wardlink.detectors.ingest import (
    DetectorSet,
    EnvelopeError,
    flatten_envelope,
    load_models,
)
from wardlink.detectors.timers import HeapTimerScheduler


def test_telemetry_items_become_inputs_with_device_uid(gateway: Gateway) -> None:
    data = gateway.telemetry("pulse-1", [(SPO2, 97.0, "%"), (PULSE, 72.0, "/min")])
    flat = flatten_envelope(data)
    assert (flat.kind, flat.gateway_id, flat.problems) == ("telemetry", gateway.gateway_id, ())
    assert [m.input_name for m in flat.messages] == ["WardlinkTelemetry"] * 2
    first = flat.messages[0]
    assert first.payload["device_uid"] == f"{gateway.gateway_id}/pulse-1"
    assert first.payload["gateway_id"] == gateway.gateway_id
    assert first.payload["mdc_code"] == 150456 and first.payload["value"] == 97.0
    assert first.message_id == f"{gateway.gateway_id}/telemetry/{first.seq}"
    seqs = [m.seq for m in flat.messages]
    assert all(isinstance(seq, int) for seq in seqs) and len(set(seqs)) == 2


def test_status_and_health_inputs(gateway: Gateway) -> None:
    (status,) = flatten_envelope(gateway.status("pump-2", error_codes=("E1",))).messages
    assert status.input_name == "WardlinkStatus"
    assert status.payload["error_codes"] == ["E1"]
    assert status.payload["device_uid"] == f"{gateway.gateway_id}/pump-2"
    (health,) = flatten_envelope(gateway.health(spool_depth=12)).messages
    assert health.input_name == "WardlinkHealth"
    assert "device_uid" not in health.payload and health.payload["spool_depth"] == 12


def test_the_topic_gateway_wins_and_bad_items_are_reported_not_fatal() -> None:
    envelope = {
        "schema_version": "wardlink.envelope/1",
        "gateway_id": "gw-topic",
        "batch_id": "b1",
        "kind": "status",
        "sent_at": "2026-11-21T08:00:00Z",
        "items": [
            {
                "seq": 1,
                "device_id": "ok-1",
                "gateway_id": "gw-claimed",
                "at": "x",
                "connectivity": "connected",
                "error_codes": [],
            },
            {"seq": 2, "device_id": "../etc", "at": "x", "connectivity": "connected"},
            "not an object",
            {"seq": 4, "at": "x", "connectivity": "silent"},
        ],
    }
    flat = flatten_envelope(json.dumps(envelope).encode())
    (message,) = flat.messages
    assert message.payload["gateway_id"] == "gw-topic"
    assert message.payload["device_uid"] == "gw-topic/ok-1"
    assert [(p.index, p.seq) for p in flat.problems] == [(1, 2), (2, None), (3, 4)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (
            b'{"schema_version": "wardlink.envelope/2", "gateway_id": "g", "kind": "status",'
            b' "items": []}',
            "schema_version",
        ),
        (
            b'{"schema_version": "wardlink.envelope/1", "gateway_id": "g w", "kind": "status",'
            b' "items": []}',
            "gateway_id",
        ),
        (
            b'{"schema_version": "wardlink.envelope/1", "gateway_id": "g", "kind": "audio",'
            b' "items": []}',
            "kind",
        ),
        (
            b'{"schema_version": "wardlink.envelope/1", "gateway_id": "g", "kind": "status"}',
            "items",
        ),
    ],
)
def test_unusable_envelopes_are_refused_whole(data: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        flatten_envelope(data)


def test_alert_envelopes_feed_no_detector() -> None:
    flat = flatten_envelope(
        {
            "schema_version": "wardlink.envelope/1",
            "gateway_id": "g",
            "kind": "alert",
            "items": [{"seq": 1}],
        }
    )
    assert flat.messages == ()


def test_catalog_loads_and_routes_each_input_to_the_models_that_use_it(gateway: Gateway) -> None:
    models = load_models(CATALOG_DIR)
    assert {m.name for m in models} == {
        "wardlink-battery-low",
        "wardlink-device-fault",
        "wardlink-device-offline",
        "wardlink-gateway-health",
        "wardlink-vital-signs",
    }
    detectors = DetectorSet(models, InMemoryStateStore(), HeapTimerScheduler(), CollectingSink())
    (status,) = flatten_envelope(gateway.status("pulse-1", battery=50)).messages
    routed = detectors.deliver(status, 1_800_000_000_000)
    assert sorted(e.model for e in routed.evaluated) == [
        "wardlink-battery-low",
        "wardlink-device-fault",
        "wardlink-device-offline",
    ]
    (health,) = flatten_envelope(gateway.health()).messages
    assert [e.model for e in detectors.deliver(health, 1_800_000_000_000).evaluated] == [
        "wardlink-gateway-health"
    ]
    keyless = status.__class__("WardlinkStatus", {"connectivity": "connected"}, "m1", "g", None)
    rejected = detectors.deliver(keyless, 1_800_000_000_000).rejected
    assert {r.model for r in rejected} == {
        "wardlink-battery-low",
        "wardlink-device-fault",
        "wardlink-device-offline",
    }


def test_a_bad_model_directory_lists_every_problem(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    (directory / "a.json").write_text("{not json")
    (directory / "b.json").write_text(json.dumps({"detectorModelName": "b"}))
    with pytest.raises(DetectorModelError) as error:
        load_models(directory)
    text = str(error.value)
    assert "a.json" in text and "b.json" in text
    with pytest.raises(FileNotFoundError):
        load_models(directory / "missing")
