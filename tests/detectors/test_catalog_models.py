"""The shipped detector models: valid requests, and the behaviour support relies on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.detectors.support import CATALOG, Harness, iso
from wardlink.detectors import DetectorModel
from wardlink.detectors.validation import ShapeValidator, validate_files

MODEL_FILES = sorted(CATALOG.glob("*.json"))
INPUT_FILES = sorted((CATALOG / "inputs").glob("*.json"))
RUNBOOKS = "https://support.wardlink.example/runbooks/"
GW = "gw-1"


def load(name: str) -> DetectorModel:
    return DetectorModel.from_file(CATALOG / f"{name}.json")


def telemetry(
    device: str, code: int, value: float | None, unit: str, seconds: float, **extra: Any
) -> dict[str, Any]:
    item = {
        "device_uid": f"{GW}/{device}",
        "device_id": device,
        "gateway_id": GW,
        "device_model": "Acme Monitor 5",
        "mdc_code": code,
        "mdc_name": f"MDC_{code}",
        "value": value,
        "unit": unit,
        "measured_at": iso(seconds),
        "quality": "valid",
        "patient_ref": "pseudo-7f3a",
        "seq": int(seconds) + 1,
    }
    item.update(extra)
    if value is None:
        del item["value"]
    return item


def status(device: str, seconds: float, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "device_uid": f"{GW}/{device}",
        "device_id": device,
        "gateway_id": GW,
        "device_model": "Acme Pump 2",
        "at": iso(seconds),
        "connectivity": "connected",
        "error_codes": [],
        "seq": int(seconds) + 1,
    }
    item.update(extra)
    return item


def health(seconds: float, depth: int = 0, age: float = 0, gateway: str = GW) -> dict[str, Any]:
    return {
        "gateway_id": gateway,
        "at": iso(seconds),
        "spool_depth": depth,
        "spool_oldest_age_s": age,
        "delivered_per_s": 3.0,
        "evicted_total": 0,
        "connected_devices": 4,
        "uptime_s": 1000 + seconds,
        "seq": int(seconds) + 1,
    }


def messages(h: Harness) -> list[str]:
    texts = h.notes()
    assert all(isinstance(text, str) for text in texts), texts
    return [str(text) for text in texts]


def assert_actionable_without_phi(text: str, runbook: str) -> None:
    assert RUNBOOKS + runbook in text
    assert "pseudo-7f3a" not in text and "patient" not in text.lower()


# -- validity ------------------------------------------------------------------------------------


def test_catalog_has_the_five_models_and_three_inputs() -> None:
    assert [p.name for p in MODEL_FILES] == [
        "battery-low.json",
        "device-fault.json",
        "device-offline.json",
        "gateway-health.json",
        "vital-signs.json",
    ]
    assert [p.name for p in INPUT_FILES] == [
        "WardlinkHealth.json",
        "WardlinkStatus.json",
        "WardlinkTelemetry.json",
    ]


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.stem)
def test_model_is_a_valid_create_detector_model_request(
    path: Path, iotevents_shapes: ShapeValidator
) -> None:
    request = json.loads(path.read_text())
    assert iotevents_shapes.validate_input("CreateDetectorModel", request) == []
    assert request["roleArn"].startswith("arn:aws:iam::123456789012:role/")


@pytest.mark.parametrize("path", INPUT_FILES, ids=lambda p: p.stem)
def test_input_is_a_valid_create_input_request(
    path: Path, iotevents_shapes: ShapeValidator
) -> None:
    request = json.loads(path.read_text())
    assert iotevents_shapes.validate_input("CreateInput", request) == []
    assert path.stem == request["inputName"]


def test_models_only_read_declared_input_attributes(iotevents_shapes: ShapeValidator) -> None:
    reports = validate_files([*MODEL_FILES, *INPUT_FILES], iotevents_shapes)
    assert {r.path: r.problems for r in reports if r.problems} == {}


# -- device offline ------------------------------------------------------------------------------


def test_device_offline_alerts_after_the_heartbeat_and_recovers() -> None:
    h = Harness(load("device-offline"))
    h.send("WardlinkStatus", status("pump-7", 0), 0)
    h.send("WardlinkTelemetry", telemetry("pump-7", 150456, 97, "%", 240), 240)
    h.send("WardlinkStatus", status("pump-7", 250, connectivity="disconnected"), 250)
    assert h.advance(539) == []  # the disconnected status does not reset the heartbeat
    h.advance(540)
    assert h.transitions()[-1] == ("Online", "Offline")
    h.send("WardlinkTelemetry", telemetry("pump-7", 150456, 97, "%", 900), 900)
    assert h.transitions()[-1] == ("Offline", "Online")
    alert, recovery = messages(h)
    assert alert.startswith(
        "Wardlink alert: device OFFLINE. Device pump-7 (model Acme Pump 2) on gateway gw-1"
    )
    assert f"Last seen: {iso(240)}" in alert
    assert "Last reported connectivity: disconnected" in alert
    assert recovery.startswith("Wardlink: device back ONLINE. Device pump-7")
    assert f"silent since {iso(240)}" in recovery
    for text in (alert, recovery):
        assert_actionable_without_phi(text, "device-offline")
    assert [line["time"] for line in h.lines if line["type"] == "action"] == [iso(540), iso(900)]


def test_device_offline_is_per_device() -> None:
    h = Harness(load("device-offline"))
    h.send("WardlinkTelemetry", telemetry("a", 150456, 97, "%", 0), 0)
    h.send("WardlinkTelemetry", telemetry("b", 150456, 97, "%", 0), 0)
    for second in range(60, 600, 60):
        h.send("WardlinkTelemetry", telemetry("b", 150456, 97, "%", second), second)
    h.advance(600)
    assert h.state_of("gw-1/a") == "Offline"
    assert h.state_of("gw-1/b") == "Online"


# -- device fault --------------------------------------------------------------------------------


def test_device_fault_alerts_on_codes_on_changes_and_on_clearing() -> None:
    h = Harness(load("device-fault"))
    h.send("WardlinkStatus", status("pump-7", 0), 0)
    h.send("WardlinkStatus", status("pump-7", 10, error_codes=["E17"]), 10)
    h.send("WardlinkStatus", status("pump-7", 20, error_codes=["E17"]), 20)  # unchanged: quiet
    h.send("WardlinkStatus", status("pump-7", 30, error_codes=["E17", "E42"]), 30)
    h.send(
        "WardlinkStatus", {k: v for k, v in status("pump-7", 35).items() if k != "error_codes"}, 35
    )
    h.send("WardlinkStatus", status("pump-7", 40), 40)
    assert h.transitions() == [(None, "NoFault"), ("NoFault", "Faulted"), ("Faulted", "NoFault")]
    fault, changed, cleared = messages(h)
    assert fault == (
        "Wardlink alert: device FAULT. Device pump-7 (model Acme Pump 2) on gateway gw-1 "
        f'reports error codes ["E17"] since {iso(10)}. Look the codes up in the device manual '
        "before contacting the site. This is a device service alert for support, not a clinical "
        "alarm. Runbook: https://support.wardlink.example/runbooks/device-fault"
    )
    assert 'now reports error codes ["E17","E42"] (was ["E17"])' in changed
    assert f'codes ["E17","E42"] had been reported since {iso(10)}' in cleared
    for text in (fault, changed, cleared):
        assert_actionable_without_phi(text, "device-fault")


# -- battery low ---------------------------------------------------------------------------------


def test_battery_low_has_hysteresis() -> None:
    h = Harness(load("battery-low"))
    levels = [(0, 25), (10, 19.5), (20, 25), (30, 30), (40, 18), (50, 30.5), (60, 22)]
    for second, percent in levels:
        h.send("WardlinkStatus", status("pump-7", second, battery_percent=percent), second)
    h.send("WardlinkStatus", status("pump-7", 70), 70)  # mains powered report: no battery field
    assert h.transitions() == [
        (None, "BatteryOk"),
        ("BatteryOk", "BatteryLow"),
        ("BatteryLow", "BatteryOk"),
    ]
    low, recovered = messages(h)
    assert f"reported 19.5 % battery at {iso(10)} (alert below 20 %, clears above 30 %)" in low
    assert f"reported 30.5 % at {iso(50)}; it had been low since {iso(10)}" in recovered
    for text in (low, recovered):
        assert_actionable_without_phi(text, "battery-low")


# -- gateway health ------------------------------------------------------------------------------


def test_gateway_backlog_offline_and_recovery() -> None:
    h = Harness(load("gateway-health"))
    h.send("WardlinkHealth", health(0), 0)
    h.send("WardlinkHealth", health(60, depth=4999, age=899), 60)
    h.send("WardlinkHealth", health(120, depth=5000, age=30), 120)  # backlog by depth
    h.send("WardlinkHealth", health(180, depth=800, age=100), 180)  # not drained yet (hysteresis)
    h.send("WardlinkHealth", health(240, depth=499, age=119), 240)  # drained
    h.advance(539)
    assert h.state_of(GW) == "Healthy"
    h.advance(540)  # 300 s after the last health message
    assert h.state_of(GW) == "Offline"
    h.send("WardlinkHealth", health(1000, depth=20000, age=1200), 1000)  # back, with a backlog
    assert h.state_of(GW) == "Backlog"
    h.send("WardlinkHealth", health(1060, depth=10, age=1), 1060)
    h.advance(1200)
    assert h.transitions() == [
        (None, "Healthy"),
        ("Healthy", "Backlog"),
        ("Backlog", "Healthy"),
        ("Healthy", "Offline"),
        ("Offline", "Backlog"),
        ("Backlog", "Healthy"),
    ]
    texts = messages(h)
    assert [t.split(".")[0] for t in texts] == [
        "Wardlink alert: gateway SPOOL BACKLOG",
        "Wardlink: gateway spool backlog CLEARED",
        "Wardlink alert: gateway OFFLINE",
        "Wardlink: gateway back ONLINE",
        "Wardlink alert: gateway SPOOL BACKLOG",
        "Wardlink: gateway spool backlog CLEARED",
    ]
    assert f"Last seen: {iso(240)}, with 4 connected devices" in texts[2]
    assert "holds 20000 spooled records, the oldest 1200 s old" in texts[4]
    for text in texts:
        assert "Gateway gw-1" in text
    assert_actionable_without_phi(texts[0], "spool-backlog")
    assert_actionable_without_phi(texts[2], "gateway-offline")


def test_gateway_backlog_by_age() -> None:
    h = Harness(load("gateway-health"))
    h.send("WardlinkHealth", health(0, depth=10, age=900), 0)
    assert h.state_of(GW) == "Backlog"


# -- vital signs ---------------------------------------------------------------------------------

VITAL_CASES = [
    # (metric, code, unit, value, expected state)
    *[("HR", code, "/min", v, s) for code in (147842, 149530) for v, s in [
        (50, "Normal"), (120, "Normal"), (49.9, "Warning"), (120.1, "Warning"),
        (40, "Warning"), (150, "Warning"), (39.9, "Critical"), (150.1, "Critical"),
    ]],
    *[("SpO2", 150456, "%", v, s) for v, s in [
        (92, "Normal"), (100, "Normal"), (91.9, "Warning"), (88, "Warning"), (87.9, "Critical"),
    ]],
    *[("SYS", 150021, "mm[Hg]", v, s) for v, s in [
        (90, "Normal"), (140, "Normal"), (89, "Warning"), (141, "Warning"), (80, "Warning"),
        (180, "Warning"), (79, "Critical"), (181, "Critical"),
    ]],
    *[("DIA", 150022, "mm[Hg]", v, s) for v, s in [
        (60, "Normal"), (90, "Normal"), (59, "Warning"), (91, "Warning"), (50, "Warning"),
        (120, "Warning"), (49, "Critical"), (121, "Critical"),
    ]],
    *[("TEMP", 150364, "Cel", v, s) for v, s in [
        (36.1, "Normal"), (37.8, "Normal"), (36.0, "Warning"), (37.9, "Warning"), (35.0, "Warning"),
        (39.5, "Warning"), (34.9, "Critical"), (39.6, "Critical"),
    ]],
    *[("RR", 151562, "/min", v, s) for v, s in [
        (12, "Normal"), (20, "Normal"), (11, "Warning"), (21, "Warning"), (8, "Warning"),
        (30, "Warning"), (7, "Critical"), (31, "Critical"),
    ]],
]  # fmt: skip


def test_vital_sign_thresholds_at_every_boundary() -> None:
    h = Harness(load("vital-signs"))
    for index, (_, code, unit, value, _) in enumerate(VITAL_CASES):
        h.send("WardlinkTelemetry", telemetry(f"dev-{index}", code, value, unit, index), index)
    got = [
        (metric, code, value, h.state_of(f"{GW}/dev-{index}"))
        for index, (metric, code, _, value, _) in enumerate(VITAL_CASES)
    ]
    expected = [(metric, code, value, state) for metric, code, _, value, state in VITAL_CASES]
    assert got == expected


@pytest.mark.parametrize(
    "reading",
    [
        {"quality": "questionable"},
        {"quality": "invalid"},
        {"value": None},
        {"unit": "[degF]"},  # temperature in Fahrenheit: the Celsius limits do not apply
        {"mdc_code": 150488},  # perfusion index: not monitored
    ],
)
def test_readings_that_cannot_be_judged_are_ignored(reading: dict[str, Any]) -> None:
    h = Harness(load("vital-signs"))
    item = telemetry("dev", 150364, 20.0, "Cel", 0)
    item.update(reading)
    if reading.get("value", 0) is None:
        del item["value"]
    h.send("WardlinkTelemetry", item, 0)
    assert h.state_of(f"{GW}/dev") == "Normal"
    assert h.notes() == []


def test_vital_signs_state_is_the_worst_metric_level() -> None:
    h = Harness(load("vital-signs"))
    h.send("WardlinkTelemetry", telemetry("mon", 150456, 97, "%", 0), 0)
    h.send("WardlinkTelemetry", telemetry("mon", 149530, 130, "/min", 10), 10)  # HR warning
    h.send("WardlinkTelemetry", telemetry("mon", 150456, 85, "%", 20), 20)  # SpO2 critical
    h.send(
        "WardlinkTelemetry", telemetry("mon", 149530, 80, "/min", 30), 30
    )  # HR normal: SpO2 still critical
    h.send("WardlinkTelemetry", telemetry("mon", 150456, 90, "%", 40), 40)  # SpO2 warning
    h.send("WardlinkTelemetry", telemetry("mon", 150456, 96, "%", 50), 50)  # all normal
    h.advance(110)  # ... and they stay so for the recovery timer (60 s)
    assert h.transitions() == [
        (None, "Normal"),
        ("Normal", "Warning"),
        ("Warning", "Critical"),
        ("Critical", "Warning"),
        ("Warning", "Normal"),
    ]
    warning, critical, improved, cleared = messages(h)
    assert warning.startswith(
        "Wardlink vital-sign alert: WARNING. Device mon (model Acme Monitor 5) on gateway gw-1: "
        "heart rate outside warning limits (HR <50 or >120 /min warning, <40 or >150 /min critical)"
    )
    assert f"at {iso(10)}; outside normal limits since {iso(10)}" in warning
    assert "SpO2 outside critical limits (SpO2 <92 % warning, <88 % critical)" in critical
    assert f"at {iso(20)}; outside normal limits since {iso(10)}" in critical
    assert "improved from CRITICAL" in improved
    assert f"within normal limits for 60 s, since {iso(50)} (outside since {iso(10)})" in cleared
    for text in (warning, critical, improved, cleared):
        assert_actionable_without_phi(text, "vital-signs")
        assert "85" not in text and "130" not in text  # no measured values in alerts


def test_vital_signs_clear_only_after_staying_in_range_for_the_recovery_timer() -> None:
    """A reading hovering at a limit (out, in, out within seconds) is one episode, not three."""
    h = Harness(load("vital-signs"))
    h.send("WardlinkTelemetry", telemetry("mon", 150456, 97, "%", 0), 0)
    for second, spo2 in ((10, 90), (12, 93), (14, 91), (16, 94), (18, 90), (20, 95)):
        h.send("WardlinkTelemetry", telemetry("mon", 150456, spo2, "%", second), second)
    h.advance(79)  # 59 s in range since the last excursion: still the same episode
    assert h.transitions() == [(None, "Normal"), ("Normal", "Warning")]
    h.advance(81)  # 61 s in range: cleared, once
    assert h.transitions()[-1] == ("Warning", "Normal")
    warning, cleared = messages(h)
    assert "WARNING" in warning and "for 60 s" in cleared


def test_no_patient_reference_reaches_any_output() -> None:
    h = Harness(*(load(p.stem) for p in MODEL_FILES))
    h.send("WardlinkTelemetry", telemetry("mon", 150456, 80, "%", 0), 0)
    h.send("WardlinkStatus", status("mon", 10, error_codes=["E1"], battery_percent=5), 10)
    h.send("WardlinkHealth", health(20, depth=99999), 20)
    h.advance(3600)
    assert len(h.notes()) >= 6
    assert "pseudo-7f3a" not in json.dumps(h.lines)
