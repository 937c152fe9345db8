"""The Alarms and AlarmAudit tables: triage reads, audited operator actions.

Access patterns:

* one alarm: ``GetItem(alarm_id)``;
* alarms in a state, most recent change first: ``Query Alarms.by_state (state)``;
* an alarm's history, oldest first: ``Query AlarmAudit (alarm_id)``.

An operator action is one ``TransactWriteItems``: the alarm update is conditional on
the state and ``last_change`` the operator saw, and the audit row is written in the
same transaction, so there is never an action without its audit entry, and two
operators (or the engine) acting at once cannot overwrite each other silently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from wardlink.cloudapi.errors import BadRequest, Conflict
from wardlink.cloudapi.repositories.items import (
    decode_token,
    encode_token,
    from_item,
    to_attr,
    to_item,
)
from wardlink.contract.models import Alarm, AlarmState, AuditEntry


def alarm_from_item(item: dict[str, Any]) -> Alarm:
    return alarm_from_row(from_item(item))


def alarm_from_row(row: dict[str, Any]) -> Alarm:
    """Parse an alarm row leniently: the detectors engine writes these rows too."""
    values = dict(row)
    notes = values.get("notes")
    if isinstance(notes, list):
        values["notes"] = str(notes[-1]) if notes else None
    elif notes is not None and not isinstance(notes, str):
        values["notes"] = json.dumps(notes, default=str)
    if "severity" in values and not isinstance(values["severity"], int):
        try:
            values["severity"] = int(values["severity"])
        except (TypeError, ValueError):
            values["severity"] = None
    return Alarm.model_validate(values)


class AlarmRepository:
    def __init__(self, client: Any, alarms_table: str, audit_table: str) -> None:
        self._ddb = client
        self._alarms = alarms_table
        self._audit = audit_table

    def get_row(self, alarm_id: str) -> dict[str, Any] | None:
        """The alarm row as stored (plain values), for the state machine."""
        response = self._ddb.get_item(
            TableName=self._alarms, Key={"alarm_id": to_attr(alarm_id)}, ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get(self, alarm_id: str) -> Alarm | None:
        row = self.get_row(alarm_id)
        return alarm_from_row(row) if row else None

    def list_by_state(
        self, states: Sequence[AlarmState], limit: int, next_token: str | None = None
    ) -> tuple[list[Alarm], str | None]:
        """Alarms in ``states`` (in that order), newest change first within a state."""
        start_state, start_key = _decode_state_token(next_token, states)
        items: list[Alarm] = []
        for position in range(states.index(start_state), len(states)):
            state = states[position]
            request: dict[str, Any] = {
                "TableName": self._alarms,
                "IndexName": "by_state",
                "KeyConditionExpression": "#state = :state",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":state": to_attr(state.value)},
                "ScanIndexForward": False,
                "Limit": limit - len(items),
            }
            if start_key and state is start_state:
                request["ExclusiveStartKey"] = start_key
            response = self._ddb.query(**request)
            items.extend(alarm_from_item(i) for i in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if last_key:
                return items, _encode_state_token(state, last_key)
            if len(items) >= limit:
                if position + 1 < len(states):
                    return items, _encode_state_token(states[position + 1], None)
                return items, None
        return items, None

    def apply(
        self,
        row: dict[str, Any],
        fields: dict[str, Any],
        removed: Sequence[str],
        note: str,
        audit_item: dict[str, Any],
    ) -> None:
        """Update the alarm ``row`` and write its audit row, atomically.

        The update only applies if the row still has the state and ``last_change``
        that were read; otherwise someone (an operator, the engine) changed it in
        between and the caller gets a 409.
        """
        names: dict[str, str] = {"#state": "state", "#last_change": "last_change"}
        values: dict[str, Any] = {
            ":seen_state": to_attr(row["state"]),
            ":seen_change": to_attr(row["last_change"]),
            ":note": to_attr(note),
        }
        sets = ["notes = :note"]
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#s{i}"] = name
            values[f":s{i}"] = to_attr(value)
            sets.append(f"#s{i} = :s{i}")
        expression = "SET " + ", ".join(sets)
        if removed:
            for i, name in enumerate(removed):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._alarms,
                            "Key": {"alarm_id": to_attr(row["alarm_id"])},
                            "UpdateExpression": expression,
                            "ConditionExpression": "#state = :seen_state AND "
                            "#last_change = :seen_change",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._audit,
                            "Item": to_item(audit_item),
                            "ConditionExpression": "attribute_not_exists(at_seq)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(
                    f"alarm {row['alarm_id']} changed while you acted on it; reload and retry"
                ) from exc
            raise

    def history(
        self, alarm_id: str, limit: int, next_token: str | None = None
    ) -> tuple[list[AuditEntry], str | None]:
        request: dict[str, Any] = {
            "TableName": self._audit,
            "KeyConditionExpression": "alarm_id = :id",
            "ExpressionAttributeValues": {":id": to_attr(alarm_id)},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        start = decode_token(next_token, {"alarm_id", "at_seq"})
        if start:
            if start.get("alarm_id") != {"S": alarm_id}:
                raise BadRequest("next_token belongs to another alarm")
            request["ExclusiveStartKey"] = start
        response = self._ddb.query(**request)
        entries = []
        for item in response.get("Items", []):
            values = from_item(item)
            values.setdefault("at", str(values.get("at_seq", "")).split("#", 1)[0])
            entries.append(AuditEntry.model_validate(values))
        return entries, encode_token(response.get("LastEvaluatedKey"))


def _encode_state_token(state: AlarmState, key: dict[str, Any] | None) -> str:
    token = encode_token({"state": {"S": state.value}, **(key or {})})
    assert token is not None
    return token


def _decode_state_token(
    token: str | None, states: Sequence[AlarmState]
) -> tuple[AlarmState, dict[str, Any] | None]:
    if not token:
        return states[0], None
    raw = decode_token(token, {"state", "alarm_id", "last_change"})
    assert raw is not None
    try:
        state = AlarmState(raw.pop("state", {}).get("S", ""))
    except ValueError as exc:
        raise BadRequest("next_token is not a token this API issued") from exc
    if state not in states:
        raise BadRequest("next_token belongs to another state filter")
    if raw and set(raw) != {"alarm_id", "last_change"}:
        raise BadRequest("next_token is not a token this API issued")
    if raw:
        raw["state"] = {"S": state.value}
    return state, raw or None
