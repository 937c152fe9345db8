"""A gateway stopping on purpose: the offline detectors hold their alerts, within a limit.

Finding: every gateway restart or deployment raised an OFFLINE alert for every
device. The device models are keyed per device and fed only by device data, so a
gateway that stops (on purpose or not) looks to each of them like its own device
lost, as soon as the restart outlasts the heartbeat timer.

These tests replay what a gateway really sends: records from the real redaction
policy and the real spool (so ``seq`` is the gateway's own numbering), sent in the
publisher's order (most urgent class first), rendered as envelopes and flattened by
the ingest that the engine Lambda and the local cloud use, then evaluated by the
shipped catalog models on a virtual clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.detectors.support import CATALOG, Harness
from tests.detectors_aws.envelopes import PATIENT, SPO2, Gateway, assert_no_phi
from wardlink.detectors import DetectorModel
from wardlink.detectors.aws.alarm_bindings import AlarmCatalog
from wardlink.detectors.ingest import flatten_envelope
from wardlink.model import Envelope, Observation, RecordKind
from wardlink.model.health import GatewayHealth, GatewayState
from wardlink.model.observation import Quality

GW = "gw-maint-1"
DEVICES = ("bed-1-spo2", "bed-2-spo2", "bed-3-monitor")
HEARTBEAT_S = 300  # the shipped models' timers
MAINTENANCE_S = 900
OFFLINE = "wardlink-device-offline"
GATEWAY = "wardlink-gateway-health"


def uid(device: str) -> str:
    return f"{GW}/{device}"


class Site:
    """A gateway's spool and publisher order, feeding the catalog models."""

    def __init__(self, spool_dir: Path, harness: Harness) -> None:
        self.gateway = Gateway(spool_dir, GW)
        self.spool = self.gateway.spool
        self.h = harness

    # -- what the gateway's components write ------------------------------------------

    def telemetry(self, *devices: str) -> None:
        for device in devices:
            observation = Observation(
                device_id=device,
                metric=SPO2,
                value=97.0,
                unit="%",
                measured_at=datetime.now(UTC),
                quality=Quality.VALID,
            )
            sealed = self.gateway.policy.redact_observations(
                [observation], self.gateway.device(device), PATIENT
            )
            self.spool.append_sealed(sealed, RecordKind.TELEMETRY)

    def health(
        self, state: GatewayState = GatewayState.RUNNING, devices: tuple[str, ...] = ()
    ) -> int:
        """A health item as the Uplink's heartbeat spools it; returns its seq."""
        appended = self.spool.append_health(
            GatewayHealth(
                gateway_id=GW,
                at=datetime.now(UTC),
                uptime_s=10,
                spool_depth=0,
                spool_bytes=0,
                spool_oldest_age_s=0,
                delivered_total=0,
                delivered_per_s=0,
                evicted_total=0,
                expired_total=0,
                dropped_total=0,
                quarantined_total=0,
                connected_devices=len(devices),
                uplink_connected=True,
                last_seq=0,
                state=state,
                maintenance_devices=devices,
            )
        )
        assert appended.last_seq is not None
        return appended.last_seq

    def maintenance(self, devices: tuple[str, ...] = DEVICES) -> int:
        return self.health(GatewayState.MAINTENANCE, devices)

    # -- what the publisher sends, and the cloud evaluates ----------------------------

    def publish(self, seconds: float) -> list[str]:
        """Send everything spooled, one envelope per read as the publisher does (most
        urgent class first), each evaluated at ``seconds``; returns the envelope kinds."""
        kinds = []
        while records := self.spool.read():
            payload = Envelope.build(GW, records[0].kind, records).render()
            self.spool.ack(r.seq for r in records)
            flat = flatten_envelope(payload)
            assert flat.problems == ()
            for message in flat.messages:
                self.h.send(message.input_name, message.payload, seconds, message.message_id)
            kinds.append(flat.kind)
        return kinds

    def running(self, seconds: float, devices: tuple[str, ...] = DEVICES) -> None:
        """A normal minute of the gateway: a running health item and data from ``devices``."""
        self.health()
        self.telemetry(*devices)
        self.publish(seconds)

    # -- what support sees ------------------------------------------------------------

    def alerts(self, model: str | None = None) -> list[str]:
        return [
            str(line["payload"])
            for line in self.h.lines
            if line["type"] == "action" and (model is None or line["model"] == model)
        ]

    def state(self, device: str) -> str:
        return self.h.state_of(uid(device), OFFLINE)

    def gateway_state(self) -> str:
        return self.h.state_of(GW, GATEWAY)


def catalog() -> list[DetectorModel]:
    """Every shipped model: the maintenance messages must not disturb the others."""
    return [DetectorModel.from_file(path) for path in sorted(CATALOG.glob("*.json"))]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path, Harness(*catalog()))
    try:
        yield s
    finally:
        s.gateway.close()


def device_offline_alerts(site: Site) -> list[str]:
    return [a for a in site.alerts(OFFLINE) if "device OFFLINE" in a]


# -- the finding, and a crash: unchanged ---------------------------------------------------------


def test_a_stop_without_notice_longer_than_the_heartbeat_alerts_for_every_device(
    site: Site,
) -> None:
    """The alert storm as it was: what any stop looked like, and what a crash still does."""
    site.running(0)
    site.h.advance(HEARTBEAT_S - 1)
    assert site.alerts() == []
    site.h.advance(HEARTBEAT_S)
    assert len(device_offline_alerts(site)) == len(DEVICES)
    assert [site.state(d) for d in DEVICES] == ["Offline"] * len(DEVICES)
    assert site.gateway_state() == "Offline"
    site.running(HEARTBEAT_S + 120)  # back after a 7-minute restart: a recovery per device
    recoveries = [a for a in site.alerts(OFFLINE) if "back ONLINE" in a]
    assert len(recoveries) == len(DEVICES)


# -- a graceful restart ------------------------------------------------------------------------


def test_a_graceful_restart_longer_than_the_heartbeat_raises_no_offline_alert(
    site: Site,
) -> None:
    site.running(0)
    site.maintenance()  # the Uplink stops: its last health item names the devices
    assert site.publish(1) == ["health"]
    assert [site.state(d) for d in DEVICES] == ["Maintenance"] * len(DEVICES)
    site.h.advance(HEARTBEAT_S + 60)  # both heartbeats expire while the gateway is away
    back = HEARTBEAT_S + 300  # 10 minutes later it is back
    site.running(back)
    assert site.alerts() == []
    assert [site.state(d) for d in DEVICES] == ["Online"] * len(DEVICES)
    assert site.gateway_state() == "Healthy"
    site.h.advance(back + MAINTENANCE_S)  # the maintenance timers were cleared
    assert site.alerts(GATEWAY) != []  # ... and the heartbeats run again: silence alerts
    assert len(device_offline_alerts(site)) == len(DEVICES)
    assert all("after gateway maintenance" not in a for a in site.alerts())


def test_data_spooled_before_the_notice_does_not_end_the_hold(site: Site) -> None:
    """The publisher sends health before telemetry, so telemetry written before the notice
    reaches the cloud after it; only data numbered after the notice ends the hold."""
    site.running(0)
    site.telemetry(*DEVICES)  # still in the spool when the Uplink stops
    notice = site.maintenance()
    assert site.publish(5) == ["health", "telemetry"]
    assert [site.state(d) for d in DEVICES] == ["Maintenance"] * len(DEVICES)
    instance = site.h.instance(uid(DEVICES[0]), OFFLINE)
    assert instance.variables["maintenance_seq"] == notice
    site.h.advance(5 + MAINTENANCE_S - 1)
    assert site.alerts() == []
    site.running(5 + MAINTENANCE_S - 1)
    assert site.alerts() == []
    assert [site.state(d) for d in DEVICES] == ["Online"] * len(DEVICES)


def test_the_proxy_restarting_alone_is_held_while_the_uplink_keeps_beating(site: Site) -> None:
    """DeviceProxy redeployed, Uplink running: running health items keep coming, the
    devices say nothing until the proxy is back."""
    site.running(0)
    site.maintenance()
    site.publish(2)
    for minute in range(1, 11):
        site.health()
        site.publish(minute * 60)
    assert site.gateway_state() == "Healthy"
    site.running(11 * 60)
    assert site.alerts() == []
    assert [site.state(d) for d in DEVICES] == ["Online"] * len(DEVICES)


# -- fail closed -----------------------------------------------------------------------------------


def test_a_gateway_that_never_comes_back_alerts_after_the_maintenance_timer(site: Site) -> None:
    site.running(0)
    site.maintenance()
    site.publish(1)
    site.h.advance(1 + MAINTENANCE_S - 1)
    assert site.alerts() == []
    site.h.advance(1 + MAINTENANCE_S)
    device_alerts = device_offline_alerts(site)
    assert len(device_alerts) == len(DEVICES)
    assert [site.state(d) for d in DEVICES] == ["Offline"] * len(DEVICES)
    for text in device_alerts:
        assert text.startswith("Wardlink alert: device OFFLINE after gateway maintenance.")
        assert f"on gateway {GW}" in text
        assert "in the 900 s since its gateway announced maintenance at" in text
        assert "Runbook: https://support.wardlink.example/runbooks/device-offline" in text
        assert_no_phi(text)
    (gateway_alert,) = site.alerts(GATEWAY)
    assert gateway_alert.startswith("Wardlink alert: gateway OFFLINE after maintenance.")
    assert site.gateway_state() == "Offline"
    # the alarms support triages are the usual ones
    alarms = AlarmCatalog()
    assert alarms.breached(OFFLINE, uid(DEVICES[0]), "Offline") != []
    assert alarms.breached(OFFLINE, uid(DEVICES[0]), "Maintenance") == []
    # and when it does come back, each device recovers as after any outage
    site.running(2000)
    assert sum("back ONLINE" in a for a in site.alerts(OFFLINE)) == len(DEVICES)
    assert site.gateway_state() == "Healthy"
    assert site.h.instance(GW, GATEWAY).variables["maintenance"] == "none"


def test_a_device_missing_from_the_notice_alerts_after_the_heartbeat(site: Site) -> None:
    """The Uplink names the devices the proxy announced; one it did not know is not held."""
    site.running(0)
    site.maintenance(DEVICES[:2])
    site.publish(1)
    site.h.advance(HEARTBEAT_S)
    assert device_offline_alerts(site) != []
    assert [site.state(d) for d in DEVICES] == ["Maintenance", "Maintenance", "Offline"]


def test_another_notice_does_not_extend_a_device_hold(site: Site) -> None:
    """A gateway that keeps restarting is heard from each time; its silent devices are not:
    their hold runs from the first notice."""
    site.running(0)
    site.maintenance()
    site.publish(1)
    for minute in (5, 10, 14):
        site.health()
        site.maintenance()
        site.publish(minute * 60)
    site.h.advance(1 + MAINTENANCE_S)
    assert len(device_offline_alerts(site)) == len(DEVICES)
    assert site.alerts(GATEWAY) == []  # the gateway itself was heard from 14 minutes in


def test_a_notice_for_a_device_already_offline_changes_nothing(site: Site) -> None:
    site.running(0)
    site.running(HEARTBEAT_S - 10, devices=DEVICES[:2])
    site.h.advance(HEARTBEAT_S)
    assert site.state(DEVICES[2]) == "Offline"
    before = list(site.alerts())
    site.maintenance()
    site.publish(HEARTBEAT_S + 5)
    assert site.state(DEVICES[2]) == "Offline"
    site.running(HEARTBEAT_S + 400)
    assert site.alerts()[: len(before)] == before
    assert [a for a in site.alerts()[len(before) :] if "OFFLINE" in a] == []


def test_maintenance_messages_leave_the_other_device_models_alone(site: Site) -> None:
    site.running(0)
    site.maintenance()
    site.publish(1)
    site.running(700)
    lines = [line for line in site.h.lines if line.get("model") not in (OFFLINE, GATEWAY)]
    assert [line for line in lines if line["type"] == "action"] == []
    for device in DEVICES:
        assert site.h.state_of(uid(device), "wardlink-device-fault") == "NoFault"
        assert site.h.state_of(uid(device), "wardlink-battery-low") == "BatteryOk"


# -- the flattening ------------------------------------------------------------------------------


def _health_envelope(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": "wardlink.envelope/1",
        "gateway_id": GW,
        "batch_id": "b1",
        "kind": "health",
        "items": items,
    }


def test_a_maintenance_item_becomes_one_status_message_per_named_device() -> None:
    item = {
        "seq": 41,
        "at": "2026-11-21T10:00:00Z",
        "state": "maintenance",
        "maintenance_devices": ["a", "b", "a", "not a device/id"],
    }
    flat = flatten_envelope(_health_envelope([item]))
    assert [(m.input_name, m.message_id) for m in flat.messages] == [
        ("WardlinkHealth", f"{GW}/health/41"),
        ("WardlinkStatus", f"{GW}/health/41/a"),
        ("WardlinkStatus", f"{GW}/health/41/b"),
    ]
    assert flat.messages[1].payload == {
        "device_uid": f"{GW}/a",
        "device_id": "a",
        "gateway_id": GW,
        "at": "2026-11-21T10:00:00Z",
        "connectivity": "maintenance",
        "seq": 41,
    }
    assert [p.reason for p in flat.problems] == [
        "maintenance device 'not a device/id' is not a device id"
    ]


def test_running_items_and_items_from_older_gateways_hold_nothing() -> None:
    items = [
        {"seq": 1, "at": "2026-11-21T10:00:00Z"},
        {"seq": 2, "at": "2026-11-21T10:01:00Z", "state": "running", "maintenance_devices": []},
    ]
    flat = flatten_envelope(_health_envelope(items))
    assert [m.input_name for m in flat.messages] == ["WardlinkHealth", "WardlinkHealth"]
    assert flat.problems == ()


def test_a_maintenance_item_without_seq_holds_nothing() -> None:
    item = {"at": "2026-11-21T10:00:00Z", "state": "maintenance", "maintenance_devices": ["a"]}
    flat = flatten_envelope(_health_envelope([item]))
    assert [m.input_name for m in flat.messages] == ["WardlinkHealth"]
    assert [p.reason for p in flat.problems] == [
        "a maintenance item without seq cannot hold any device"
    ]


# -- the models --------------------------------------------------------------------------------


def _timer_seconds(model_file: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            timer = node.get("setTimer")
            if isinstance(timer, dict):
                found.setdefault(timer["timerName"], set()).add(timer["durationExpression"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads((CATALOG / model_file).read_text()))
    return found


@pytest.mark.parametrize("model_file", ["device-offline.json", "gateway-health.json"])
def test_the_shipped_hold_is_longer_than_the_heartbeat(model_file: str) -> None:
    timers = _timer_seconds(model_file)
    assert timers == {"heartbeat": {str(HEARTBEAT_S)}, "maintenance": {str(MAINTENANCE_S)}}


def test_instances_stored_before_the_maintenance_variables_existed_still_alert(
    site: Site,
) -> None:
    """Detector state written by the previous model version has no ``maintenance``
    variable; an undefined variable must not silence the ordinary alerts."""
    site.running(0)
    for key, model in [(uid(d), OFFLINE) for d in DEVICES] + [(GW, GATEWAY)]:
        store = site.h.replay.store
        stored = store.get(model, key)
        assert stored is not None
        del stored.instance.variables["maintenance"]
        store.put(model, key, stored.instance, stored.version)
        assert "maintenance" not in site.h.instance(key, model).variables
    site.h.advance(HEARTBEAT_S)
    assert len(device_offline_alerts(site)) == len(DEVICES)
    (gateway_alert,) = site.alerts(GATEWAY)
    assert gateway_alert.startswith("Wardlink alert: gateway OFFLINE. Gateway")
