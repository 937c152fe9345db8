"""The state of one detector instance: what a ``StateStore`` persists.

Everything here round-trips through JSON (``to_json``/``from_json``) because the
cloud store keeps it in DynamoDB and timers are re-hydrated by a scheduler
callback in another Lambda invocation. In memory, times are epoch milliseconds;
in JSON they are ISO 8601 strings (the DetectorState contract: ``timers`` maps a
timer name to its ISO due time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wardlink.detectors.timeutil import format_iso_ms, parse_iso_ms


@dataclass(slots=True)
class DetectorInstance:
    """Mutable working copy; the engine copies before evaluating and never mutates a stored one.

    - ``timers``: active timers, name -> due time (ms).
    - ``timer_durations``: last evaluated duration of every timer ever set, because
      ``resetTimer`` restarts a timer with it (documented: no re-evaluation).
    - ``expired_timers``: timers that fired and whose ``timeout()`` has not been
      checked yet (``timeout()`` is true only the first time it is checked).
    - ``inputs``: last payload received per input name. IoT Events lets a
      condition read an input attribute after a timer expiry, so values persist.
    """

    state_name: str
    variables: dict[str, Any] = field(default_factory=dict)
    timers: dict[str, int] = field(default_factory=dict)
    timer_durations: dict[str, int] = field(default_factory=dict)
    expired_timers: set[str] = field(default_factory=set)
    inputs: dict[str, Any] = field(default_factory=dict)
    created_ms: int = 0
    updated_ms: int = 0

    def copy(self) -> DetectorInstance:
        return DetectorInstance(
            state_name=self.state_name,
            variables=dict(self.variables),
            timers=dict(self.timers),
            timer_durations=dict(self.timer_durations),
            expired_timers=set(self.expired_timers),
            inputs=dict(self.inputs),
            created_ms=self.created_ms,
            updated_ms=self.updated_ms,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state_name,
            "variables": dict(self.variables),
            "timers": {name: format_iso_ms(due) for name, due in sorted(self.timers.items())},
            "timer_durations": dict(sorted(self.timer_durations.items())),
            "expired_timers": sorted(self.expired_timers),
            "inputs": dict(self.inputs),
            "created_at": format_iso_ms(self.created_ms),
            "updated_at": format_iso_ms(self.updated_ms),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectorInstance:
        return cls(
            state_name=str(data["state"]),
            variables=dict(data.get("variables") or {}),
            timers={name: parse_iso_ms(due) for name, due in (data.get("timers") or {}).items()},
            timer_durations={
                name: int(seconds) for name, seconds in (data.get("timer_durations") or {}).items()
            },
            expired_timers=set(data.get("expired_timers") or ()),
            inputs=dict(data.get("inputs") or {}),
            created_ms=parse_iso_ms(data["created_at"]) if data.get("created_at") else 0,
            updated_ms=parse_iso_ms(data["updated_at"]) if data.get("updated_at") else 0,
        )
