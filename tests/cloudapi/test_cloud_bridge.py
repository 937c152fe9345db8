"""The MQTT -> "IoT rule" -> Kinesis-batch bridge, against a real Mosquitto broker."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cloudapi.test_cloud_telemetry import _telemetry_envelope
from tests.support.mosquitto import Mosquitto, mosquitto_available
from tests.support.mqtt_publish import publish_messages as _publish
from wardlink.localcloud import LocalCloud
from wardlink.localcloud.bridge import KinesisFeed, MqttBridge, apply_topic_rule, audit_event
from wardlink.localcloud.invoker import LambdaInvoker
from wardlink.localcloud.routes import TELEMETRY_WRITER_HANDLER


def test_topic_rule_takes_the_gateway_from_the_topic() -> None:
    out = apply_topic_rule("wardlink/v1/gw-real/telemetry", b'{"gateway_id":"gw-spoofed","x":1}')
    assert out is not None
    assert out.partition_key == "gw-real"
    assert json.loads(out.data) == {"gateway_id": "gw-real", "x": 1}
    assert apply_topic_rule("wardlink/v1/gw/telemetry", b"\x00raw").data == b"\x00raw"  # type: ignore[union-attr]
    assert apply_topic_rule("other/v1/gw/telemetry", b"{}") is None


def test_audit_copies_go_to_the_audit_rule_not_the_stream() -> None:
    payload = b'{"time":"t","user":"tech","action":"sign-in","outcome":"success","note":"x"}'
    assert apply_topic_rule("wardlink/v1/gw-1/audit", payload) is None
    assert audit_event("wardlink/v1/gw-1/audit", payload) == {
        "time": "t", "user": "tech", "action": "sign-in", "outcome": "success",
        "gateway_id": "gw-1",
    }  # fmt: skip
    assert audit_event("wardlink/v1/gw-1/telemetry", payload) is None


def test_broker_messages_reach_the_writer_and_other_consumers(
    tmp_path: Path, local_cloud: LocalCloud, unique: str
) -> None:
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed")
    broker = Mosquitto(tmp_path / "mqtt", tls=False)
    broker.start()
    feed = KinesisFeed(linger_s=0.05)
    seen: list[dict[str, Any]] = []
    invoker = LambdaInvoker(local_cloud.region, "000000000000")
    feed.add_consumer("writer", lambda event: invoker.invoke(TELEMETRY_WRITER_HANDLER, event))
    feed.add_consumer("detectors", seen.append)
    feed.add_consumer("broken", lambda event: 1 / 0)  # must not stop the others
    feed.start()
    bridge = MqttBridge(broker.url, feed)
    before = local_cloud.stats().telemetry_records_stored
    try:
        bridge.start()
        gateway = f"gw-{unique}"
        _publish(broker.port, [
            (f"wardlink/v1/{gateway}/telemetry",
             json.dumps(_telemetry_envelope(gateway, 1, 4)).encode()),
            (f"wardlink/v1/{gateway}/telemetry", b"garbage"),
            (f"wardlink/v1/{gateway}/telemetry",
             json.dumps(_telemetry_envelope(gateway, 5, 3)).encode()),
        ])  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(len(e["Records"]) for e in seen) < 3:
            time.sleep(0.05)
    finally:
        bridge.stop()
        feed.stop()
        broker.stop()

    records = [r for event in seen for r in event["Records"]]
    assert len(records) == 3
    assert {r["kinesis"]["partitionKey"] for r in records} == {gateway}
    assert base64.b64decode(records[1]["kinesis"]["data"]) == b"garbage"
    assert bridge.messages_in == 3
    assert feed.consumer_errors >= 1
    assert local_cloud.stats().telemetry_records_stored == before + 7
