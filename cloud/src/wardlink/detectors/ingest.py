"""From uplink envelopes to detector inputs, and from inputs to every model that uses them.

IoT Events received one JSON message per input; our gateways send envelopes
(``wardlink.envelope/1``) that batch many items of one kind. The flattening
contract (docs/detectors.md) turns each item into one input message:

- ``telemetry`` items -> ``WardlinkTelemetry``, ``status`` and ``alert`` items ->
  ``WardlinkStatus``, ``health`` items -> ``WardlinkHealth``. The gateway sends a
  device status that carries error codes on the ``alert`` topic (it jumps the
  queue), but it is the same status item, so the fault model must see it;
- every message gets ``gateway_id`` from the envelope, which the IoT rule stamps
  from the MQTT topic (``topic(3)``). The topic is the authenticated source, so it
  wins over whatever the item itself claims;
- telemetry and status messages also get ``device_uid = "{gateway_id}/{device_id}"``,
  the Devices table key, because device ids are only unique per gateway and the
  device models are keyed by it;
- a health item in state ``maintenance`` (a gateway stopping on purpose) also
  becomes one ``WardlinkStatus`` message per device it names, with connectivity
  ``maintenance`` and the item's ``at`` and ``seq``. The device models are keyed
  by device, and an IoT Events detector only sees messages with its own key: this
  is how each device's offline detector learns that its silence is planned.
  Gateways never send that connectivity themselves.

A bad item is reported and skipped, never fatal to its siblings; an envelope that
is not ``wardlink.envelope/1`` at all is refused as a whole (fail closed: an
unknown schema version might mean something else by the same field names).

``DetectorSet`` runs one message through every loaded model that references its
input, the job the IoT Events service did when routing inputs to detector models.
It is shared by the engine Lambda (``wardlink.detectors.aws``) and the local runner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wardlink.detectors.engine import DetectorEngine
from wardlink.detectors.errors import DetectorModelError, InputRejectedError
from wardlink.detectors.evaluator import Outcome
from wardlink.detectors.model import DetectorModel
from wardlink.detectors.sinks import ActionSink
from wardlink.detectors.store import StateStore
from wardlink.detectors.timers import TimerRef, TimerScheduler

SCHEMA_VERSION = "wardlink.envelope/1"
INPUT_FOR_KIND: Mapping[str, str] = {
    "telemetry": "WardlinkTelemetry",
    "status": "WardlinkStatus",
    "alert": "WardlinkStatus",
    "health": "WardlinkHealth",
}
KINDS_WITHOUT_INPUT: frozenset[str] = frozenset()
DEVICE_KINDS = frozenset({"telemetry", "status", "alert"})
MAINTENANCE = "maintenance"
"""A health item's ``state`` when the gateway stops on purpose; also the connectivity
of the per-device messages made from it."""

_GATEWAY_ID = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class EnvelopeError(ValueError):
    """The data is not a usable ``wardlink.envelope/1``; nothing in it can be evaluated."""


@dataclass(frozen=True, slots=True)
class InputMessage:
    """One detector input message: what IoT Events' BatchPutMessage carried."""

    input_name: str
    payload: dict[str, Any]
    message_id: str
    """Deterministic (``{gateway_id}/{kind}/{seq}``), so a redelivered item has the same id."""
    gateway_id: str
    seq: int | None


@dataclass(frozen=True, slots=True)
class ItemProblem:
    index: int
    seq: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Flattened:
    gateway_id: str
    kind: str
    batch_id: str
    messages: tuple[InputMessage, ...]
    problems: tuple[ItemProblem, ...] = ()


def parse_envelope(data: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    """Decode and check the envelope header; raises ``EnvelopeError`` with the reason."""
    if isinstance(data, Mapping):
        document: Any = dict(data)
    else:
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise EnvelopeError("an envelope must be a JSON object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise EnvelopeError(f"schema_version must be {SCHEMA_VERSION!r}, got {version!r}")
    gateway_id = document.get("gateway_id")
    if not isinstance(gateway_id, str) or not _GATEWAY_ID.match(gateway_id):
        raise EnvelopeError(f"gateway_id {gateway_id!r} is not a thing name")
    kind = document.get("kind")
    if kind not in INPUT_FOR_KIND and kind not in KINDS_WITHOUT_INPUT:
        raise EnvelopeError(f"unknown envelope kind {kind!r}")
    if not isinstance(document.get("items"), list):
        raise EnvelopeError("'items' must be a list")
    return document


def flatten_envelope(data: bytes | str | Mapping[str, Any]) -> Flattened:
    """One ``InputMessage`` per usable item, in envelope order, plus the problems found."""
    envelope = parse_envelope(data)
    gateway_id: str = envelope["gateway_id"]
    kind: str = envelope["kind"]
    batch_id = str(envelope.get("batch_id") or "")
    if kind in KINDS_WITHOUT_INPUT:
        return Flattened(gateway_id, kind, batch_id, ())
    input_name = INPUT_FOR_KIND[kind]
    messages: list[InputMessage] = []
    problems: list[ItemProblem] = []
    for index, item in enumerate(envelope["items"]):
        seq = _seq_of(item)
        try:
            payload = _flatten_item(item, kind, gateway_id)
        except ValueError as exc:
            problems.append(ItemProblem(index, seq, str(exc)))
            continue
        message_id = (
            f"{gateway_id}/{kind}/{seq}" if seq is not None else f"{gateway_id}/{batch_id}/{index}"
        )
        messages.append(InputMessage(input_name, payload, message_id, gateway_id, seq))
        if kind == "health" and payload.get("state") == MAINTENANCE:
            held, refused = _maintenance_messages(payload, gateway_id, seq)
            messages.extend(held)
            problems.extend(ItemProblem(index, seq, reason) for reason in refused)
    return Flattened(gateway_id, kind, batch_id, tuple(messages), tuple(problems))


def _maintenance_messages(
    item: dict[str, Any], gateway_id: str, seq: int | None
) -> tuple[list[InputMessage], list[str]]:
    """One ``WardlinkStatus`` (connectivity ``maintenance``) per device a maintenance
    health item names, and the reasons for the device ids that could not be used.

    The ``seq`` is required: the device model ends the hold only on data numbered
    after the announcement, so a notice without one would hold nothing safely.
    """
    devices = item.get("maintenance_devices", [])
    if not isinstance(devices, list):
        return [], ["maintenance_devices must be a list"]
    if seq is None:
        return [], ["a maintenance item without seq cannot hold any device"] if devices else []
    messages: list[InputMessage] = []
    refused: list[str] = []
    for device_id in dict.fromkeys(devices):
        if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
            refused.append(f"maintenance device {device_id!r} is not a device id")
            continue
        payload = {
            "device_uid": f"{gateway_id}/{device_id}",
            "device_id": device_id,
            "gateway_id": gateway_id,
            "at": item.get("at"),
            "connectivity": MAINTENANCE,
            "seq": seq,
        }
        message_id = f"{gateway_id}/health/{seq}/{device_id}"
        messages.append(InputMessage("WardlinkStatus", payload, message_id, gateway_id, seq))
    return messages, refused


def _seq_of(item: Any) -> int | None:
    if isinstance(item, dict):
        seq = item.get("seq")
        if type(seq) is int:
            return seq
    return None


def _flatten_item(item: Any, kind: str, gateway_id: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError("an item must be a JSON object")
    payload = dict(item)
    payload["gateway_id"] = gateway_id
    if kind in DEVICE_KINDS:
        device_id = item.get("device_id")
        if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
            raise ValueError(f"device_id {device_id!r} is missing or not a device id")
        payload["device_uid"] = f"{gateway_id}/{device_id}"
    return payload


# -- routing to models ---------------------------------------------------------------


def load_models(models_dir: str | Path) -> list[DetectorModel]:
    """Every ``*.json`` directly in ``models_dir`` (``inputs/`` holds CreateInput requests).

    All files are loaded before anything fails, so one report lists every bad model.
    """
    directory = Path(models_dir)
    paths = sorted(p for p in directory.glob("*.json") if p.is_file())
    if not paths:
        raise FileNotFoundError(f"no detector models (*.json) in {directory}")
    models: list[DetectorModel] = []
    problems: list[str] = []
    for path in paths:
        try:
            models.append(DetectorModel.from_file(path))
        except DetectorModelError as exc:
            problems.extend(f"{path.name}: {problem}" for problem in exc.problems)
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: {exc}")
    if problems:
        raise DetectorModelError(str(directory), problems)
    names = [model.name for model in models]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DetectorModelError(str(directory), [f"duplicate model names: {duplicates}"])
    return models


@dataclass(frozen=True, slots=True)
class Evaluated:
    """A message or timer that a model evaluated (and committed)."""

    model: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message a model could not route (e.g. no key); dead-letter or log it."""

    model: str
    reason: str


@dataclass(slots=True)
class Routed:
    evaluated: list[Evaluated] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    used: bool = False
    """False when no model references the input at all."""


class DetectorSet:
    """Engines for several models over one store, one scheduler and one sink."""

    def __init__(
        self,
        models: Sequence[DetectorModel],
        store: StateStore,
        scheduler: TimerScheduler,
        sink: ActionSink,
        *,
        max_attempts: int = 8,
    ) -> None:
        self.engines: dict[str, DetectorEngine] = {}
        for model in models:
            if model.name in self.engines:
                raise ValueError(f"detector model {model.name!r} is loaded twice")
            self.engines[model.name] = DetectorEngine(
                model, store, scheduler, sink, max_attempts=max_attempts
            )

    def __iter__(self) -> Iterator[DetectorEngine]:
        return iter(self.engines.values())

    def deliver(self, message: InputMessage, at_ms: int) -> Routed:
        """Evaluate ``message`` in every model that uses its input, in load order.

        Rejections are collected; any other exception (a store or sink failure) is
        raised so the caller can hand the message back for redelivery.
        """
        routed = Routed()
        for name, engine in self.engines.items():
            if not engine.accepts(message.input_name):
                continue
            routed.used = True
            try:
                outcome = engine.handle_message(
                    message.input_name, message.payload, at_ms, message.message_id
                )
            except InputRejectedError as exc:
                routed.rejected.append(Rejected(name, str(exc)))
                continue
            if outcome is not None:
                routed.evaluated.append(Evaluated(name, outcome))
        return routed

    def fire(self, timer: TimerRef, due_ms: int, at_ms: int | None = None) -> Evaluated | None:
        """Evaluate a timer firing; None if it is stale or its model is not loaded."""
        engine = self.engines.get(timer.model)
        if engine is None:
            return None
        outcome = engine.handle_timer(timer.key, timer.name, due_ms, at_ms)
        return Evaluated(timer.model, outcome) if outcome is not None else None
