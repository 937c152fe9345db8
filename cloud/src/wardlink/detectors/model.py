"""Detector models: a CreateDetectorModel request, loaded and compiled.

The JSON format is IoT Events' own (so existing models carry over unchanged).
Loading compiles every expression once and checks what the service checked at
publish time (state references, one action per action object, quotas, parse
errors), reporting all problems at once. Shape checks against the published API
request shape live in ``wardlink.detectors.validation``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from wardlink.detectors.actions import (
    EXTERNAL_ACTION_KINDS,
    Action,
    ClearTimer,
    ExternalAction,
    PayloadSpec,
    ResetTimer,
    SetTimer,
    SetVariable,
    compile_field,
)
from wardlink.detectors.errors import DetectorModelError
from wardlink.detectors.expressions import CompiledExpression, ExpressionError, compile_expression

MAX_STATES = 20
MAX_EVENTS_PER_STATE = 20
MAX_TRANSITIONS_PER_STATE = 20
MAX_ACTIONS_PER_EVENT = 10
MAX_CONTENT_EXPRESSION_BYTES = 1024
MAX_TIMER_SECONDS = 31_622_400

_KEY_SEGMENT = re.compile(r"`([\w\- ]+)`|([\w\-]+)")


class EvaluationMethod(StrEnum):
    """BATCH (the default): conditions of a group see variables as they were when the
    group started. SERIAL: each event sees the effects of the events before it."""

    BATCH = "BATCH"
    SERIAL = "SERIAL"


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    condition: CompiledExpression | None
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class TransitionEvent:
    name: str
    condition: CompiledExpression
    actions: tuple[Action, ...]
    next_state: str


@dataclass(frozen=True, slots=True)
class State:
    name: str
    on_enter: tuple[Event, ...] = ()
    on_input: tuple[Event, ...] = ()
    transitions: tuple[TransitionEvent, ...] = ()
    on_exit: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyPath:
    """The model's ``key``: a dotted attribute path into the input payload."""

    source: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, source: str) -> KeyPath:
        segments: list[str] = []
        for piece in _split_key(source):
            match = _KEY_SEGMENT.fullmatch(piece)
            if match is None:
                raise ValueError(f"key {source!r}: bad segment {piece!r}")
            segments.append(match.group(1) or match.group(2))
        return cls(source, tuple(segments))

    def extract(self, payload: Any) -> str | None:
        """The key value of a message, or None if it has none usable.

        Strings are used as they are; integers are written in decimal. Anything
        else (missing, null, Boolean, Decimal, object) cannot identify an instance.
        """
        value = payload
        for segment in self.segments:
            if type(value) is not dict:
                return None
            value = value.get(segment)
        if type(value) is str and value:
            return value
        if type(value) is int:
            return str(value)
        return None


def _split_key(source: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    for char in source:
        if char == "`":
            quoted = not quoted
        if char == "." and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


@dataclass(frozen=True, slots=True)
class DetectorModel:
    name: str
    states: Mapping[str, State]
    initial_state: str
    key: KeyPath | None = None
    evaluation_method: EvaluationMethod = EvaluationMethod.BATCH
    description: str | None = None
    role_arn: str | None = None
    version: str = "1"
    inputs: frozenset[str] = field(default_factory=frozenset)
    """Inputs referenced anywhere in the model; only these are routed to it."""
    expressions: tuple[CompiledExpression, ...] = ()

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> DetectorModel:
        return _Loader(request).load()

    @classmethod
    def from_file(cls, path: str | Path) -> DetectorModel:
        text = Path(path).read_text(encoding="utf-8")
        try:
            request = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DetectorModelError(str(path), [f"not valid JSON: {exc}"]) from exc
        if not isinstance(request, dict):
            raise DetectorModelError(str(path), ["top level must be a JSON object"])
        return cls.from_request(request)


class _Loader:
    def __init__(self, request: Mapping[str, Any]) -> None:
        self.request = request
        self.problems: list[str] = []
        self.expressions: list[CompiledExpression] = []
        name = request.get("detectorModelName")
        self.name = name if isinstance(name, str) and name else "<unnamed>"

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def load(self) -> DetectorModel:
        request = self.request
        if self.name == "<unnamed>":
            self.problem("", "detectorModelName is required")
        definition = request.get("detectorModelDefinition")
        states: dict[str, State] = {}
        initial = ""
        if not isinstance(definition, Mapping):
            self.problem("", "detectorModelDefinition (an object) is required")
        else:
            states = self.states(definition.get("states"))
            initial = definition.get("initialStateName") or ""
            if not isinstance(initial, str) or initial not in states:
                self.problem("", f"initialStateName {initial!r} is not a defined state")
            for state in states.values():
                for transition in state.transitions:
                    if transition.next_state not in states:
                        self.problem(
                            f"state {state.name} transition {transition.name}",
                            f"nextState {transition.next_state!r} is not a defined state",
                        )
        key = self.key(request.get("key"))
        method = self.evaluation_method(request.get("evaluationMethod"))
        inputs = frozenset(name for expr in self.expressions for name in expr.inputs)
        if states and not inputs:
            self.problem("", "no condition references an input, so no message would reach it")
        if self.problems:
            raise DetectorModelError(self.name, self.problems)
        description = request.get("detectorModelDescription")
        role_arn = request.get("roleArn")
        return DetectorModel(
            name=self.name,
            states=states,
            initial_state=str(initial),
            key=key,
            evaluation_method=method,
            description=description if isinstance(description, str) else None,
            role_arn=role_arn if isinstance(role_arn, str) else None,
            inputs=inputs,
            expressions=tuple(self.expressions),
        )

    def key(self, raw: Any) -> KeyPath | None:
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw:
            self.problem("", "key must be a non-empty attribute path")
            return None
        try:
            return KeyPath.parse(raw)
        except ValueError as exc:
            self.problem("", str(exc))
            return None

    def evaluation_method(self, raw: Any) -> EvaluationMethod:
        if raw is None:
            return EvaluationMethod.BATCH
        try:
            return EvaluationMethod(raw)
        except ValueError:
            self.problem("", f"evaluationMethod must be BATCH or SERIAL, not {raw!r}")
            return EvaluationMethod.BATCH

    def states(self, raw: Any) -> dict[str, State]:
        if not isinstance(raw, list) or not raw:
            self.problem("", "detectorModelDefinition.states must be a non-empty list")
            return {}
        if len(raw) > MAX_STATES:
            self.problem("", f"{len(raw)} states; IoT Events allows at most {MAX_STATES}")
        states: dict[str, State] = {}
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping) or not isinstance(item.get("stateName"), str):
                self.problem(f"states[{index}]", "a state needs a stateName")
                continue
            state = self.state(item)
            if state.name in states:
                self.problem(f"state {state.name}", "state name is used more than once")
            states[state.name] = state
        return states

    def state(self, raw: Mapping[str, Any]) -> State:
        name = raw["stateName"]
        on_enter = self.events(raw.get("onEnter"), f"state {name} onEnter")
        on_exit = self.events(raw.get("onExit"), f"state {name} onExit")
        on_input_raw = raw.get("onInput")
        on_input = self.events(on_input_raw, f"state {name} onInput")
        transitions: list[TransitionEvent] = []
        if isinstance(on_input_raw, Mapping):
            raw_transitions = on_input_raw.get("transitionEvents") or []
            if len(raw_transitions) > MAX_TRANSITIONS_PER_STATE:
                self.problem(
                    f"state {name}",
                    f"{len(raw_transitions)} transition events; at most "
                    f"{MAX_TRANSITIONS_PER_STATE} allowed",
                )
            for index, item in enumerate(raw_transitions):
                transition = self.transition(item, f"state {name} transitionEvents[{index}]")
                if transition is not None:
                    transitions.append(transition)
        total_events = len(on_enter) + len(on_input) + len(on_exit)
        if total_events > MAX_EVENTS_PER_STATE:
            self.problem(
                f"state {name}", f"{total_events} events; at most {MAX_EVENTS_PER_STATE} allowed"
            )
        return State(name, on_enter, on_input, tuple(transitions), on_exit)

    def events(self, lifecycle: Any, where: str) -> tuple[Event, ...]:
        if lifecycle is None:
            return ()
        if not isinstance(lifecycle, Mapping):
            self.problem(where, "must be an object with an 'events' list")
            return ()
        raw_events = lifecycle.get("events") or []
        if not isinstance(raw_events, list):
            self.problem(where, "'events' must be a list")
            return ()
        events: list[Event] = []
        for index, raw in enumerate(raw_events):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("eventName"), str):
                self.problem(f"{where} events[{index}]", "an event needs an eventName")
                continue
            event_where = f"{where} event {raw['eventName']!r}"
            condition_text = raw.get("condition")
            condition = None
            if condition_text is not None:
                condition = self.expression(condition_text, f"{event_where} condition")
            actions = self.actions(raw.get("actions"), event_where)
            events.append(Event(raw["eventName"], condition, actions))
        return tuple(events)

    def transition(self, raw: Any, where: str) -> TransitionEvent | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("eventName"), str):
            self.problem(where, "a transition event needs an eventName")
            return None
        where = f"{where} {raw['eventName']!r}"
        next_state = raw.get("nextState")
        if not isinstance(next_state, str) or not next_state:
            self.problem(where, "nextState is required")
            return None
        if raw.get("condition") is None:
            self.problem(where, "condition is required for a transition event")
            return None
        condition = self.expression(raw["condition"], f"{where} condition")
        actions = self.actions(raw.get("actions"), where)
        if condition is None:
            return None
        return TransitionEvent(raw["eventName"], condition, actions, next_state)

    def expression(self, text: Any, where: str) -> CompiledExpression | None:
        if not isinstance(text, str):
            self.problem(where, f"expected an expression string, got {type(text).__name__}")
            return None
        try:
            compiled = compile_expression(text)
        except ExpressionError as exc:
            self.problem(where, str(exc))
            return None
        self.expressions.append(compiled)
        return compiled

    def actions(self, raw: Any, where: str) -> tuple[Action, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(where, "actions must be a list")
            return ()
        if len(raw) > MAX_ACTIONS_PER_EVENT:
            self.problem(where, f"{len(raw)} actions; at most {MAX_ACTIONS_PER_EVENT} allowed")
        out: list[Action] = []
        for index, item in enumerate(raw):
            action = self.action(item, f"{where} actions[{index}]")
            if action is not None:
                out.append(action)
        return tuple(out)

    def action(self, raw: Any, where: str) -> Action | None:
        if not isinstance(raw, Mapping):
            self.problem(where, "an action must be an object")
            return None
        kinds = [kind for kind, value in raw.items() if value is not None]
        if len(kinds) != 1:
            self.problem(where, f"an action object needs exactly one action type, found {kinds}")
            return None
        kind = kinds[0]
        body = raw[kind]
        if not isinstance(body, Mapping):
            self.problem(where, f"{kind} must be an object")
            return None
        where = f"{where} {kind}"
        if kind == "setVariable":
            name, value = body.get("variableName"), body.get("value")
            if not isinstance(name, str) or not name:
                self.problem(where, "variableName is required")
                return None
            compiled = self.expression(value, f"{where} value")
            return SetVariable(name, compiled) if compiled is not None else None
        if kind == "setTimer":
            return self.set_timer(body, where)
        if kind in ("resetTimer", "clearTimer"):
            timer = body.get("timerName")
            if not isinstance(timer, str) or not timer:
                self.problem(where, "timerName is required")
                return None
            return ResetTimer(timer) if kind == "resetTimer" else ClearTimer(timer)
        if kind in EXTERNAL_ACTION_KINDS:
            return self.external(kind, body, where)
        self.problem(where, f"unknown action type {kind!r}")
        return None

    def set_timer(self, body: Mapping[str, Any], where: str) -> Action | None:
        timer = body.get("timerName")
        if not isinstance(timer, str) or not timer:
            self.problem(where, "timerName is required")
            return None
        seconds, duration = body.get("seconds"), body.get("durationExpression")
        if (seconds is None) == (duration is None):
            self.problem(where, "exactly one of seconds and durationExpression is required")
            return None
        if seconds is not None:
            if type(seconds) is not int or not 1 <= seconds <= MAX_TIMER_SECONDS:
                self.problem(where, f"seconds must be an integer 1..{MAX_TIMER_SECONDS}")
                return None
            return SetTimer(timer, seconds, None)
        compiled = self.expression(duration, f"{where} durationExpression")
        return SetTimer(timer, None, compiled) if compiled is not None else None

    def external(self, kind: str, body: Mapping[str, Any], where: str) -> Action | None:
        payload = None
        raw_payload = body.get("payload")
        if raw_payload is not None:
            payload = self.payload(raw_payload, f"{where} payload")
            if payload is None:
                return None
        fields: dict[str, Any] = {}
        for name, value in body.items():
            if name == "payload" or value is None:
                continue
            try:
                fields[name] = compile_field(value)
            except (ExpressionError, TypeError) as exc:
                self.problem(f"{where} {name}", str(exc))
                return None
            self.expressions.extend(_expressions_in(fields[name]))
        return ExternalAction(kind, fields, payload)

    def payload(self, raw: Any, where: str) -> PayloadSpec | None:
        if not isinstance(raw, Mapping):
            self.problem(where, "payload must be an object")
            return None
        kind = raw.get("type")
        if kind not in ("STRING", "JSON"):
            self.problem(where, f"payload type must be STRING or JSON, not {kind!r}")
            return None
        text = raw.get("contentExpression")
        if isinstance(text, str) and len(text.encode()) > MAX_CONTENT_EXPRESSION_BYTES:
            self.problem(
                where,
                f"contentExpression is {len(text.encode())} bytes; "
                f"at most {MAX_CONTENT_EXPRESSION_BYTES} allowed",
            )
        compiled = self.expression(text, f"{where} contentExpression")
        if compiled is None:
            return None
        return PayloadSpec(compiled, "JSON" if kind == "JSON" else "STRING")


def _expressions_in(spec: Any) -> Iterable[CompiledExpression]:
    if isinstance(spec, CompiledExpression):
        yield spec
    elif isinstance(spec, Mapping):
        for item in spec.values():
            yield from _expressions_in(item)
