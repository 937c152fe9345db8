"""Envelope items -> store-neutral time-series points.

One point per envelope item, as a multi-measure record: the item's identity goes
into dimensions (gateway, device, MDC code, unit), its values into measures, its
timestamp is the measurement time and its version is the gateway's ``seq``. A
Kinesis replay therefore produces byte-identical points, which Timestream's upsert
treats as a no-op: that is what makes the writer idempotent on ``seq``.

Free-text fields (an observation's ``annotation``, a status ``detail``) are not
stored: they were scrubbed at the edge, but data minimisation says a time-series
table of vitals does not need them.

Items are parsed leniently (unknown fields ignored) because gateways in the field
run older and newer versions; an item that lacks what its kind needs is reported,
not fatal to the rest of the envelope.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from wardlink.model.envelope import SCHEMA_VERSION, RecordKind
from wardlink.model.errors import WardlinkError
from wardlink.model.identity import DEVICE_ID_PATTERN

MeasureType = Literal["DOUBLE", "BIGINT", "VARCHAR", "BOOLEAN"]
MAX_VARCHAR = 2048


class MalformedEnvelopeError(WardlinkError):
    """A stream record that is not a Wardlink envelope at all; retrying cannot help."""


@dataclass(frozen=True)
class MeasureValue:
    name: str
    value: str  # Timestream's wire form: every measure value is a string
    type: MeasureType


@dataclass(frozen=True)
class TelemetryPoint:
    """One multi-measure record. ``version`` is the gateway ``seq`` of the item."""

    measure_name: str
    time_ms: int
    dimensions: tuple[tuple[str, str], ...]
    measures: tuple[MeasureValue, ...]
    version: int

    def dimension(self, name: str) -> str | None:
        return dict(self.dimensions).get(name)

    def measure(self, name: str) -> str | None:
        for measure in self.measures:
            if measure.name == name:
                return measure.value
        return None


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class InboundEnvelope(_Lenient):
    """An envelope as it arrives in the cloud (the edge's ``Envelope.render`` output)."""

    schema_version: str = Field(pattern=r"^wardlink\.envelope/1(\.\d+)?$")
    gateway_id: str = Field(pattern=r"^[A-Za-z0-9:_-]{1,128}$")
    batch_id: str | None = None
    kind: RecordKind
    sent_at: AwareDatetime | None = None
    items: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)

    @classmethod
    def parse(cls, data: bytes | str | dict[str, Any]) -> InboundEnvelope:
        try:
            raw = json.loads(data) if isinstance(data, bytes | str) else data
            return cls.model_validate(raw)
        except (ValueError, ValidationError) as exc:
            raise MalformedEnvelopeError(f"not a {SCHEMA_VERSION} envelope: {exc}") from exc


class _Item(_Lenient):
    seq: int = Field(ge=1)


class _TelemetryItem(_Item):
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    device_model: str | None = None
    mdc_code: int = Field(ge=0)
    mdc_name: str = Field(pattern=r"^MDC_[A-Z0-9_]+$", max_length=256)
    value: float | None = None
    unit: str = Field(min_length=1, max_length=32)
    measured_at: AwareDatetime
    quality: str = Field(min_length=1, max_length=32)
    flags: list[str] = Field(default_factory=list)
    patient_ref: str | None = Field(default=None, max_length=128)


class _StatusItem(_Item):
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    device_model: str | None = None
    at: AwareDatetime
    connectivity: str = Field(min_length=1, max_length=32)
    battery_percent: float | None = None
    error_codes: list[str] = Field(default_factory=list)


class _HealthItem(_Item):
    at: AwareDatetime
    spool_depth: int | None = None
    spool_oldest_age_s: float | None = None
    delivered_per_s: float | None = None
    evicted_total: int | None = None
    connected_devices: int | None = None
    uptime_s: float | None = None


class _AlertItem(_Item):
    model_config = ConfigDict(extra="allow", frozen=True)

    device_id: str | None = Field(default=None, pattern=DEVICE_ID_PATTERN)
    at: AwareDatetime | None = None


@dataclass(frozen=True)
class ItemProblem:
    seq: int | None
    reason: str


def envelope_to_points(
    envelope: InboundEnvelope,
) -> tuple[list[TelemetryPoint], list[ItemProblem]]:
    """Convert every item; bad items are returned as problems, good ones as points."""
    convert = _CONVERTERS[envelope.kind]
    points: list[TelemetryPoint] = []
    problems: list[ItemProblem] = []
    for raw in envelope.items:
        try:
            points.append(convert(envelope, raw))
        except (ValidationError, ValueError) as exc:
            seq = raw.get("seq") if isinstance(raw.get("seq"), int) else None
            problems.append(ItemProblem(seq=seq, reason=_short(exc)))
    return points, problems


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
    return str(exc)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _double(name: str, value: float | None) -> list[MeasureValue]:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return []
    return [MeasureValue(name, repr(float(value)), "DOUBLE")]


def _bigint(name: str, value: int | None) -> list[MeasureValue]:
    return [] if value is None else [MeasureValue(name, str(int(value)), "BIGINT")]


def _varchar(name: str, value: str | None) -> list[MeasureValue]:
    if not value:
        return []
    encoded = value.encode()[:MAX_VARCHAR].decode(errors="ignore")
    return [MeasureValue(name, encoded, "VARCHAR")]


def _dims(**values: str | None) -> tuple[tuple[str, str], ...]:
    return tuple((k, v[:MAX_VARCHAR]) for k, v in values.items() if v)


def _telemetry(env: InboundEnvelope, raw: dict[str, Any]) -> TelemetryPoint:
    item = _TelemetryItem.model_validate(raw)
    measures = [
        *_double("value", item.value),
        *_varchar("quality", item.quality),
        *_varchar("flags", ",".join(item.flags)),
        *_varchar("patient_ref", item.patient_ref),
        *_bigint("seq", item.seq),
    ]
    return TelemetryPoint(
        measure_name=item.mdc_name,
        time_ms=_ms(item.measured_at),
        dimensions=_dims(
            gateway_id=env.gateway_id,
            device_id=item.device_id,
            device_model=item.device_model,
            mdc_code=str(item.mdc_code),
            unit=item.unit,
        ),
        measures=tuple(measures),
        version=item.seq,
    )


def _status(env: InboundEnvelope, raw: dict[str, Any]) -> TelemetryPoint:
    item = _StatusItem.model_validate(raw)
    measures = [
        *_varchar("connectivity", item.connectivity),
        *_double("battery_percent", item.battery_percent),
        *_varchar("error_codes", ",".join(item.error_codes)),
        *_bigint("seq", item.seq),
    ]
    return TelemetryPoint(
        measure_name="device_status",
        time_ms=_ms(item.at),
        dimensions=_dims(
            gateway_id=env.gateway_id, device_id=item.device_id, device_model=item.device_model
        ),
        measures=tuple(measures),
        version=item.seq,
    )


def _health(env: InboundEnvelope, raw: dict[str, Any]) -> TelemetryPoint:
    item = _HealthItem.model_validate(raw)
    measures = [
        *_bigint("spool_depth", item.spool_depth),
        *_double("spool_oldest_age_s", item.spool_oldest_age_s),
        *_double("delivered_per_s", item.delivered_per_s),
        *_bigint("evicted_total", item.evicted_total),
        *_bigint("connected_devices", item.connected_devices),
        *_double("uptime_s", item.uptime_s),
        *_bigint("seq", item.seq),
    ]
    return TelemetryPoint(
        measure_name="gateway_health",
        time_ms=_ms(item.at),
        dimensions=_dims(gateway_id=env.gateway_id),
        measures=tuple(measures),
        version=item.seq,
    )


_ALERT_SKIP = {"seq", "device_id", "at", "detail", "annotation"}


def _alert(env: InboundEnvelope, raw: dict[str, Any]) -> TelemetryPoint:
    item = _AlertItem.model_validate(raw)
    at = item.at or env.sent_at
    if at is None:
        raise ValueError("alert item has no 'at' and the envelope no 'sent_at'")
    measures: list[MeasureValue] = []
    for name, value in sorted((item.model_extra or {}).items()):
        if name in _ALERT_SKIP or value is None:
            continue
        if isinstance(value, bool):
            measures.append(MeasureValue(name, str(value).lower(), "BOOLEAN"))
        elif isinstance(value, int):
            measures.extend(_bigint(name, value))
        elif isinstance(value, float):
            measures.extend(_double(name, value))
        elif isinstance(value, str):
            measures.extend(_varchar(name, value))
        else:
            measures.extend(_varchar(name, json.dumps(value, sort_keys=True)))
    measures.extend(_bigint("seq", item.seq))
    return TelemetryPoint(
        measure_name="device_alert",
        time_ms=_ms(at),
        dimensions=_dims(gateway_id=env.gateway_id, device_id=item.device_id),
        measures=tuple(measures),
        version=item.seq,
    )


_CONVERTERS: dict[RecordKind, Callable[[InboundEnvelope, dict[str, Any]], TelemetryPoint]] = {
    RecordKind.TELEMETRY: _telemetry,
    RecordKind.STATUS: _status,
    RecordKind.HEALTH: _health,
    RecordKind.ALERT: _alert,
}
