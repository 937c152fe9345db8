"""Operator actions on an alarm row, decided by the detectors engine's state machine.

The API must not have its own idea of IoT Events alarm semantics: the engine
(``wardlink.detectors.alarms``) moves alarms on data, the API moves them on
operator actions, and both must agree on which action is allowed in which state,
on ``since``/``snooze_until`` and on how audit rows are numbered. So this module
only adapts: Alarms row -> engine ``AlarmState`` -> ``respond`` -> new row fields
plus the AlarmAudit row. It is the one place to change if the engine's API moves.

API actions map to engine responses: ack -> acknowledge, and snooze, reset,
disable, enable unchanged. A response the engine refuses is a 409 (the operator is
probably looking at stale state); a snooze without a valid duration is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wardlink.cloudapi.errors import BadRequest, Conflict
from wardlink.contract.models import AlarmAction
from wardlink.detectors import alarms as engine

_ENGINE_ACTION = {
    AlarmAction.ACK: engine.AlarmAction.ACKNOWLEDGE,
    AlarmAction.SNOOZE: engine.AlarmAction.SNOOZE,
    AlarmAction.RESET: engine.AlarmAction.RESET,
    AlarmAction.DISABLE: engine.AlarmAction.DISABLE,
    AlarmAction.ENABLE: engine.AlarmAction.ENABLE,
}
# fields of the row that belong to the engine's snapshot (the rest, e.g. device_uid,
# detector_model or notes, are left as they are)
SNAPSHOT_FIELDS = (
    "state",
    "severity",
    "since",
    "last_change",
    "breached",
    "next_seq",
    "snooze_until",
)


class InvalidAlarmTransition(Conflict):
    code = "InvalidAlarmTransition"


@dataclass(frozen=True)
class Transition:
    to_state: str
    fields: dict[str, Any]  # snapshot fields to SET on the row
    removed: tuple[str, ...]  # snapshot fields to REMOVE from the row
    audit_item: dict[str, Any]  # the AlarmAudit row


def _snapshot(row: dict[str, Any]) -> engine.AlarmState:
    data = dict(row)
    data.setdefault("since", data.get("last_change"))
    try:
        return engine.AlarmState.from_json(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise Conflict(f"alarm {row.get('alarm_id')} has an unreadable state row: {exc}") from exc


def apply_action(
    row: dict[str, Any],
    action: AlarmAction,
    *,
    who: str,
    why: str,
    at_ms: int,
    snooze_seconds: int | None = None,
) -> Transition:
    """The row change and audit entry for an operator ``action`` on alarm ``row``."""
    if (action is AlarmAction.SNOOZE) != (snooze_seconds is not None):
        raise BadRequest("snooze_seconds is required for snooze and only allowed there")
    current = _snapshot(row)
    try:
        change = engine.respond(
            current, engine.AlarmPolicy(), _ENGINE_ACTION[action], who=who, why=why,
            at_ms=at_ms, snooze_seconds=snooze_seconds,
        )  # fmt: skip
    except engine.AlarmActionError as exc:
        raise InvalidAlarmTransition(str(exc)) from exc
    if change.audit is None:  # every operator response is audited; the engine guarantees it
        raise InvalidAlarmTransition(f"{action.value} changed nothing")
    snapshot = change.state.to_json()
    fields = {k: snapshot[k] for k in SNAPSHOT_FIELDS if k in snapshot}
    removed = tuple(k for k in SNAPSHOT_FIELDS if k not in snapshot and k in row)
    return Transition(
        to_state=change.state.state.value,
        fields=fields,
        removed=removed,
        audit_item=change.audit.to_json(),
    )
