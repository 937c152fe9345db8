"""Alarm triage: listing joined with devices, audited actions, history, conflicts.

Alarm rows are written the way the detectors engine writes them (its state
machine's ``to_json`` plus the contract's ``device_uid``), then acted on through
the API, which decides with the same state machine.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from tests.cloudapi.conftest import HandlerCaller
from wardlink.cloudapi.errors import Conflict
from wardlink.cloudapi.repositories import AlarmRepository
from wardlink.cloudapi.repositories.items import to_item
from wardlink.cloudclient import ApiClientError, WardlinkApiClient
from wardlink.contract.models import AlarmAction, AlarmState
from wardlink.detectors import alarms as engine
from wardlink.localcloud import LocalCloud


def _seed_alarm(services: Any, alarm_id: str, device_uid: str, breached: bool = True) -> None:
    now = int(time.time() * 1000) - 60_000
    state = engine.new_alarm(alarm_id, engine.AlarmPolicy(), now, severity=2)
    if breached:
        state = engine.evaluate(state, engine.AlarmPolicy(), True, now + 1000).state
    row = {**state.to_json(), "device_uid": device_uid}
    services.dynamodb.put_item(TableName=services.settings.alarms_table, Item=to_item(row))


def test_ack_is_audited_with_caller_and_note(
    api: WardlinkApiClient, services: Any, local_cloud: LocalCloud, unique: str
) -> None:
    gw = f"gw-{unique}"
    api.register_device(gateway_id=gw, device_id="spo2-1", model="Nonin", site_id="s1")
    alarm_id = f"device_offline#offline#{gw}/spo2-1"
    _seed_alarm(services, alarm_id, f"{gw}/spo2-1")

    listed = [
        a for a in api.list_alarms(AlarmState.ACTIVE, limit=100).items if a.alarm_id == alarm_id
    ]
    assert len(listed) == 1
    assert listed[0].device is not None and listed[0].device.model == "Nonin"

    acked = api.act_on_alarm(alarm_id, AlarmAction.ACK, note="calling the ward")
    assert acked.state is AlarmState.ACKNOWLEDGED
    assert acked.notes == "calling the ward"

    history = api.alarm_history(alarm_id).items
    assert [(h.action, h.from_state, h.to_state) for h in history] == [
        ("acknowledge", "ACTIVE", "ACKNOWLEDGED")
    ]
    last = history[-1]
    assert last.who == api.support_principal.arn  # who: the caller's IAM identity
    assert last.why == "calling the ward"
    assert last.at.startswith(time.strftime("%Y-%m-%d", time.gmtime()))


def test_support_identity_is_recorded_and_refused_transitions_are_409(
    local_cloud: LocalCloud, services: Any, unique: str
) -> None:
    from botocore.credentials import Credentials

    support = local_cloud.add_principal(f"support-{unique}")
    client = WardlinkApiClient(
        local_cloud.endpoint, local_cloud.region,
        Credentials(support.access_key, support.secret_key),
    )  # fmt: skip
    alarm_id = f"battery_low#battery#gw-{unique}/pump-1"
    _seed_alarm(services, alarm_id, f"gw-{unique}/pump-1", breached=False)  # NORMAL

    with pytest.raises(ApiClientError) as refused:
        client.act_on_alarm(alarm_id, AlarmAction.ACK, note="nothing to ack")
    assert (refused.value.status, refused.value.code) == (409, "InvalidAlarmTransition")

    with pytest.raises(ApiClientError) as no_duration:
        client.act_on_alarm(alarm_id, AlarmAction.SNOOZE, note="later")
    assert no_duration.value.status == 400

    snoozed = client.act_on_alarm(
        alarm_id, AlarmAction.SNOOZE, note="maintenance", snooze_seconds=3600
    )
    assert snoozed.state is AlarmState.SNOOZE_DISABLED and snoozed.snooze_until
    disabled = client.act_on_alarm(alarm_id, AlarmAction.DISABLE, note="device retired")
    assert disabled.state is AlarmState.DISABLED and disabled.snooze_until is None
    enabled = client.act_on_alarm(alarm_id, AlarmAction.ENABLE, note="back in service")
    assert enabled.state is AlarmState.NORMAL

    history = client.alarm_history(alarm_id).items
    assert [h.action for h in history] == ["snooze", "disable", "enable"]
    assert {h.who for h in history} == {support.arn}
    assert history == sorted(history, key=lambda h: h.at_seq)


def test_concurrent_change_is_a_conflict_not_a_lost_update(services: Any, unique: str) -> None:
    from wardlink.cloudapi.alarm_states import apply_action

    alarm_id = f"fault#fault#gw-{unique}/vent-1"
    _seed_alarm(services, alarm_id, f"gw-{unique}/vent-1")
    settings = services.settings
    repo = AlarmRepository(services.dynamodb, settings.alarms_table, settings.alarm_audit_table)
    stale = repo.get_row(alarm_id)
    assert stale is not None
    now = int(time.time() * 1000)
    first = apply_action(stale, AlarmAction.ACK, who="a", why="mine", at_ms=now)
    repo.apply(stale, first.fields, first.removed, "mine", first.audit_item)
    second = apply_action(stale, AlarmAction.RESET, who="b", why="theirs", at_ms=now + 5)
    with pytest.raises(Conflict):
        repo.apply(stale, second.fields, second.removed, "theirs", second.audit_item)
    history, _ = repo.history(alarm_id, limit=10)
    assert [h.why for h in history][-1] == "mine"  # the refused action left no audit row


def test_alarm_reads_validate_ids_and_404(call_handler: HandlerCaller, unique: str) -> None:
    missing = quote(f"m#a#gw-{unique}/x", safe="")
    assert call_handler("GET", f"/alarms/{missing}")[0] == 404
    assert call_handler("GET", f"/alarms/{missing}/history")[0] == 404
    assert call_handler("POST", f"/alarms/{missing}/ack", {"note": "x"})[0] == 404
    assert call_handler("GET", "/alarms/no-hashes")[0] == 400
    assert call_handler("POST", f"/alarms/{missing}/explode", {"note": "x"})[0] == 400
    assert call_handler("POST", f"/alarms/{missing}/ack", {"note": ""})[0] == 400
    assert call_handler("GET", "/alarms", query="state=ON_FIRE")[0] == 400
    status, page = call_handler("GET", "/alarms", query="limit=1")
    assert status == 200 and isinstance(page["items"], list)
