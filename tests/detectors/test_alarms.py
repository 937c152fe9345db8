"""The alarm state machine (IoT Events alarm states and responses) and its audit trail."""

from __future__ import annotations

import pytest

from tests.detectors.support import at
from wardlink.detectors.alarms import (
    Alarm,
    AlarmAction,
    AlarmActionError,
    AlarmPolicy,
    AlarmState,
    AlarmStateName,
    AuditEntry,
)

N, A, K, L, S, D = (
    AlarmStateName.NORMAL,
    AlarmStateName.ACTIVE,
    AlarmStateName.ACKNOWLEDGED,
    AlarmStateName.LATCHED,
    AlarmStateName.SNOOZE_DISABLED,
    AlarmStateName.DISABLED,
)
LATCHING = AlarmPolicy(acknowledge_flow=True)
NON_LATCHING = AlarmPolicy(acknowledge_flow=False)


def alarm(policy: AlarmPolicy = LATCHING) -> Alarm:
    return Alarm.create("wardlink-device-offline#offline#gw-1/pump-7", policy, at(0), severity=2)


def respond(
    a: Alarm,
    action: AlarmAction,
    seconds: float,
    *,
    who: str = "alice@support",
    why: str = "on it",
    snooze_seconds: int | None = None,
) -> AuditEntry | None:
    return a.respond(action, who=who, why=why, at_ms=at(seconds), snooze_seconds=snooze_seconds)


def test_latching_alarm_full_cycle() -> None:
    a = alarm()
    assert a.state.state is N
    a.evaluate(True, at(10))
    assert a.state.state is A
    a.evaluate(False, at(20))
    assert a.state.state is L  # back in range but not acknowledged: latched
    a.evaluate(False, at(30))
    assert a.state.state is L
    respond(a, AlarmAction.ACKNOWLEDGE, 40, why="device replaced")
    assert a.state.state is N


def test_acknowledged_alarm_returns_to_normal_when_data_is_back_in_range() -> None:
    a = alarm()
    a.evaluate(True, at(10))
    respond(a, AlarmAction.ACKNOWLEDGE, 15)
    assert a.state.state is K
    a.evaluate(True, at(20))
    assert a.state.state is K  # still breaching, still acknowledged
    a.evaluate(False, at(30))
    assert a.state.state is N


def test_latched_alarm_reactivates_on_a_new_breach() -> None:
    a = alarm()
    a.evaluate(True, at(10))
    a.evaluate(False, at(20))
    a.evaluate(True, at(30))
    assert a.state.state is A


def test_non_latching_alarm_resets_itself() -> None:
    a = alarm(NON_LATCHING)
    a.evaluate(True, at(10))
    assert a.state.state is A
    a.evaluate(False, at(20))
    assert a.state.state is N
    a.evaluate(True, at(30))
    with pytest.raises(AlarmActionError, match="no acknowledge flow"):
        respond(a, AlarmAction.ACKNOWLEDGE, 31)


def test_latching_can_be_chosen_independently_of_the_acknowledge_flow() -> None:
    a = alarm(AlarmPolicy(acknowledge_flow=True, latch=False))
    a.evaluate(True, at(10))
    a.evaluate(False, at(20))
    assert a.state.state is N


def test_snooze_disables_for_a_time_then_normal_then_reactivates_on_data() -> None:
    a = alarm()
    a.evaluate(True, at(10))
    respond(a, AlarmAction.SNOOZE, 20, snooze_seconds=600, why="technician on the way")
    assert a.state.state is S
    assert a.state.snooze_until_ms == at(620)
    a.evaluate(True, at(300))
    assert a.state.state is S  # data is ignored while snoozed
    a.tick(at(619))
    assert a.state.state is S
    a.tick(at(700))
    assert a.state.state is N
    assert a.audit[-1].action is AlarmAction.SNOOZE_EXPIRED
    assert a.audit[-1].at_ms == at(620)  # recorded at the snooze end, not when noticed
    a.evaluate(True, at(710))
    assert a.state.state is A


def test_disable_and_enable() -> None:
    a = alarm()
    a.evaluate(True, at(10))
    respond(a, AlarmAction.DISABLE, 20, why="device decommissioned")
    assert a.state.state is D
    a.evaluate(True, at(30))
    assert a.state.state is D
    respond(a, AlarmAction.ENABLE, 40, why="back in service")
    assert a.state.state is N


def test_disabled_on_initialization() -> None:
    a = alarm(AlarmPolicy(disabled_on_initialization=True))
    assert a.state.state is D
    a.evaluate(True, at(1))
    assert a.state.state is D


@pytest.mark.parametrize("start", [A, K, L, S])
def test_reset_returns_to_normal(start: AlarmStateName) -> None:
    a = alarm()
    a.evaluate(True, at(10))
    if start is K:
        respond(a, AlarmAction.ACKNOWLEDGE, 11)
    elif start is L:
        a.evaluate(False, at(11))
    elif start is S:
        respond(a, AlarmAction.SNOOZE, 11, snooze_seconds=60)
    assert a.state.state is start
    respond(a, AlarmAction.RESET, 12, why="false alarm")
    assert a.state.state is N
    assert a.state.snooze_until_ms is None


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ([], AlarmAction.ACKNOWLEDGE, "cannot acknowledge an alarm in state NORMAL"),
        ([], AlarmAction.RESET, "cannot reset an alarm in state NORMAL"),
        ([], AlarmAction.ENABLE, "cannot enable an alarm in state NORMAL"),
        (
            ["breach", "ack"],
            AlarmAction.ACKNOWLEDGE,
            "cannot acknowledge an alarm in state ACKNOWLEDGED",
        ),
        (["disable"], AlarmAction.DISABLE, "cannot disable an alarm in state DISABLED"),
        (["disable"], AlarmAction.SNOOZE, "cannot snooze an alarm in state DISABLED"),
        (["breach"], AlarmAction.BREACH, "automatic"),
    ],
)
def test_refused_responses_change_nothing(
    setup: list[str], action: AlarmAction, message: str
) -> None:
    a = alarm()
    for step in setup:
        if step == "breach":
            a.evaluate(True, at(1))
        elif step == "ack":
            respond(a, AlarmAction.ACKNOWLEDGE, 2)
        elif step == "disable":
            respond(a, AlarmAction.DISABLE, 2)
    before, audit_len = a.state, len(a.audit)
    with pytest.raises(AlarmActionError, match=message):
        respond(a, action, 5, snooze_seconds=60)
    assert a.state == before
    assert len(a.audit) == audit_len


def test_responses_need_who_and_why_and_a_valid_snooze() -> None:
    a = alarm()
    a.evaluate(True, at(1))
    with pytest.raises(AlarmActionError, match="who"):
        respond(a, AlarmAction.ACKNOWLEDGE, 2, who=" ")
    with pytest.raises(AlarmActionError, match="who"):
        respond(a, AlarmAction.ACKNOWLEDGE, 2, who="system")
    with pytest.raises(AlarmActionError, match="reason"):
        respond(a, AlarmAction.ACKNOWLEDGE, 2, why="")
    with pytest.raises(AlarmActionError, match="duration"):
        respond(a, AlarmAction.SNOOZE, 2)
    with pytest.raises(AlarmActionError, match="duration"):
        respond(a, AlarmAction.SNOOZE, 2, snooze_seconds=0)
    assert a.state.state is A


def test_audit_trail_records_who_when_what_why() -> None:
    a = alarm()
    a.evaluate(True, at(10))
    respond(
        a, AlarmAction.ACKNOWLEDGE, 20, who="bob@support", why="called the ward, device reseated"
    )
    a.evaluate(False, at(30))
    trail = [(e.seq, e.who, e.action.value, e.from_state.value, e.to_state.value) for e in a.audit]
    assert trail == [
        (1, "system", "breach", "NORMAL", "ACTIVE"),
        (2, "bob@support", "acknowledge", "ACTIVE", "ACKNOWLEDGED"),
        (3, "system", "clear", "ACKNOWLEDGED", "NORMAL"),
    ]
    item = a.audit[1].to_json()
    assert item == {
        "alarm_id": "wardlink-device-offline#offline#gw-1/pump-7",
        "at_seq": "2026-11-21T10:00:20.000Z#000002",
        "at": "2026-11-21T10:00:20.000Z",
        "who": "bob@support",
        "action": "acknowledge",
        "why": "called the ward, device reseated",
        "from_state": "ACTIVE",
        "to_state": "ACKNOWLEDGED",
    }
    assert AuditEntry.from_json(item) == a.audit[1]


def test_since_marks_the_start_of_the_episode() -> None:
    a = alarm()
    a.evaluate(True, at(10))
    respond(a, AlarmAction.ACKNOWLEDGE, 20)
    assert (a.state.since_ms, a.state.last_change_ms) == (at(10), at(20))
    a.evaluate(False, at(30))
    assert a.state.since_ms == at(30)


def test_alarm_state_json_round_trip() -> None:
    a = alarm()
    a.evaluate(True, at(10))
    respond(a, AlarmAction.SNOOZE, 20, snooze_seconds=60)
    data = a.state.to_json()
    assert data["state"] == "SNOOZE_DISABLED"
    assert data["snooze_until"] == "2026-11-21T10:01:20.000Z"
    assert AlarmState.from_json(data) == a.state
