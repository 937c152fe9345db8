"""``LocalCloud`` with the detector engine: real envelopes over a real broker become alerts,
and alarms that support reads through the signed API.

Envelopes are built the way a gateway builds them (redaction policy -> spool ->
``Envelope.build(...).render()``), published to Mosquitto, bridged by the local
IoT rule into Kinesis-style batches, and evaluated by the catalog models.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.detectors_aws.envelopes import SPO2, Gateway, assert_no_phi
from tests.localcloud.conftest import WAIT_S, publish
from tests.support.mosquitto import Mosquitto
from wardlink.cli.main import main
from wardlink.cloudclient import WardlinkApiClient
from wardlink.contract.models import Alarm, AlarmState
from wardlink.localcloud import LocalCloud

OFFLINE = "wardlink-device-offline"
FAULT = "wardlink-device-fault"
SITE = "st-mary-icu"


def _register(api: WardlinkApiClient, gateway: Gateway, device_id: str) -> str:
    identity = gateway.device(device_id)
    device = api.register_device(
        gateway_id=gateway.gateway_id,
        device_id=device_id,
        model=identity.model,
        manufacturer=identity.manufacturer,
        firmware_version=identity.firmware_version,
        site_id=SITE,
    )
    return device.device_uid


def _alert_of(model: str, key: str) -> Any:
    return lambda alert: alert["model"] == model and alert["key"] == key


def _active_alarm(api: WardlinkApiClient, alarm_id: str) -> Alarm:
    page = api.list_alarms(AlarmState.ACTIVE, limit=100)
    found = {alarm.alarm_id: alarm for alarm in page.items}
    assert alarm_id in found, f"{alarm_id} not among the ACTIVE alarms {sorted(found)}"
    return found[alarm_id]


@pytest.mark.integration
def test_silent_device_raises_offline_alert_and_active_alarm_joined_with_its_device(
    cloud: LocalCloud, broker: Mosquitto, api: WardlinkApiClient, gateway: Gateway
) -> None:
    uid = _register(api, gateway, "spo2-1")
    before = cloud.stats()
    topic = f"wardlink/v1/{gateway.gateway_id}/telemetry"
    publish(broker.port, [(topic, gateway.telemetry("spo2-1", [(SPO2, 97.0, "%")]))])

    # then the device says nothing more: the shortened heartbeat expires
    alert = cloud.wait_for_alert(_alert_of(OFFLINE, uid), timeout_s=WAIT_S)
    assert alert is not None, f"no offline alert within {WAIT_S} s; got {cloud.alerts()}"
    assert alert["state"] == "Offline"
    assert alert["action"] == "sns"
    assert "device OFFLINE" in alert["message"]
    assert "Nonin 3150" in alert["message"]  # the model the gateway reported
    assert_no_phi(json.dumps(alert))

    # the alarm is written before the alert is announced: no waiting needed
    alarm = _active_alarm(api, f"{OFFLINE}#offline#{uid}")
    assert alarm.device_uid == uid
    assert alarm.severity == 2
    assert alarm.title == "Device offline"
    assert alarm.detector_state == "Offline"
    assert alarm.runbook == "device-offline"
    assert alarm.gateway_id == gateway.gateway_id
    assert alarm.site_id == SITE
    assert alarm.last_alert is not None and "device OFFLINE" in alarm.last_alert
    assert alarm.device is not None
    assert (alarm.device.model, alarm.device.manufacturer) == ("Nonin 3150", "Nonin")
    assert (alarm.device.firmware_version, alarm.device.site_id) == ("2.1.0", SITE)
    assert_no_phi(alarm.model_dump_json())

    history = api.alarm_history(alarm.alarm_id).items
    assert [(h.who, h.to_state) for h in history] == [("system", "ACTIVE")]

    stats = cloud.stats()
    assert stats.alerts_sent > before.alerts_sent
    assert stats.alarm_changes > before.alarm_changes
    assert stats.mqtt_messages > before.mqtt_messages
    assert stats.telemetry_records_stored > before.telemetry_records_stored
    assert stats.detector_errors == 0

    assert cloud.alerts_path is not None
    written = [json.loads(line) for line in cloud.alerts_path.read_text().splitlines()]
    assert alert in written


@pytest.mark.integration
def test_status_with_error_codes_raises_fault_alert_and_alarm(
    cloud: LocalCloud, broker: Mosquitto, api: WardlinkApiClient, gateway: Gateway
) -> None:
    uid = _register(api, gateway, "pump-3")
    topic = f"wardlink/v1/{gateway.gateway_id}/status"
    publish(broker.port, [(topic, gateway.status("pump-3", error_codes=("E13", "E21")))])

    alert = cloud.wait_for_alert(_alert_of(FAULT, uid), timeout_s=WAIT_S)
    assert alert is not None, f"no fault alert within {WAIT_S} s; got {cloud.alerts()}"
    assert alert["state"] == "Faulted"
    assert "device FAULT" in alert["message"]
    assert "E13" in alert["message"]
    assert_no_phi(json.dumps(alert))  # the status detail named the patient

    alarm = _active_alarm(api, f"{FAULT}#fault#{uid}")
    assert alarm.title == "Device fault codes"
    assert alarm.detector_state == "Faulted"
    assert alarm.device is not None and alarm.device.site_id == SITE


@pytest.mark.integration
def test_support_cli_lists_the_local_alarms(
    cloud: LocalCloud,
    broker: Mosquitto,
    api: WardlinkApiClient,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``wardlink support alarms list`` with the environment the local cloud exports."""
    uid = _register(api, gateway, "bp-2")
    publish(
        broker.port,
        [(f"wardlink/v1/{gateway.gateway_id}/status", gateway.status("bp-2", error_codes=("E7",)))],
    )
    assert cloud.wait_for_alert(_alert_of(FAULT, uid), timeout_s=WAIT_S) is not None

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in cloud.environment().items():
        monkeypatch.setenv(name, value)
    code = main(["support", "alarms", "list", "--state", "ACTIVE", "--limit", "100", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    items = {item["alarm_id"]: item for item in json.loads(out)["items"]}
    listed = items[f"{FAULT}#fault#{uid}"]
    assert listed["title"] == "Device fault codes"
    assert listed["device"]["model"] == "Nonin 3150"


@pytest.mark.integration
def test_malformed_messages_do_not_stop_the_detectors(
    cloud: LocalCloud, broker: Mosquitto, api: WardlinkApiClient, gateway: Gateway
) -> None:
    uid = _register(api, gateway, "spo2-9")
    status = f"wardlink/v1/{gateway.gateway_id}/status"
    publish(
        broker.port,
        [
            (status, b"\x00 not json"),
            (status, b'{"schema_version":"wardlink.envelope/1","items":"nope"}'),
            (status, gateway.status("spo2-9", error_codes=("E1",))),
        ],
    )
    assert cloud.wait_for_alert(_alert_of(FAULT, uid), timeout_s=WAIT_S) is not None
    assert cloud.stats().detector_errors == 0
