"""``LocalDetectors``: the engine on bridged envelopes with real-time timers and local alerts.

The offline test uses a copy of the shipped device-offline model whose heartbeat is
1 s instead of 300 s (the shipped file is never patched), so a device that stops
reporting raises its alert after a second of real time.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.detectors_aws.conftest import CATALOG_DIR, Tables, register_device
from tests.detectors_aws.envelopes import PULSE, SPO2, Gateway, assert_no_phi, kinesis_event
from tests.support.mosquitto import Mosquitto, mosquitto_available
from tests.support.mqtt_publish import publish_messages as _publish
from wardlink.detectors.aws.alarm_store import AlarmRecorder
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.local_runner import (
    LocalAlert,
    LocalAlertSink,
    LocalDetectors,
    load_models_with_timers,
)
from wardlink.localcloud.bridge import KinesisFeed, MqttBridge

OFFLINE = "wardlink-device-offline"
FAULT = "wardlink-device-fault"
WAIT_S = 20.0


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """The fault model as shipped, and the offline model with a 1 s heartbeat."""
    directory = tmp_path / "models"
    directory.mkdir()
    shutil.copy(CATALOG_DIR / "device-fault.json", directory)
    request = json.loads((CATALOG_DIR / "device-offline.json").read_text())
    online = request["detectorModelDefinition"]["states"][0]
    timer = online["onEnter"]["events"][1]["actions"][0]["setTimer"]
    assert timer == {"timerName": "heartbeat", "durationExpression": "300"}
    timer["durationExpression"] = "1"
    (directory / "device-offline.json").write_text(json.dumps(request))
    return directory


class Waiter:
    """Thread-safe: wait until an alert matching a predicate has been recorded."""

    def __init__(self) -> None:
        self.alerts: list[LocalAlert] = []
        self._cond = threading.Condition()

    def __call__(self, alert: LocalAlert) -> None:
        with self._cond:
            self.alerts.append(alert)
            self._cond.notify_all()

    def wait_for(self, text: str, timeout_s: float = WAIT_S) -> LocalAlert:
        with self._cond:
            found = self._cond.wait_for(
                lambda: any(text in a.message for a in self.alerts), timeout_s
            )
            assert found, f"no alert containing {text!r}; got {[a.message for a in self.alerts]}"
            return next(a for a in self.alerts if text in a.message)


async def test_silent_device_raises_offline_after_the_timeout(
    models_dir: Path, gateway: Gateway, tmp_path: Path
) -> None:
    printed = io.StringIO()
    offline = asyncio.Event()
    sink = LocalAlertSink(
        tmp_path / "alerts.jsonl",
        printed,
        on_alert=lambda alert: offline.set() if "OFFLINE" in alert.message else None,
    )
    key = f"{gateway.gateway_id}/pulse-1"
    async with LocalDetectors(models_dir, sink) as runner:
        for value in (97.0, 96.0, 98.0):
            report = await runner.ingest(gateway.telemetry("pulse-1", [(SPO2, value, "%")]))
            assert report.evaluations == 1  # the fault model does not use telemetry
        assert runner.state_of(OFFLINE, key) == "Online"
        fed_until = max(a.at for a in sink.alerts) if sink.alerts else ""
        await asyncio.wait_for(offline.wait(), WAIT_S)  # now stop feeding and wait
        assert runner.state_of(OFFLINE, key) == "Offline"

    (alert,) = sink.of_model(OFFLINE)
    assert alert.action == "sns" and alert.state == "Offline" and alert.at > fed_until
    assert alert.message.startswith(
        f"Wardlink alert: device OFFLINE. Device pulse-1 (model "
        f"Nonin 3150) on gateway {gateway.gateway_id}"
    )
    assert_no_phi(alert.message)
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["action_execution_id"] for line in lines] == [
        alert.action_execution_id
    ]
    assert "[sns]" in printed.getvalue() and "device OFFLINE" in printed.getvalue()


async def test_fault_status_alerts_immediately(models_dir: Path, gateway: Gateway) -> None:
    sink = LocalAlertSink(stream=io.StringIO())
    async with LocalDetectors(models_dir, sink) as runner:
        await runner.ingest(gateway.status("pulse-1", error_codes=("E42",)))
        (alert,) = sink.of_model(FAULT)
        assert "device FAULT" in alert.message and '["E42"]' in alert.message
        assert_no_phi(alert.message)
        await runner.ingest(b"not an envelope")  # logged and counted, never fatal
        assert runner.stats.malformed == 1


def test_demo_models_with_short_timers_leave_the_files_alone() -> None:
    before = (CATALOG_DIR / "device-offline.json").read_bytes()
    models = {m.name: m for m in load_models_with_timers(CATALOG_DIR, {"heartbeat": 5})}
    assert set(models) >= {OFFLINE, "wardlink-gateway-health", FAULT}
    assert (CATALOG_DIR / "device-offline.json").read_bytes() == before
    with pytest.raises(ValueError, match="1 second"):
        load_models_with_timers(CATALOG_DIR, {"heartbeat": 0})


async def test_short_heartbeat_from_the_demo_loader(gateway: Gateway) -> None:
    offline = asyncio.Event()
    sink = LocalAlertSink(
        stream=io.StringIO(),
        on_alert=lambda alert: offline.set() if "OFFLINE" in alert.message else None,
    )
    models = load_models_with_timers(CATALOG_DIR, {"heartbeat": 1})
    async with LocalDetectors(None, sink, models=models) as runner:
        await runner.ingest(gateway.status("pulse-1"))
        await asyncio.wait_for(offline.wait(), WAIT_S)
    (alert,) = sink.of_model(OFFLINE)
    assert "no connected status for 1 s." in alert.message  # the timer that ran, not 300 s


def test_threaded_host_with_alarm_rows_in_dynamodb_local(
    models_dir: Path, gateway: Gateway, ddb: Any, tables: Tables
) -> None:
    """What ``wardlink cloud local`` attaches: a Kinesis consumer, alarms in DynamoDB Local."""
    register_device(ddb, tables, gateway.gateway_id, "pulse-1")
    recorder = AlarmRecorder(
        ddb,
        tables.alarms,
        tables.alarm_audit,
        directory=RegistryDirectory(ddb, tables.devices, tables.gateways),
    )
    waiter = Waiter()
    runner = LocalDetectors(
        models_dir,
        LocalAlertSink(stream=io.StringIO(), on_alert=waiter),
        on_evaluated=lambda evaluated: recorder.record(evaluated.model, evaluated.outcome),
    ).start_in_thread()
    try:
        event = kinesis_event(gateway.telemetry("pulse-1", [(PULSE, 70.0, "/min")]))
        assert runner.kinesis_consumer(event) == {"batchItemFailures": []}
        waiter.wait_for("device OFFLINE")
    finally:
        runner.stop()
    alarm_id = f"{OFFLINE}#offline#{gateway.gateway_id}/pulse-1"
    row = recorder.get_row(alarm_id)
    assert row is not None and row["state"] == "ACTIVE" and row["firmware_version"] == "2.1.0"


@pytest.mark.integration
def test_broker_to_alerts_through_the_local_bridge(
    models_dir: Path, gateway: Gateway, tmp_path: Path
) -> None:
    """Mosquitto -> MqttBridge (the IoT rule) -> KinesisFeed -> LocalDetectors -> alerts."""
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed")
    broker = Mosquitto(tmp_path / "mqtt", tls=False)
    broker.start()
    waiter = Waiter()
    runner = LocalDetectors(models_dir, LocalAlertSink(stream=io.StringIO(), on_alert=waiter))
    runner.start_in_thread()
    feed = KinesisFeed(linger_s=0.05)
    feed.add_consumer("detectors", runner.kinesis_consumer)
    feed.start()
    bridge = MqttBridge(broker.url, feed)
    try:
        bridge.start()
        gw = gateway.gateway_id
        _publish(
            broker.port,
            [
                (f"wardlink/v1/{gw}/telemetry", gateway.telemetry("pulse-1", [(SPO2, 97.0, "%")])),
                (f"wardlink/v1/{gw}/status", gateway.status("pulse-1", error_codes=("E13",))),
            ],
        )
        fault = waiter.wait_for("device FAULT")
        offline = waiter.wait_for("device OFFLINE")  # the simulated device said nothing more
        assert fault.key == offline.key == f"{gw}/pulse-1"
    finally:
        bridge.stop()
        feed.stop()
        runner.stop()
        broker.stop()
