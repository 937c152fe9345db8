"""Replay recorded inputs through detector models on a virtual clock.

Input lines are ``{"time": ISO, "input": NAME, "payload": {...}}`` with an
optional ``"messageId"``. Timers fire in due-time order, interleaved with the
inputs: a timer due strictly before an input's time fires first; one due at
exactly the same instant fires after it (an input that arrives just in time wins
the tie). ``until`` then advances the clock past the last input, firing every
timer due by then.

Output records (one JSON object per line):

- ``{"time", "key", "type": "transition", "from", "to"}`` for every state change,
  including ``"from": null`` when an instance is created in its initial state;
- ``{"time", "key", "type": "action", "action", "event", "target", "payload"}``
  for every external action (plus ``"error"`` if its payload could not be rendered).

Problems (malformed lines, rejected messages, actions that did not run) go to a
separate diagnostics channel, so stdout stays a clean record of behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wardlink.detectors.actions import RenderedAction
from wardlink.detectors.engine import DetectorEngine
from wardlink.detectors.errors import InputRejectedError
from wardlink.detectors.evaluator import Notice, Outcome, Transition
from wardlink.detectors.model import DetectorModel
from wardlink.detectors.sinks import CollectingSink
from wardlink.detectors.store import InMemoryStateStore
from wardlink.detectors.timers import HeapTimerScheduler
from wardlink.detectors.timeutil import format_iso_ms, parse_iso_ms

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    time_ms: int
    input_name: str
    payload: dict[str, Any]
    message_id: str
    line: int


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


def read_events(lines: Iterable[str]) -> Iterator[ReplayEvent | BadLine]:
    """Parse event lines; blank lines are skipped, bad ones reported, never fatal."""
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadLine(number, f"not JSON: {exc.msg}")
            continue
        if not isinstance(record, dict):
            yield BadLine(number, "an event line must be a JSON object")
            continue
        input_name, payload, when = record.get("input"), record.get("payload"), record.get("time")
        if not isinstance(input_name, str) or not input_name:
            yield BadLine(number, "'input' (the input name) is required")
            continue
        if not isinstance(payload, dict):
            yield BadLine(number, "'payload' must be a JSON object")
            continue
        try:
            time_ms = parse_iso_ms(when) if isinstance(when, str) else parse_iso_ms("")
        except ValueError as exc:
            yield BadLine(number, f"'time': {exc}")
            continue
        message_id = record.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            message_id = f"{number:05d}"
        yield ReplayEvent(time_ms, input_name, payload, message_id, number)


@dataclass(slots=True)
class ReplaySummary:
    events: int = 0
    bad_lines: int = 0
    rejected: int = 0
    timers_fired: int = 0
    transitions: int = 0
    actions: int = 0


class Replay:
    """Drives engines over events and a shared heap scheduler; emits output records."""

    def __init__(
        self,
        models: Sequence[DetectorModel],
        emit: Emit,
        diagnose: Emit,
        *,
        round_trip_state: bool = True,
    ) -> None:
        if not models:
            raise ValueError("replay needs at least one detector model")
        names = [model.name for model in models]
        if len(set(names)) != len(names):
            raise ValueError(f"detector model names must be unique, got {names}")
        self.scheduler = HeapTimerScheduler()
        self.store = InMemoryStateStore(round_trip_json=round_trip_state)
        self.sink = CollectingSink()
        self.engines = {
            model.name: DetectorEngine(model, self.store, self.scheduler, self.sink)
            for model in models
        }
        self._emit = emit
        self._diagnose = diagnose
        self._with_model = len(models) > 1
        self.summary = ReplaySummary()
        self.clock_ms: int | None = None

    def run(
        self, events: Iterable[ReplayEvent | BadLine], until_ms: int | None = None
    ) -> ReplaySummary:
        for event in events:
            if isinstance(event, BadLine):
                self.summary.bad_lines += 1
                self._diagnose({"type": "bad_line", "line": event.line, "reason": event.reason})
                continue
            self.feed(event)
        if until_ms is not None:
            self.advance(until_ms)
        return self.summary

    def feed(self, event: ReplayEvent) -> None:
        """Fire timers due before the event, then evaluate it in every model using its input."""
        self._fire_timers(event.time_ms, inclusive=False)
        self.clock_ms = (
            event.time_ms if self.clock_ms is None else max(self.clock_ms, event.time_ms)
        )
        self.summary.events += 1
        routed = False
        for engine in self.engines.values():
            if not engine.accepts(event.input_name):
                continue
            routed = True
            try:
                outcome = engine.handle_message(
                    event.input_name, event.payload, event.time_ms, event.message_id
                )
            except InputRejectedError as exc:
                self.summary.rejected += 1
                self._diagnose({"type": "rejected", "line": event.line, "reason": str(exc)})
                continue
            if outcome is not None:
                self._report(engine.model.name, outcome)
        if not routed:
            self._diagnose(
                {
                    "type": "ignored",
                    "line": event.line,
                    "reason": f"no model uses input {event.input_name!r}",
                }
            )

    def advance(self, until_ms: int) -> None:
        """Move the clock to ``until_ms``, firing every timer due by then."""
        self._fire_timers(until_ms, inclusive=True)
        self.clock_ms = until_ms if self.clock_ms is None else max(self.clock_ms, until_ms)

    def _fire_timers(self, limit_ms: int, *, inclusive: bool) -> None:
        while (due := self.scheduler.pop_due(limit_ms, inclusive=inclusive)) is not None:
            timer, due_ms = due
            engine = self.engines[timer.model]
            outcome = engine.handle_timer(timer.key, timer.name, due_ms)
            if outcome is not None:
                self.summary.timers_fired += 1
                self._report(timer.model, outcome)

    def _report(self, model_name: str, outcome: Outcome) -> None:
        for record in outcome.records:
            line: dict[str, Any]
            if isinstance(record, Transition):
                self.summary.transitions += 1
                line = {
                    "time": format_iso_ms(record.time_ms),
                    "key": record.key,
                    "type": "transition",
                    "from": record.from_state,
                    "to": record.to_state,
                }
            elif isinstance(record, RenderedAction):
                self.summary.actions += 1
                line = {
                    "time": format_iso_ms(record.event_time_ms),
                    "key": record.key,
                    "type": "action",
                    "action": record.kind,
                    "event": record.event_name,
                    "target": dict(record.target),
                    "payload": record.payload,
                }
                if record.error:
                    line["error"] = record.error
            elif isinstance(record, Notice):
                self._diagnose(
                    {
                        "type": "notice",
                        "time": format_iso_ms(record.time_ms),
                        "model": model_name,
                        "key": record.key,
                        "state": record.state_name,
                        "event": record.event_name,
                        "reason": record.message,
                    }
                )
                continue
            else:  # pragma: no cover - Record is a closed union
                continue
            if self._with_model:
                line["model"] = model_name
            self._emit(line)
