"""Alarm rows and their audit trail in DynamoDB Local, driven by real engine outcomes.

The rows must also be what the triage API reads and acts on, so the API's own
repository and state adapter (``wardlink.cloudapi``) are used to list and
acknowledge them here.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.detectors_aws.conftest import CATALOG_DIR, Tables, register_device
from wardlink.cloudapi import alarm_states
from wardlink.cloudapi.repositories import AlarmRepository
from wardlink.contract.models import AlarmAction, AlarmState
from wardlink.detectors import DetectorEngine, DetectorModel, InMemoryStateStore, NullSink
from wardlink.detectors.alarms import AlarmPolicy
from wardlink.detectors.aws.alarm_bindings import AlarmCatalog
from wardlink.detectors.aws.alarm_store import AlarmRecorder, plan_alarm_change
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.evaluator import Outcome
from wardlink.detectors.timers import HeapTimerScheduler
from wardlink.detectors.timeutil import parse_iso_ms

T0 = parse_iso_ms("2026-11-21T08:00:00Z")


class OfflineScenario:
    """The shipped device-offline model on an in-memory engine, for real outcomes."""

    def __init__(self, gateway_id: str) -> None:
        self.gw = gateway_id
        self.key = f"{gateway_id}/pulse-1"
        self.model = DetectorModel.from_file(CATALOG_DIR / "device-offline.json")
        self.timers = HeapTimerScheduler()
        self.engine = DetectorEngine(self.model, InMemoryStateStore(), self.timers, NullSink())

    def telemetry(self, at_ms: int) -> Outcome:
        payload = {
            "device_uid": self.key,
            "device_id": "pulse-1",
            "gateway_id": self.gw,
            "device_model": "Nonin 3150",
            "measured_at": "2026-11-21T08:00:00Z",
        }
        outcome = self.engine.handle_message("WardlinkTelemetry", payload, at_ms)
        assert outcome is not None
        return outcome

    def silence(self) -> Outcome:
        due = self.timers.pop_due(10**15)
        assert due is not None
        outcome = self.engine.handle_timer(due[0].key, due[0].name, due[1])
        assert outcome is not None
        return outcome


@pytest.fixture
def recorder(ddb: Any, tables: Tables) -> AlarmRecorder:
    directory = RegistryDirectory(ddb, tables.devices, tables.gateways)
    return AlarmRecorder(ddb, tables.alarms, tables.alarm_audit, directory=directory)


def test_offline_episode_is_persisted_audited_and_joined(
    ddb: Any, tables: Tables, recorder: AlarmRecorder, gw_id: str
) -> None:
    GW, KEY = gw_id, f"{gw_id}/pulse-1"
    register_device(ddb, tables, GW, "pulse-1")
    scenario = OfflineScenario(GW)
    assert recorder.record(scenario.model.name, scenario.telemetry(T0)) == []  # Online: no row
    alarm_id = f"wardlink-device-offline#offline#{KEY}"
    assert recorder.get_row(alarm_id) is None

    writes = recorder.record(scenario.model.name, scenario.silence())
    assert [w.state for w in writes] == ["ACTIVE"]
    row = recorder.get_row(alarm_id)
    assert row is not None
    assert row["state"] == "ACTIVE" and row["severity"] == 2
    assert row["device_uid"] == KEY and row["gateway_id"] == GW
    assert (row["device_model"], row["firmware_version"], row["site_id"]) == (
        "Nonin 3150",
        "2.1.0",
        "st-mary-icu",
    )
    assert "serial_number" not in row and "SN-SECRET" not in str(row)
    assert row["since"] == "2026-11-21T08:05:00.000Z"
    assert "device OFFLINE" in row["last_alert"]

    # the triage API sees it, joined with its device by the API itself
    api = AlarmRepository(ddb, tables.alarms, tables.alarm_audit)
    active, _ = api.list_by_state((AlarmState.ACTIVE,), 100)
    assert alarm_id in [a.alarm_id for a in active]

    # back online: with the acknowledge flow the alarm latches until someone acks
    recorder.record(scenario.model.name, scenario.telemetry(T0 + 400_000))
    row = recorder.get_row(alarm_id)
    assert row is not None and row["state"] == "LATCHED"

    # an operator acknowledges through the API's own code path
    transition = alarm_states.apply_action(
        api.get_row(alarm_id) or {},
        AlarmAction.ACK,
        who="arn:aws:iam::1:user/alice",
        why="site confirmed a cable swap",
        at_ms=T0 + 500_000,
    )
    api.apply(
        api.get_row(alarm_id) or {},
        transition.fields,
        transition.removed,
        "site confirmed a cable swap",
        transition.audit_item,
    )

    history = recorder.history(alarm_id)
    assert [(h["who"], h["action"], h["from_state"], h["to_state"]) for h in history] == [
        ("system", "breach", "NORMAL", "ACTIVE"),
        ("system", "clear", "ACTIVE", "LATCHED"),
        ("arn:aws:iam::1:user/alice", "acknowledge", "LATCHED", "NORMAL"),
    ]
    assert history[0]["why"] == "wardlink-device-offline: Online -> Offline (heartbeatMissed)"
    assert history[1]["why"].startswith("wardlink-device-offline: Offline -> Online")

    # a second episode re-activates the same alarm and keeps the operator's note
    scenario.silence()  # the heartbeat re-armed on recovery; fire it on the engine
    recorder.record(scenario.model.name, scenario.telemetry(T0 + 2_000_000))  # online again
    row = recorder.get_row(alarm_id)
    assert row is not None and row["notes"] == "site confirmed a cable swap"


def test_an_operator_ack_racing_the_engine_is_not_overwritten(
    ddb: Any, tables: Tables, recorder: AlarmRecorder, gw_id: str
) -> None:
    KEY = f"{gw_id}/pulse-1"
    scenario = OfflineScenario(gw_id)
    scenario.telemetry(T0)
    recorder.record(scenario.model.name, scenario.silence())
    alarm_id = f"wardlink-device-offline#offline#{KEY}"
    api = AlarmRepository(ddb, tables.alarms, tables.alarm_audit)

    reads = {"n": 0}
    original = recorder.get_row

    def read_then_operator_acts(wanted: str) -> dict[str, Any] | None:
        row = original(wanted)
        reads["n"] += 1
        if reads["n"] == 1:  # between the engine's read and its write, support acks
            assert row is not None
            t = alarm_states.apply_action(
                row, AlarmAction.ACK, who="arn:aws:iam::1:user/bob", why="on it", at_ms=T0 + 350_000
            )
            api.apply(row, t.fields, t.removed, "on it", t.audit_item)
        return row

    recorder.get_row = read_then_operator_acts  # type: ignore[method-assign,assignment]
    recorder.record(scenario.model.name, scenario.telemetry(T0 + 400_000))  # back online

    assert reads["n"] == 2  # the first plan lost the race and was made again
    history = recorder.history(alarm_id)
    assert [(h["action"], h["from_state"], h["to_state"]) for h in history] == [
        ("breach", "NORMAL", "ACTIVE"),
        ("acknowledge", "ACTIVE", "ACKNOWLEDGED"),
        ("clear", "ACKNOWLEDGED", "NORMAL"),
    ]


def test_gateway_alarm_rows_carry_site_without_a_device(
    ddb: Any, tables: Tables, gw_id: str
) -> None:
    GW = gw_id
    register_device(ddb, tables, GW, "pulse-1")
    directory = RegistryDirectory(ddb, tables.devices, tables.gateways)
    recorder = AlarmRecorder(ddb, tables.alarms, tables.alarm_audit, directory=directory)
    binding = AlarmCatalog().for_model("wardlink-gateway-health")[0]
    write = recorder.sync(binding, GW, "Offline", T0, cause="wardlink-gateway-health: silent")
    assert write is not None
    row = recorder.get_row(f"wardlink-gateway-health#gateway-offline#{GW}")
    assert row is not None
    assert row["severity"] == 1 and row["site_id"] == "st-mary-icu"
    assert "device_uid" not in row  # the API has no device to join


def test_plan_severity_changes_and_snooze_expiry() -> None:
    binding = next(b for b in AlarmCatalog().for_model("wardlink-vital-signs"))
    key = "gw/pulse-1"
    warning = plan_alarm_change(None, binding, key, "Warning", T0, cause="Normal -> Warning")
    assert warning is not None and warning.row["severity"] == 2
    critical = plan_alarm_change(
        warning.row, binding, key, "Critical", T0 + 1000, cause="Warning -> Critical"
    )
    assert critical is not None
    assert (critical.row["state"], critical.row["severity"]) == ("ACTIVE", 1)
    assert [a["action"] for a in critical.audit] == ["severity"]
    assert critical.audit[0]["at_seq"].endswith("#000002")
    assert plan_alarm_change(critical.row, binding, key, "Critical", T0 + 2000, cause="x") is None

    # snoozed: data is ignored until the snooze is over, then the next breach activates
    snoozed = dict(critical.row, state="SNOOZE_DISABLED", snooze_until="2026-11-21T08:10:00.000Z")
    assert plan_alarm_change(snoozed, binding, key, "Critical", T0 + 60_000, cause="x") is None
    after = plan_alarm_change(snoozed, binding, key, "Critical", T0 + 700_000, cause="again")
    assert after is not None
    assert [(a["action"], a["to_state"]) for a in after.audit] == [
        ("snooze_expired", "NORMAL"),
        ("breach", "ACTIVE"),
    ]
    assert "snooze_until" not in after.row
    assert AlarmPolicy().latching  # the policy the API uses too
