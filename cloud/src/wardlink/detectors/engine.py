"""The detector engine: route, evaluate, commit, then schedule timers and deliver actions.

The engine owns no storage, clock or transport: it is handed a ``StateStore``, a
``TimerScheduler`` and an ``ActionSink``. The same object therefore runs in the
engine Lambda (DynamoDB, EventBridge Scheduler, SNS adapters) and in a local
replay (in-memory store, heap scheduler, collecting sink).

Commit protocol per trigger: read instance and version, evaluate a copy, write
with the version as condition; on a conflict start over with the fresh instance.
Only after the write succeeds are timers (re)scheduled and actions delivered, so
a lost race never emits actions for an evaluation that did not happen. The
price: if delivery fails after the commit, the evaluation is not re-run; sinks
must retry or dead-letter (see docs/detectors.md, "Delivery guarantees").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from wardlink.detectors.actions import RenderedAction
from wardlink.detectors.errors import ConcurrencyError, InputRejectedError
from wardlink.detectors.evaluator import Outcome, Trigger, evaluate
from wardlink.detectors.model import DetectorModel
from wardlink.detectors.sinks import ActionSink
from wardlink.detectors.store import StateStore, StoredInstance, VersionConflictError
from wardlink.detectors.timers import TimerRef, TimerScheduler

_MESSAGE_NAMESPACE = uuid.UUID("0b5f7c1e-3c1a-4f43-9a7e-2c6d0f4e8b21")


class DetectorEngine:
    """Runs one detector model over a store, a scheduler and a sink."""

    def __init__(
        self,
        model: DetectorModel,
        store: StateStore,
        scheduler: TimerScheduler,
        sink: ActionSink,
        *,
        max_attempts: int = 8,
    ) -> None:
        self.model = model
        self._store = store
        self._scheduler = scheduler
        self._sink = sink
        self._max_attempts = max_attempts

    def accepts(self, input_name: str) -> bool:
        """Whether messages of this input are routed to the model (it references the input)."""
        return input_name in self.model.inputs

    def key_of(self, payload: Any) -> str | None:
        """The instance key of a message; raises ``InputRejectedError`` if it has none."""
        key_path = self.model.key
        if key_path is None:
            return None
        key = key_path.extract(payload)
        if key is None:
            raise InputRejectedError(
                f"model {self.model.name}: message has no usable key at {key_path.source!r}"
            )
        return key

    def handle_message(
        self, input_name: str, payload: Any, at_ms: int, message_id: str | None = None
    ) -> Outcome | None:
        """Evaluate one input message; None if the model does not use this input."""
        if not self.accepts(input_name):
            return None
        if type(payload) is not dict:
            raise InputRejectedError(f"input {input_name}: payload must be a JSON object")
        key = self.key_of(payload)
        if message_id is None:
            message_id = str(
                uuid.uuid5(_MESSAGE_NAMESPACE, f"{input_name}|{key}|{at_ms}|{sorted(payload)}")
            )
        trigger = Trigger.message(input_name, payload, at_ms, message_id)
        return self._commit(key, trigger, expected_due=None)

    def handle_timer(
        self, key: str | None, timer_name: str, due_ms: int, at_ms: int | None = None
    ) -> Outcome | None:
        """Evaluate a timer firing; None if the firing is stale (timer reset, cleared or gone)."""
        trigger = Trigger.timer(timer_name, due_ms if at_ms is None else max(at_ms, due_ms))
        return self._commit(key, trigger, expected_due=due_ms)

    def _commit(
        self, key: str | None, trigger: Trigger, expected_due: int | None
    ) -> Outcome | None:
        name = self.model.name
        for _ in range(self._max_attempts):
            stored = self._store.get(name, key)
            if expected_due is not None and not _timer_still_due(
                stored, trigger.timer_name, expected_due
            ):
                return None
            working = stored.instance.copy() if stored is not None else None
            outcome = evaluate(self.model, key, working, trigger)
            if outcome is None:
                return None
            try:
                self._store.put(
                    name, key, outcome.instance, stored.version if stored is not None else None
                )
            except VersionConflictError:
                continue
            before = stored.instance.timers if stored is not None else {}
            self._sync_timers(key, before, outcome.instance.timers)
            self._deliver(outcome.actions)
            return outcome
        raise ConcurrencyError(
            f"{name}#{key}: gave up after {self._max_attempts} conflicting writes"
        )

    def _sync_timers(
        self, key: str | None, before: Mapping[str, int], after: Mapping[str, int]
    ) -> None:
        model = self.model.name
        for timer, due in after.items():
            if before.get(timer) != due:
                self._scheduler.schedule(TimerRef(model, key, timer), due)
        for timer in before:
            if timer not in after:
                self._scheduler.cancel(TimerRef(model, key, timer))

    def _deliver(self, actions: Iterable[RenderedAction]) -> None:
        for action in actions:
            self._sink.deliver(action)


def _timer_still_due(stored: StoredInstance | None, timer: str | None, due_ms: int) -> bool:
    return stored is not None and timer is not None and stored.instance.timers.get(timer) == due_ms
