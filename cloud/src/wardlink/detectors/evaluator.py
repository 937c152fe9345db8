"""One evaluation of one detector instance: pure, no I/O.

Given the stored instance (or None for a new key) and a trigger (an input
message or a timer firing), ``evaluate`` returns the next instance and an
ordered list of records: state changes, rendered external actions, and notices
about actions that could not run. The engine commits the instance and only then
delivers the actions.

Order of one evaluation (documented in docs/detectors.md with its sources):

1. A new instance starts in ``initialStateName`` and runs that state's onEnter.
2. onInput: ``events`` and then ``transitionEvents`` of the current state.
   - BATCH: every condition (events and transitions) is evaluated first, against
     the variables as they were before this step; then the actions of the events
     whose condition held run in order.
   - SERIAL: each event's condition is evaluated and its actions run before the
     next event; transition conditions then see those updates.
   The first transition whose condition holds is taken.
3. On a transition: onExit of the old state, the transition's actions, the state
   change, onEnter of the new state. Each of onExit/onEnter is a group evaluated
   the same way (BATCH: conditions first, then actions).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from wardlink.detectors.actions import (
    Action,
    ClearTimer,
    ExternalAction,
    RenderedAction,
    ResetTimer,
    SetTimer,
    SetVariable,
    TriggerDetails,
    TriggerType,
    resolve_field,
)
from wardlink.detectors.expressions import CompiledExpression, EvalContext, type_name
from wardlink.detectors.instance import DetectorInstance
from wardlink.detectors.model import MAX_TIMER_SECONDS, DetectorModel, EvaluationMethod, Event
from wardlink.detectors.payloads import PayloadRenderError, default_payload, render_content

_EXECUTION_NAMESPACE = uuid.UUID("5f0b7a52-6a39-4c1e-9d0e-1f5b2f8a7c11")
_VARIABLE_TYPES = frozenset({bool, int, float, str})


@dataclass(frozen=True, slots=True)
class Trigger:
    """Why an evaluation runs: an input message or a timer firing."""

    trigger_type: TriggerType
    time_ms: int
    input_name: str | None = None
    payload: Any = None
    message_id: str | None = None
    timer_name: str | None = None

    @classmethod
    def message(
        cls, input_name: str, payload: Any, time_ms: int, message_id: str | None = None
    ) -> Trigger:
        return cls("Message", time_ms, input_name, payload, message_id)

    @classmethod
    def timer(cls, timer_name: str, time_ms: int) -> Trigger:
        return cls("Timer", time_ms, timer_name=timer_name)

    def details(self) -> TriggerDetails:
        if self.trigger_type == "Timer":
            return TriggerDetails("Timer", timer_name=self.timer_name)
        return TriggerDetails("Message", input_name=self.input_name, message_id=self.message_id)


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change; ``from_state`` is None when the instance was just created."""

    key: str | None
    from_state: str | None
    to_state: str
    time_ms: int
    event_name: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """An action that did not run (undefined value, bad timer duration, ...)."""

    key: str | None
    time_ms: int
    state_name: str
    event_name: str
    message: str


Record = Transition | RenderedAction | Notice


@dataclass(slots=True)
class Outcome:
    """What one evaluation produced. ``instance`` is the committed state: read, don't mutate."""

    key: str | None
    instance: DetectorInstance
    records: list[Record] = field(default_factory=list)
    created: bool = False

    @property
    def transitions(self) -> list[Transition]:
        return [r for r in self.records if isinstance(r, Transition)]

    @property
    def actions(self) -> list[RenderedAction]:
        return [r for r in self.records if isinstance(r, RenderedAction)]

    @property
    def notices(self) -> list[Notice]:
        return [r for r in self.records if isinstance(r, Notice)]


def evaluate(
    model: DetectorModel, key: str | None, instance: DetectorInstance | None, trigger: Trigger
) -> Outcome | None:
    """Evaluate ``trigger`` on a working copy; None when there is nothing to evaluate.

    ``instance`` is modified in place: pass a copy of what the store holds.
    A timer firing for an instance that does not exist is None (nothing to do).
    """
    created = instance is None
    if instance is None:
        if trigger.trigger_type == "Timer":
            return None
        instance = DetectorInstance(
            state_name=model.initial_state, created_ms=trigger.time_ms, updated_ms=trigger.time_ms
        )
    return _Evaluation(model, key, instance, trigger).run(created)


class _Evaluation:
    __slots__ = (
        "action_count",
        "batch",
        "checked_timers",
        "context",
        "instance",
        "key",
        "model",
        "now",
        "records",
        "touched_timers",
        "trigger",
    )

    def __init__(
        self, model: DetectorModel, key: str | None, instance: DetectorInstance, trigger: Trigger
    ) -> None:
        self.model = model
        self.key = key
        self.instance = instance
        self.trigger = trigger
        self.now = trigger.time_ms
        self.records: list[Record] = []
        self.checked_timers: set[str] = set()
        self.touched_timers: set[str] = set()
        self.action_count = 0
        self.batch = model.evaluation_method is EvaluationMethod.BATCH
        self.context = EvalContext(
            variables=instance.variables,
            inputs=instance.inputs,
            current_input=trigger.input_name if trigger.trigger_type == "Message" else None,
            trigger_type=trigger.trigger_type,
            timer_probe=self.probe_timer,
        )

    def probe_timer(self, name: str) -> bool:
        if name in self.instance.expired_timers:
            self.checked_timers.add(name)
            return True
        return False

    def holds(self, condition: CompiledExpression | None) -> bool:
        return condition is None or condition.evaluate(self.context) is True

    def fired(self, events: tuple[Event, ...]) -> list[Event]:
        """Events whose condition holds, all evaluated before any action runs (BATCH)."""
        context = self.context
        return [
            event
            for event in events
            if event.condition is None or event.condition.evaluate(context) is True
        ]

    def run(self, created: bool) -> Outcome:
        instance, trigger = self.instance, self.trigger
        if trigger.trigger_type == "Message" and trigger.input_name is not None:
            instance.inputs[trigger.input_name] = trigger.payload
        elif trigger.timer_name is not None:
            instance.timers.pop(trigger.timer_name, None)
            instance.expired_timers.add(trigger.timer_name)
        states = self.model.states
        if created:
            self.records.append(Transition(self.key, None, instance.state_name, self.now))
            self.run_group(states[instance.state_name].on_enter)
        state = states[instance.state_name]
        if self.batch:
            fired = self.fired(state.on_input)
            chosen = next((t for t in state.transitions if self.holds(t.condition)), None)
            for event in fired:
                self.run_actions(event.name, event.actions)
        else:
            context = self.context
            for event in state.on_input:
                condition = event.condition
                if condition is None or condition.evaluate(context) is True:
                    self.run_actions(event.name, event.actions)
            chosen = next((t for t in state.transitions if self.holds(t.condition)), None)
        if chosen is not None:
            self.run_group(state.on_exit)
            self.run_actions(chosen.name, chosen.actions)
            instance.state_name = chosen.next_state
            self.records.append(
                Transition(self.key, state.name, chosen.next_state, self.now, chosen.name)
            )
            self.run_group(states[chosen.next_state].on_enter)
        instance.expired_timers -= self.checked_timers | self.touched_timers
        instance.updated_ms = self.now
        return Outcome(self.key, instance, self.records, created)

    def run_group(self, events: tuple[Event, ...]) -> None:
        if self.batch:
            for event in self.fired(events):
                self.run_actions(event.name, event.actions)
        else:
            for event in events:
                if self.holds(event.condition):
                    self.run_actions(event.name, event.actions)

    def run_actions(self, event_name: str, actions: tuple[Action, ...]) -> None:
        variables = self.instance.variables
        for action in actions:  # most frequent kinds first
            if isinstance(action, SetVariable):
                value = action.value.evaluate(self.context)
                if type(value) in _VARIABLE_TYPES:
                    variables[action.name] = value
                else:
                    self.refuse_variable(event_name, action, value)
            elif isinstance(action, ResetTimer):
                self.reset_timer(event_name, action.name)
            elif isinstance(action, SetTimer):
                self.set_timer(event_name, action)
            elif isinstance(action, ClearTimer):
                self.instance.timers.pop(action.name, None)
                self.touched_timers.add(action.name)
            else:
                self.records.append(self.render(event_name, action))

    def notice(self, event_name: str, message: str) -> None:
        self.records.append(
            Notice(self.key, self.now, self.instance.state_name, event_name, message)
        )

    def refuse_variable(self, event_name: str, action: SetVariable, value: Any) -> None:
        self.notice(
            event_name,
            f"setVariable {action.name}: {action.value.source!r} evaluated to "
            f"{type_name(value)}; variable left unchanged",
        )

    def set_timer(self, event_name: str, action: SetTimer) -> None:
        seconds: Any = action.seconds
        if action.duration is not None:
            seconds = action.duration.evaluate(self.context)
            if type(seconds) not in (int, float) or not math.isfinite(seconds):
                self.notice(
                    event_name,
                    f"setTimer {action.name}: duration {action.duration.source!r} evaluated to "
                    f"{type_name(seconds)}; timer not set",
                )
                return
            seconds = math.floor(seconds)
        if not 1 <= seconds <= MAX_TIMER_SECONDS:
            self.notice(
                event_name,
                f"setTimer {action.name}: {seconds} s is outside 1..{MAX_TIMER_SECONDS}; "
                "timer not set",
            )
            return
        self.instance.timer_durations[action.name] = int(seconds)
        self.instance.timers[action.name] = self.now + int(seconds) * 1000
        self.touched_timers.add(action.name)

    def reset_timer(self, event_name: str, name: str) -> None:
        seconds = self.instance.timer_durations.get(name)
        if seconds is None:
            self.notice(event_name, f"resetTimer {name}: the timer was never set")
            return
        self.instance.timers[name] = self.now + seconds * 1000
        self.touched_timers.add(name)

    def render(self, event_name: str, action: ExternalAction) -> RenderedAction:
        self.action_count += 1
        trigger = self.trigger
        execution_id = str(
            uuid.uuid5(
                _EXECUTION_NAMESPACE,
                f"{self.model.name}|{self.key}|{self.now}|{trigger.input_name}|"
                f"{trigger.message_id}|{trigger.timer_name}|{self.action_count}",
            )
        )
        details = trigger.details()
        error: str | None = None
        try:
            target = {
                name: resolve_field(spec, self.context) for name, spec in action.fields.items()
            }
        except ValueError as exc:
            target, error = {}, str(exc)
        payload: Any = None
        payload_type: Any = "DEFAULT"
        if action.payload is None:
            payload = default_payload(
                model_name=self.model.name,
                model_version=self.model.version,
                key=self.key,
                instance=self.instance,
                event_name=event_name,
                trigger=details,
                time_ms=self.now,
                execution_id=execution_id,
            )
        else:
            payload_type = action.payload.type
            try:
                payload, payload_type = render_content(action.payload, self.context)
            except PayloadRenderError as exc:
                error = str(exc) if error is None else f"{error}; {exc}"
        return RenderedAction(
            kind=action.kind,
            target=target,
            payload=payload,
            payload_type=payload_type,
            detector_model=self.model.name,
            key=self.key,
            state_name=self.instance.state_name,
            event_name=event_name,
            event_time_ms=self.now,
            action_execution_id=execution_id,
            trigger=details,
            error=error,
        )
