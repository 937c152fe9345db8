"""Alarm rows in the ``Alarms`` table, every change audited in ``AlarmAudit``.

After an evaluation that changed a detector's state, ``AlarmRecorder`` brings the
alarms bound to that model (``alarm_bindings``) in line: the detector state says
whether each alarm's rule is breached, and the IoT Events alarm state machine
(``wardlink.detectors.alarms``, the same one the triage API uses for operator
actions) decides what that means for ACTIVE, LATCHED, SNOOZE_DISABLED and so on.

Each change is one ``TransactWriteItems``: the alarm row, conditional on the
``state`` and ``last_change`` that were read (the condition the API's operator
actions use too, so an acknowledgement and an automatic change never overwrite
each other), plus one AlarmAudit row per step (who=``system``, when, why). On a
lost race the row is re-read and the change planned again.

Rows are joined with registry facts (device model, firmware, site, gateway) when
they change, so support sees them even for gateway alarms that have no device to
join. Operator fields the API owns (``notes``) are carried over untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from wardlink.detectors import alarms as machine
from wardlink.detectors.aws.alarm_bindings import AlarmBinding, AlarmCatalog
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.aws.retry import error_code
from wardlink.detectors.evaluator import Outcome
from wardlink.detectors.timeutil import format_iso_ms_fixed

log = logging.getLogger("wardlink.detectors.aws")

SNAPSHOT_FIELDS = frozenset(
    {"state", "severity", "since", "last_change", "breached", "next_seq", "snooze_until"}
)
MAX_ALERT_CHARS = 2000
SOURCE = "detector-engine"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class AlarmSyncError(RuntimeError):
    """An alarm row kept changing under the recorder; the change was not written."""


@dataclass(frozen=True, slots=True)
class AlarmWrite:
    """One planned alarm change: the full new row and its audit rows."""

    alarm_id: str
    row: dict[str, Any]
    audit: list[dict[str, Any]]
    seen: tuple[str, str] | None
    """(state, last_change) the plan was based on; None for a new row."""

    @property
    def state(self) -> str:
        return str(self.row["state"])


def plan_alarm_change(
    row: dict[str, Any] | None,
    binding: AlarmBinding,
    key: str,
    detector_state: str,
    at_ms: int,
    *,
    cause: str,
    policy: machine.AlarmPolicy | None = None,
    last_alert: str | None = None,
) -> AlarmWrite | None:
    """The change that ``detector_state`` implies for an alarm row; None if nothing changes.

    Pure: the recorder does the I/O. Steps, each audited: an expired snooze ends
    (``tick``), then the rule evaluation (breached or back in range), then a
    severity change while breached (Warning -> Critical), which keeps the state.
    """
    policy = policy or machine.AlarmPolicy()
    alarm_id = binding.alarm_id(key)
    severity = binding.severity_in(detector_state)
    breached = severity is not None
    if row is None:
        if not breached:
            return None
        current = machine.new_alarm(alarm_id, policy, at_ms, severity=severity or 3)
        seen = None
    else:
        snapshot = {k: row[k] for k in SNAPSHOT_FIELDS if k in row}
        snapshot["alarm_id"] = alarm_id
        snapshot.setdefault("since", row.get("last_change"))
        current = machine.AlarmState.from_json(snapshot)
        seen = (str(row["state"]), str(row["last_change"]))

    audit: list[dict[str, Any]] = []
    for step in ("tick", "evaluate"):
        change = (
            machine.tick(current, at_ms)
            if step == "tick"
            else machine.evaluate(current, policy, breached, at_ms)
        )
        current = change.state
        if change.audit is not None:
            entry = change.audit if step == "tick" else replace(change.audit, why=cause)
            audit.append(_audit_row(entry.to_json(), binding, detector_state))
    if breached and severity is not None and current.severity != severity:
        before = current.severity
        current = replace(
            current, severity=severity, last_change_ms=at_ms, next_seq=current.next_seq + 1
        )
        at = format_iso_ms_fixed(at_ms)
        audit.append(
            _audit_row(
                {
                    "alarm_id": alarm_id,
                    "at_seq": f"{at}#{current.next_seq - 1:06d}",
                    "at": at,
                    "who": machine.SYSTEM,
                    "action": "severity",
                    "why": f"{cause}: severity {before} -> {severity}",
                    "from_state": current.state.value,
                    "to_state": current.state.value,
                },
                binding,
                detector_state,
            )
        )
    if not audit:
        return None

    new_row = {k: v for k, v in (row or {}).items() if k not in SNAPSHOT_FIELDS}
    new_row.update(current.to_json())
    new_row.update(
        {
            "alarm_id": alarm_id,
            "detector_model": binding.model,
            "alarm_name": binding.alarm,
            "title": binding.title,
            "runbook": binding.runbook,
            "key_value": key,
            "detector_state": detector_state,
            "updated_by": SOURCE,
        }
    )
    if breached and last_alert:
        new_row["last_alert"] = last_alert[:MAX_ALERT_CHARS]
    return AlarmWrite(alarm_id, new_row, audit, seen)


def _audit_row(entry: dict[str, Any], binding: AlarmBinding, detector_state: str) -> dict[str, Any]:
    return {**entry, "detector_model": binding.model, "detector_state": detector_state,
            "source": SOURCE}  # fmt: skip


class AlarmRecorder:
    """Applies evaluation outcomes to the Alarms/AlarmAudit tables (boto3 ``dynamodb`` client)."""

    def __init__(
        self,
        client: Any,
        alarms_table: str,
        audit_table: str,
        *,
        catalog: AlarmCatalog | None = None,
        directory: RegistryDirectory | None = None,
        policy: machine.AlarmPolicy | None = None,
        max_attempts: int = 5,
    ) -> None:
        self._ddb = client
        self._alarms = alarms_table
        self._audit = audit_table
        self.catalog = catalog or AlarmCatalog()
        self._directory = directory
        self._policy = policy or machine.AlarmPolicy()
        self._max_attempts = max_attempts

    def record(self, model: str, outcome: Outcome) -> list[AlarmWrite]:
        """Sync the model's alarms with the state ``outcome`` committed; returns the writes."""
        transitions = outcome.transitions
        key = outcome.key
        if not transitions or key is None:
            return []
        state = outcome.instance.state_name
        touched = [t.from_state for t in transitions] + [t.to_state for t in transitions]
        last = transitions[-1]
        cause = f"{model}: {last.from_state or '(new)'} -> {last.to_state}"
        if last.event_name:
            cause += f" ({last.event_name})"
        alert = "\n".join(
            a.payload_text() for a in outcome.actions if a.kind == "sns" and a.payload is not None
        )
        writes: list[AlarmWrite] = []
        for binding in self.catalog.for_model(model):
            if not binding.concerns(touched):
                continue
            write = self.sync(binding, key, state, last.time_ms, cause=cause, last_alert=alert)
            if write is not None:
                writes.append(write)
        return writes

    def sync(
        self,
        binding: AlarmBinding,
        key: str,
        detector_state: str,
        at_ms: int,
        *,
        cause: str,
        last_alert: str | None = None,
    ) -> AlarmWrite | None:
        alarm_id = binding.alarm_id(key)
        for _ in range(self._max_attempts):
            row = self.get_row(alarm_id)
            write = plan_alarm_change(
                row, binding, key, detector_state, at_ms,
                cause=cause, policy=self._policy, last_alert=last_alert,
            )  # fmt: skip
            if write is None:
                return None
            if self._directory is not None:
                facts = self._directory.facts(key).attributes()
                if "model" in facts:
                    facts["device_model"] = facts.pop("model")
                write.row.update(facts)
            if self._commit(write):
                log.info(
                    "alarm changed",
                    extra={"alarm_id": alarm_id, "to": write.state, "cause": cause},
                )
                return write
        raise AlarmSyncError(f"alarm {alarm_id} kept changing; gave up after "
                             f"{self._max_attempts} attempts")  # fmt: skip

    def get_row(self, alarm_id: str) -> dict[str, Any] | None:
        response = self._ddb.get_item(
            TableName=self._alarms, Key={"alarm_id": {"S": alarm_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return {name: _deserializer.deserialize(value) for name, value in item.items()}

    def history(self, alarm_id: str) -> list[dict[str, Any]]:
        """The alarm's audit rows, oldest first (for tests and tools; the API pages them)."""
        rows: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._audit,
            "KeyConditionExpression": "alarm_id = :id",
            "ExpressionAttributeValues": {":id": {"S": alarm_id}},
            "ConsistentRead": True,
        }
        while True:
            response = self._ddb.query(**request)
            rows.extend(
                {name: _deserializer.deserialize(value) for name, value in item.items()}
                for item in response.get("Items", [])
            )
            if not response.get("LastEvaluatedKey"):
                return rows
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _commit(self, write: AlarmWrite) -> bool:
        """Write row and audit atomically; False if the row changed since it was read."""
        put: dict[str, Any] = {"TableName": self._alarms, "Item": _to_item(write.row)}
        if write.seen is None:
            put["ConditionExpression"] = "attribute_not_exists(alarm_id)"
        else:
            put["ConditionExpression"] = "#state = :seen_state AND #last_change = :seen_change"
            put["ExpressionAttributeNames"] = {"#state": "state", "#last_change": "last_change"}
            put["ExpressionAttributeValues"] = {
                ":seen_state": {"S": write.seen[0]},
                ":seen_change": {"S": write.seen[1]},
            }
        items: list[dict[str, Any]] = [{"Put": put}]
        items.extend(
            {
                "Put": {
                    "TableName": self._audit,
                    "Item": _to_item(entry),
                    "ConditionExpression": "attribute_not_exists(at_seq)",
                }
            }
            for entry in write.audit
        )
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            log.info("alarm write lost a race; re-planning",
                     extra={"alarm_id": write.alarm_id, "reasons": reasons})  # fmt: skip
            return False
        return True


def _to_item(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in row.items() if value is not None}
