"""Which detector states are alarms for support, and how severe.

The catalog models (``cloud/detectors/``) are detector models, not IoT Events
alarm models: they say "Offline", "Faulted", "Critical". Support triages
*alarms* with the IoT Events alarm states (ACTIVE, ACKNOWLEDGED, LATCHED, ...).
A binding connects the two: while a detector instance is in one of the
binding's states the alarm's rule is breached, at that state's severity.

Alarm ids follow the contract: ``{detectorModelName}#{alarmName}#{keyValue}``.
Severity: 1 critical, 2 major, 3 minor (lower is more urgent), in the spirit of
IoT Events' non-negative ``severity``; support sorts and filters on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SEVERITY_CRITICAL = 1
SEVERITY_MAJOR = 2
SEVERITY_MINOR = 3


@dataclass(frozen=True, slots=True)
class AlarmBinding:
    model: str
    alarm: str
    title: str
    levels: Mapping[str, int]
    """Detector state -> severity while the alarm rule is breached."""
    runbook: str
    recoveries: frozenset[str] = frozenset()
    """Events whose messages announce that the condition ended (not a new alert)."""

    def alarm_id(self, key: str) -> str:
        return f"{self.model}#{self.alarm}#{key}"

    def severity_in(self, state: str) -> int | None:
        return self.levels.get(state)

    def concerns(self, states: Iterable[str | None]) -> bool:
        """Whether a change between these states can matter to this alarm."""
        return any(state in self.levels for state in states if state is not None)


CATALOG_BINDINGS: tuple[AlarmBinding, ...] = (
    AlarmBinding(
        "wardlink-device-offline",
        "offline",
        "Device offline",
        {"Offline": SEVERITY_MAJOR},
        "device-offline",
        frozenset({"backOnlineTelemetry", "backOnlineStatus"}),
    ),
    AlarmBinding(
        "wardlink-device-fault",
        "fault",
        "Device fault codes",
        {"Faulted": SEVERITY_MAJOR},
        "device-fault",
        frozenset({"faultCleared"}),
    ),
    AlarmBinding(
        "wardlink-battery-low",
        "battery-low",
        "Device battery low",
        {"BatteryLow": SEVERITY_MINOR},
        "battery-low",
        frozenset({"batteryRecovered"}),
    ),
    AlarmBinding(
        "wardlink-gateway-health",
        "gateway-offline",
        "Gateway offline",
        {"Offline": SEVERITY_CRITICAL},
        "gateway-offline",
        frozenset({"backOnline", "backWithBacklog"}),
    ),
    AlarmBinding(
        "wardlink-gateway-health",
        "spool-backlog",
        "Gateway spool backlog",
        {"Backlog": SEVERITY_MAJOR},
        "spool-backlog",
        frozenset({"backlogDrained"}),
    ),
    AlarmBinding(
        "wardlink-vital-signs",
        "vital-signs",
        "Vital signs outside limits",
        {"Warning": SEVERITY_MAJOR, "Critical": SEVERITY_CRITICAL},
        "vital-signs",
        frozenset({"backToNormal"}),
    ),
)


class AlarmCatalog:
    """Bindings by detector model."""

    def __init__(self, bindings: Iterable[AlarmBinding] = CATALOG_BINDINGS) -> None:
        self._by_model: dict[str, list[AlarmBinding]] = {}
        seen: set[tuple[str, str]] = set()
        for binding in bindings:
            if (binding.model, binding.alarm) in seen:
                raise ValueError(f"alarm {binding.model}#{binding.alarm} is bound twice")
            seen.add((binding.model, binding.alarm))
            self._by_model.setdefault(binding.model, []).append(binding)

    def for_model(self, model: str) -> tuple[AlarmBinding, ...]:
        return tuple(self._by_model.get(model, ()))

    def breached(self, model: str, key: str | None, state: str) -> list[tuple[str, int]]:
        """(alarm id, severity) of every alarm this detector state breaches."""
        if key is None:
            return []
        out: list[tuple[str, int]] = []
        for binding in self.for_model(model):
            severity = binding.severity_in(state)
            if severity is not None:
                out.append((binding.alarm_id(key), severity))
        return out

    def is_recovery(self, model: str, event: str) -> bool:
        """Whether messages of this event announce the end of a condition."""
        return any(event in binding.recoveries for binding in self.for_model(model))
