"""Optimistic concurrency: evaluate, write conditionally, and only then schedule and deliver."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.detectors.support import at, event, model_request, note, set_timer, set_var, state
from wardlink.detectors import (
    CollectingSink,
    ConcurrencyError,
    DetectorEngine,
    DetectorInstance,
    DetectorModel,
    HeapTimerScheduler,
    InMemoryStateStore,
    TimerRef,
    detector_key,
)

GOT = 'currentInput("In")'
COUNTER = DetectorModel.from_request(
    model_request(
        [
            state(
                "A",
                enter=[event("init", None, set_var("n", "0"), set_timer("t", seconds=60))],
                on_input=[
                    event("count", GOT, set_var("n", "$variable.n + $input.In.add")),
                    event("say", GOT, note("counted")),
                ],
            )
        ]
    )
)


class RacingStore(InMemoryStateStore):
    """Before the first ``put`` of the engine under test, lets a competitor commit first."""

    def __init__(self, competitor: Callable[[], object], conflicts: int = 1) -> None:
        super().__init__(round_trip_json=True)
        self._competitor = competitor
        self._remaining = conflicts
        self.puts = 0

    def put(self, model_name, key, instance, expected_version):  # type: ignore[no-untyped-def]
        self.puts += 1
        if self._remaining:
            self._remaining -= 1
            self._competitor()
        return super().put(model_name, key, instance, expected_version)


def test_a_lost_race_is_re_evaluated_on_the_fresh_state() -> None:
    sink, other_sink, scheduler = CollectingSink(), CollectingSink(), HeapTimerScheduler()
    store = RacingStore(lambda: other.handle_message("In", {"id": "k", "add": 10}, at(1)))
    other = DetectorEngine(COUNTER, store, scheduler, other_sink)
    engine = DetectorEngine(COUNTER, store, scheduler, sink)
    outcome = engine.handle_message("In", {"id": "k", "add": 1}, at(2))
    assert outcome is not None
    stored = store.get("test-model", "k")
    assert stored is not None
    assert stored.instance.variables["n"] == 11  # both increments survive
    assert stored.version == 2
    # the engine under test delivered once, for its committed (second) evaluation
    assert [a.payload for a in sink.actions] == ["counted"]
    assert [a.payload for a in other_sink.actions] == ["counted"]
    assert outcome.created is False  # re-evaluated as an update, not as a creation


def test_give_up_after_repeated_conflicts_without_side_effects() -> None:
    sink, scheduler = CollectingSink(), HeapTimerScheduler()
    inner = InMemoryStateStore()
    bump = iter(range(100))

    def competitor() -> None:
        instance = DetectorInstance(state_name="A", variables={"n": next(bump)})
        current = inner.get("test-model", "k")
        inner.put("test-model", "k", instance, current.version if current else None)

    class AlwaysLosing(InMemoryStateStore):
        def get(self, model_name, key):  # type: ignore[no-untyped-def]
            return inner.get(model_name, key)

        def put(self, model_name, key, instance, expected_version):  # type: ignore[no-untyped-def]
            competitor()
            return inner.put(model_name, key, instance, expected_version)

    engine = DetectorEngine(COUNTER, AlwaysLosing(), scheduler, sink, max_attempts=3)
    with pytest.raises(ConcurrencyError):
        engine.handle_message("In", {"id": "k", "add": 1}, at(0))
    assert sink.actions == []
    assert scheduler.pending() == {}


def test_timers_are_scheduled_from_the_committed_state() -> None:
    sink, scheduler, store = CollectingSink(), HeapTimerScheduler(), InMemoryStateStore()
    engine = DetectorEngine(COUNTER, store, scheduler, sink)
    engine.handle_message("In", {"id": "k", "add": 1}, at(0))
    assert scheduler.pending() == {TimerRef("test-model", "k", "t"): at(60)}


def test_instance_json_round_trip() -> None:
    instance = DetectorInstance(
        state_name="Offline",
        variables={"a": 1, "b": 2.5, "c": "x", "d": False},
        timers={"heartbeat": at(300)},
        timer_durations={"heartbeat": 300, "old": 60},
        expired_timers={"old"},
        inputs={"In": {"id": "k", "nested": {"v": [1, None]}}},
        created_ms=at(0),
        updated_ms=at(12.5),
    )
    data = json.loads(json.dumps(instance.to_json()))
    assert data["timers"] == {"heartbeat": "2026-11-21T10:05:00Z"}
    assert data["updated_at"] == "2026-11-21T10:00:12.500Z"
    assert DetectorInstance.from_json(data) == instance


def test_detector_key_matches_the_state_table_contract() -> None:
    assert (
        detector_key("wardlink-device-offline", "gw-1/pump-7")
        == "wardlink-device-offline#gw-1/pump-7"
    )
    assert detector_key("single", None) == "single#"
