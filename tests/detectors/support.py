"""Builders for small detector models and a harness that replays inputs on a virtual clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wardlink.detectors import DetectorInstance, DetectorModel
from wardlink.detectors.replay import Replay, ReplayEvent
from wardlink.detectors.timeutil import format_iso_ms, parse_iso_ms

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "cloud" / "src" / "wardlink" / "detectors" / "catalog"
DATA = Path(__file__).resolve().parent / "data"
BASE_MS = parse_iso_ms("2026-11-21T10:00:00Z")


def at(seconds: float) -> int:
    """Milliseconds of ``seconds`` after the test epoch (2026-11-21T10:00:00Z)."""
    return BASE_MS + int(seconds * 1000)


def iso(seconds: float) -> str:
    return format_iso_ms(at(seconds))


# -- model builders ------------------------------------------------------------------------------


def model_request(
    states: list[dict[str, Any]],
    *,
    initial: str | None = None,
    key: str | None = "id",
    method: str = "BATCH",
    name: str = "test-model",
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "detectorModelName": name,
        "detectorModelDefinition": {
            "states": states,
            "initialStateName": initial or states[0]["stateName"],
        },
        "roleArn": "arn:aws:iam::123456789012:role/test",
        "evaluationMethod": method,
    }
    if key is not None:
        request["key"] = key
    return request


def state(
    name: str,
    *,
    enter: list[dict[str, Any]] | None = None,
    on_input: list[dict[str, Any]] | None = None,
    transitions: list[dict[str, Any]] | None = None,
    exit: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"stateName": name}
    if enter:
        out["onEnter"] = {"events": enter}
    if on_input or transitions:
        out["onInput"] = {"events": on_input or [], "transitionEvents": transitions or []}
    if exit:
        out["onExit"] = {"events": exit}
    return out


def event(name: str, condition: str | None, *actions: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"eventName": name, "actions": list(actions)}
    if condition is not None:
        out["condition"] = condition
    return out


def transition(
    name: str, condition: str, next_state: str, *actions: dict[str, Any]
) -> dict[str, Any]:
    return {
        "eventName": name,
        "condition": condition,
        "actions": list(actions),
        "nextState": next_state,
    }


def set_var(name: str, value: str) -> dict[str, Any]:
    return {"setVariable": {"variableName": name, "value": value}}


def set_timer(
    name: str, seconds: int | None = None, expression: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"timerName": name}
    if seconds is not None:
        body["seconds"] = seconds
    if expression is not None:
        body["durationExpression"] = expression
    return {"setTimer": body}


def reset_timer(name: str) -> dict[str, Any]:
    return {"resetTimer": {"timerName": name}}


def clear_timer(name: str) -> dict[str, Any]:
    return {"clearTimer": {"timerName": name}}


def sns(content: str | None = None, kind: str = "STRING") -> dict[str, Any]:
    body: dict[str, Any] = {"targetArn": "arn:aws:sns:us-east-1:123456789012:test"}
    if content is not None:
        body["payload"] = {"contentExpression": content, "type": kind}
    return {"sns": body}


def note(text: str) -> dict[str, Any]:
    """An SNS action whose STRING payload is ``text``: a marker to see which events ran."""
    return sns(f"'{text}'")


# -- harness -------------------------------------------------------------------------------------


class Harness:
    """Replays inputs one at a time; ``lines`` are the replay output, ``diagnostics`` stderr."""

    def __init__(self, *models: DetectorModel | dict[str, Any]) -> None:
        loaded = [
            m if isinstance(m, DetectorModel) else DetectorModel.from_request(m) for m in models
        ]
        self.models = loaded
        self.lines: list[dict[str, Any]] = []
        self.diagnostics: list[dict[str, Any]] = []
        self.replay = Replay(loaded, self.lines.append, self.diagnostics.append)
        self._line = 0

    def send(
        self,
        input_name: str,
        payload: dict[str, Any],
        seconds: float,
        message_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Feed one input at ``seconds`` after the epoch; returns the lines it produced."""
        self._line += 1
        start = len(self.lines)
        self.replay.feed(
            ReplayEvent(
                at(seconds), input_name, payload, message_id or f"{self._line:05d}", self._line
            )
        )
        return self.lines[start:]

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        start = len(self.lines)
        self.replay.advance(at(seconds))
        return self.lines[start:]

    def instance(self, key: str | None, model: str | None = None) -> DetectorInstance:
        stored = self.replay.store.get(model or self.models[0].name, key)
        assert stored is not None, f"no instance for key {key!r}"
        return stored.instance

    def state_of(self, key: str | None, model: str | None = None) -> str:
        return self.instance(key, model).state_name

    def notes(self) -> list[Any]:
        """Payloads of all actions so far, in order."""
        return [line["payload"] for line in self.lines if line["type"] == "action"]

    def transitions(self) -> list[tuple[str | None, str]]:
        return [(line["from"], line["to"]) for line in self.lines if line["type"] == "transition"]


def only_actions(lines: list[dict[str, Any]]) -> list[Any]:
    return [line["payload"] for line in lines if line["type"] == "action"]
