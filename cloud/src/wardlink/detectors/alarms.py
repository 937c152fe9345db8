"""IoT Events alarm semantics as a pure state machine with an audit trail.

States (IoT Events ``AlarmState.stateName``): DISABLED, NORMAL, ACTIVE,
ACKNOWLEDGED, LATCHED, SNOOZE_DISABLED. Operator responses (the IoT Events
``BatchAcknowledgeAlarm``/``Snooze``/``Reset``/``Disable``/``Enable`` operations):
acknowledge, snooze, reset, disable, enable.

Documented behaviour this follows:

- NORMAL evaluates data; a breach makes the alarm ACTIVE.
- ACKNOWLEDGED: the alarm was invoked and someone acknowledged it.
- LATCHED: the alarm was invoked, the data is back in range, and it stays
  latched until someone acknowledges it; acknowledging a LATCHED alarm makes it
  NORMAL.
- SNOOZE_DISABLED: disabled for a given time, then NORMAL by itself.
- DISABLED does not evaluate data; enable makes it NORMAL. Reset makes it NORMAL.

Inferred (documented in docs/detectors.md): latching is what IoT Events'
"acknowledge flow" turns on (``AlarmPolicy.latch`` defaults to
``acknowledge_flow``); without latching an ACTIVE alarm returns to NORMAL by
itself when the data is back in range; an ACKNOWLEDGED alarm returns to NORMAL
when the data is back in range; after a snooze the alarm is NORMAL and the next
breaching value makes it ACTIVE again; which responses each state accepts.

Every change is recorded: operator responses with who, when, what and why (a
reason is required, so no acknowledgement is anonymous or unexplained), and
automatic changes with ``who="system"``. Refused responses raise
``AlarmActionError`` and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from wardlink.detectors.timeutil import format_iso_ms_fixed as format_iso_ms
from wardlink.detectors.timeutil import parse_iso_ms

SYSTEM = "system"


class AlarmStateName(StrEnum):
    DISABLED = "DISABLED"
    NORMAL = "NORMAL"
    ACTIVE = "ACTIVE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    LATCHED = "LATCHED"
    SNOOZE_DISABLED = "SNOOZE_DISABLED"


class AlarmAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"
    RESET = "reset"
    DISABLE = "disable"
    ENABLE = "enable"
    # automatic
    BREACH = "breach"
    CLEAR = "clear"
    SNOOZE_EXPIRED = "snooze_expired"


class AlarmActionError(ValueError):
    """A response the alarm's current state does not accept, or one missing who/why."""


@dataclass(frozen=True, slots=True)
class AlarmPolicy:
    """How an alarm model behaves (IoT Events ``alarmCapabilities``)."""

    acknowledge_flow: bool = True
    latch: bool | None = None
    disabled_on_initialization: bool = False
    max_snooze_seconds: int = 7 * 24 * 3600

    @property
    def latching(self) -> bool:
        return self.acknowledge_flow if self.latch is None else self.latch


@dataclass(frozen=True, slots=True)
class AuditEntry:
    alarm_id: str
    seq: int
    at_ms: int
    who: str
    action: AlarmAction
    why: str
    from_state: AlarmStateName
    to_state: AlarmStateName

    def to_json(self) -> dict[str, Any]:
        """The AlarmAudit item: ``at_seq`` = "{ISO}#{n}" sorts by time, then order."""
        at = format_iso_ms(self.at_ms)
        return {
            "alarm_id": self.alarm_id,
            "at_seq": f"{at}#{self.seq:06d}",
            "at": at,
            "who": self.who,
            "action": self.action.value,
            "why": self.why,
            "from_state": self.from_state.value,
            "to_state": self.to_state.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEntry:
        return cls(
            alarm_id=str(data["alarm_id"]),
            seq=int(str(data["at_seq"]).rsplit("#", 1)[1]),
            at_ms=parse_iso_ms(data["at"]),
            who=str(data["who"]),
            action=AlarmAction(data["action"]),
            why=str(data["why"]),
            from_state=AlarmStateName(data["from_state"]),
            to_state=AlarmStateName(data["to_state"]),
        )


@dataclass(frozen=True, slots=True)
class AlarmState:
    """Immutable snapshot; every change returns a new one."""

    alarm_id: str
    state: AlarmStateName
    since_ms: int
    """When the current episode began: the first change away from NORMAL/DISABLED."""
    last_change_ms: int
    severity: int = 3
    breached: bool = False
    snooze_until_ms: int | None = None
    next_seq: int = 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "alarm_id": self.alarm_id,
            "state": self.state.value,
            "severity": self.severity,
            "since": format_iso_ms(self.since_ms),
            "last_change": format_iso_ms(self.last_change_ms),
            "breached": self.breached,
            "next_seq": self.next_seq,
        }
        if self.snooze_until_ms is not None:
            data["snooze_until"] = format_iso_ms(self.snooze_until_ms)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlarmState:
        snooze = data.get("snooze_until")
        return cls(
            alarm_id=str(data["alarm_id"]),
            state=AlarmStateName(data["state"]),
            since_ms=parse_iso_ms(data["since"]),
            last_change_ms=parse_iso_ms(data["last_change"]),
            severity=int(data.get("severity", 3)),
            breached=bool(data.get("breached", False)),
            snooze_until_ms=parse_iso_ms(snooze) if snooze else None,
            next_seq=int(data.get("next_seq", 1)),
        )


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """Result of applying one event: the new snapshot and its audit entry (None: no change)."""

    state: AlarmState
    audit: AuditEntry | None = None


def new_alarm(alarm_id: str, policy: AlarmPolicy, at_ms: int, severity: int = 3) -> AlarmState:
    initial = (
        AlarmStateName.DISABLED if policy.disabled_on_initialization else AlarmStateName.NORMAL
    )
    return AlarmState(alarm_id, initial, at_ms, at_ms, severity=severity)


_QUIET = (AlarmStateName.NORMAL, AlarmStateName.DISABLED)


def _move(
    current: AlarmState,
    to: AlarmStateName,
    at_ms: int,
    who: str,
    action: AlarmAction,
    why: str,
    **changes: Any,
) -> AlarmChange:
    entry = AuditEntry(
        current.alarm_id, current.next_seq, at_ms, who, action, why, current.state, to
    )
    since = current.since_ms
    if current.state != to and (current.state in _QUIET or to in _QUIET):
        since = at_ms
    updated = replace(
        current,
        state=to,
        since_ms=since,
        last_change_ms=at_ms,
        next_seq=current.next_seq + 1,
        **changes,
    )
    return AlarmChange(updated, entry)


def evaluate(current: AlarmState, policy: AlarmPolicy, breached: bool, at_ms: int) -> AlarmChange:
    """Apply a rule evaluation (``breached``: the monitored value is out of range)."""
    state = current.state
    if state is AlarmStateName.DISABLED:
        return AlarmChange(current)
    if state is AlarmStateName.SNOOZE_DISABLED:
        return AlarmChange(replace(current, breached=breached))
    if breached and state in (AlarmStateName.NORMAL, AlarmStateName.LATCHED):
        return _move(
            current, AlarmStateName.ACTIVE, at_ms, SYSTEM, AlarmAction.BREACH,
            "monitored value breached the alarm rule", breached=True,
        )  # fmt: skip
    if not breached and state is AlarmStateName.ACTIVE:
        to = AlarmStateName.LATCHED if policy.latching else AlarmStateName.NORMAL
        why = (
            "value back in range; latched until acknowledged"
            if policy.latching
            else "value back in range"
        )
        return _move(current, to, at_ms, SYSTEM, AlarmAction.CLEAR, why, breached=False)
    if not breached and state is AlarmStateName.ACKNOWLEDGED:
        return _move(
            current, AlarmStateName.NORMAL, at_ms, SYSTEM, AlarmAction.CLEAR,
            "value back in range", breached=False,
        )  # fmt: skip
    return AlarmChange(replace(current, breached=breached))


def tick(current: AlarmState, at_ms: int) -> AlarmChange:
    """Let time pass: a snooze whose time is up makes the alarm NORMAL."""
    if (
        current.state is AlarmStateName.SNOOZE_DISABLED
        and current.snooze_until_ms is not None
        and at_ms >= current.snooze_until_ms
    ):
        return _move(
            current, AlarmStateName.NORMAL, current.snooze_until_ms, SYSTEM,
            AlarmAction.SNOOZE_EXPIRED, "snooze time is over", snooze_until_ms=None,
        )  # fmt: skip
    return AlarmChange(current)


_ACCEPTS: dict[AlarmAction, frozenset[AlarmStateName]] = {
    AlarmAction.ACKNOWLEDGE: frozenset({AlarmStateName.ACTIVE, AlarmStateName.LATCHED}),
    AlarmAction.SNOOZE: frozenset(
        {
            AlarmStateName.NORMAL,
            AlarmStateName.ACTIVE,
            AlarmStateName.ACKNOWLEDGED,
            AlarmStateName.LATCHED,
            AlarmStateName.SNOOZE_DISABLED,
        }
    ),
    AlarmAction.RESET: frozenset(
        {
            AlarmStateName.ACTIVE,
            AlarmStateName.ACKNOWLEDGED,
            AlarmStateName.LATCHED,
            AlarmStateName.SNOOZE_DISABLED,
        }
    ),
    AlarmAction.DISABLE: frozenset(set(AlarmStateName) - {AlarmStateName.DISABLED}),
    AlarmAction.ENABLE: frozenset({AlarmStateName.DISABLED, AlarmStateName.SNOOZE_DISABLED}),
}


def respond(
    current: AlarmState,
    policy: AlarmPolicy,
    action: AlarmAction,
    *,
    who: str,
    why: str,
    at_ms: int,
    snooze_seconds: int | None = None,
) -> AlarmChange:
    """Apply an operator response; raises ``AlarmActionError`` if it is not accepted."""
    if action not in _ACCEPTS:
        raise AlarmActionError(f"{action.value} is automatic, not an operator response")
    if not who.strip() or who.strip() == SYSTEM:
        raise AlarmActionError("an operator response needs who is responding")
    if not why.strip():
        raise AlarmActionError(f"{action.value} needs a reason (why), for the audit trail")
    state = current.state
    if state not in _ACCEPTS[action]:
        raise AlarmActionError(f"cannot {action.value} an alarm in state {state.value}")
    who, why = who.strip(), why.strip()
    if action is AlarmAction.ACKNOWLEDGE:
        if not policy.acknowledge_flow:
            raise AlarmActionError("this alarm model has no acknowledge flow")
        to = (
            AlarmStateName.NORMAL
            if state is AlarmStateName.LATCHED
            else AlarmStateName.ACKNOWLEDGED
        )
        return _move(current, to, at_ms, who, action, why)
    if action is AlarmAction.SNOOZE:
        if snooze_seconds is None or not 1 <= snooze_seconds <= policy.max_snooze_seconds:
            raise AlarmActionError(
                f"snooze needs a duration of 1..{policy.max_snooze_seconds} seconds"
            )
        return _move(
            current, AlarmStateName.SNOOZE_DISABLED, at_ms, who, action,
            f"{why} (snoozed {snooze_seconds} s)",
            snooze_until_ms=at_ms + snooze_seconds * 1000,
        )  # fmt: skip
    if action is AlarmAction.DISABLE:
        return _move(
            current, AlarmStateName.DISABLED, at_ms, who, action, why, snooze_until_ms=None
        )
    # reset and enable both return the alarm to NORMAL
    return _move(current, AlarmStateName.NORMAL, at_ms, who, action, why, snooze_until_ms=None)


@dataclass(slots=True)
class Alarm:
    """Convenience holder: a current snapshot plus its audit trail."""

    policy: AlarmPolicy
    state: AlarmState
    audit: list[AuditEntry] = field(default_factory=list)

    @classmethod
    def create(cls, alarm_id: str, policy: AlarmPolicy, at_ms: int, severity: int = 3) -> Alarm:
        return cls(policy, new_alarm(alarm_id, policy, at_ms, severity))

    def _apply(self, change: AlarmChange) -> AuditEntry | None:
        self.state = change.state
        if change.audit is not None:
            self.audit.append(change.audit)
        return change.audit

    def evaluate(self, breached: bool, at_ms: int) -> AuditEntry | None:
        self.tick(at_ms)
        return self._apply(evaluate(self.state, self.policy, breached, at_ms))

    def tick(self, at_ms: int) -> AuditEntry | None:
        return self._apply(tick(self.state, at_ms))

    def respond(
        self,
        action: AlarmAction,
        *,
        who: str,
        why: str,
        at_ms: int,
        snooze_seconds: int | None = None,
    ) -> AuditEntry | None:
        self.tick(at_ms)
        change = respond(
            self.state, self.policy, action, who=who, why=why, at_ms=at_ms,
            snooze_seconds=snooze_seconds,
        )  # fmt: skip
        return self._apply(change)
