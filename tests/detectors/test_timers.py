"""Timers: set, reset and cleared across states; timeout() true once; timer-triggered runs."""

from __future__ import annotations

from tests.detectors.support import (
    Harness,
    at,
    clear_timer,
    event,
    iso,
    model_request,
    note,
    reset_timer,
    set_timer,
    set_var,
    sns,
    state,
    transition,
)
from wardlink.detectors import (
    CollectingSink,
    DetectorEngine,
    DetectorModel,
    HeapTimerScheduler,
    InMemoryStateStore,
    TimerRef,
)

IN = "In"
GOT = 'currentInput("In")'


def msg(key: str = "k", **fields: object) -> dict[str, object]:
    return {"id": key, **fields}


def watchdog(*, b_enter: list[dict[str, object]] | None = None) -> dict[str, object]:
    """A sets timer t on entry; 'go' moves to B; timeout in B moves to C (t set in A, read in B)."""
    return model_request(
        [
            state(
                "A",
                enter=[event("arm", None, set_timer("t", seconds=60))],
                transitions=[transition("go", f"{GOT} && $input.In.go == true", "B")],
            ),
            state(
                "B",
                enter=b_enter,
                transitions=[transition("expired", 'timeout("t")', "C", note("expired"))],
            ),
            state("C"),
        ]
    )


def test_timer_set_in_one_state_fires_in_another() -> None:
    h = Harness(watchdog())
    h.send(IN, msg(go=False), 0)
    h.send(IN, msg(go=True), 10)
    assert h.advance(59) == []
    lines = h.advance(600)
    assert [(line["time"], line.get("to") or line["payload"]) for line in lines] == [
        (iso(60), "expired"),
        (iso(60), "C"),
    ]


def test_timer_cleared_in_another_state_never_fires() -> None:
    h = Harness(watchdog(b_enter=[event("disarm", None, clear_timer("t"))]))
    h.send(IN, msg(go=False), 0)
    h.send(IN, msg(go=True), 10)
    assert h.advance(3600) == []
    assert h.state_of("k") == "B"
    assert h.instance("k").timers == {}


def test_reset_restarts_with_the_previously_evaluated_duration() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event(
                        "arm",
                        f"{GOT} && $input.In.cmd == 'set'",
                        set_timer("t", expression="$input.In.d"),
                    ),
                    event("again", f"{GOT} && $input.In.cmd == 'reset'", reset_timer("t")),
                    event("fired", 'timeout("t")', note("fired")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(cmd="set", d=90.7), 0)  # rounded down to 90 s
    assert h.instance("k").timers == {"t": at(90)}
    h.send(IN, msg(cmd="reset", d=10), 50)  # d is not re-evaluated: 90 s again from t=50
    assert h.instance("k").timers == {"t": at(140)}
    assert h.advance(139) == []
    assert [line["time"] for line in h.advance(1000)] == [iso(140)]
    assert h.notes() == ["fired"]
    # A reset after expiry restarts the timer with the same remembered duration.
    h.send(IN, msg(cmd="reset"), 2000)
    assert h.instance("k").timers == {"t": at(2090)}


def test_set_timer_on_a_running_timer_restarts_it() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event("arm", GOT, set_timer("t", expression="$input.In.d")),
                    event("fired", 'timeout("t")', note("fired")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(d=60), 0)
    h.send(IN, msg(d=120), 30)
    assert h.advance(149) == []
    assert [line["time"] for line in h.advance(1000)] == [iso(150)]


def test_timeout_is_true_once_and_for_the_whole_evaluation() -> None:
    """In the timer's evaluation both the onInput event and the transition see timeout() true;
    afterwards it is false again."""
    request = model_request(
        [
            state(
                "A",
                enter=[event("arm", None, set_timer("t", seconds=60))],
                on_input=[event("seen", 'timeout("t")', note("event saw timeout"))],
                transitions=[transition("go", 'timeout("t")', "B", note("transition saw timeout"))],
            ),
            state(
                "B",
                on_input=[event("again", 'timeout("t")', note("B saw timeout"))],
                transitions=[transition("never", f"{GOT} && false", "A")],
            ),
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    h.advance(60)
    h.send(IN, msg(), 70)
    assert h.notes() == ["event saw timeout", "transition saw timeout"]
    assert h.instance("k").expired_timers == set()


def test_timeout_stays_true_until_first_checked() -> None:
    """Documented: timeout() is true the first time it is checked after expiry. Here the timer
    evaluation short-circuits before checking it, so the next message sees it, once."""
    request = model_request(
        [
            state(
                "A",
                enter=[event("arm", None, set_timer("t", seconds=60))],
                on_input=[event("check", f'{GOT} && timeout("t")', note("message saw timeout"))],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    h.advance(120)
    assert h.instance("k").expired_timers == {"t"}
    h.send(IN, msg(), 130)
    h.send(IN, msg(), 140)
    assert h.notes() == ["message saw timeout"]


def test_timer_evaluation_has_trigger_type_timer_and_retained_inputs() -> None:
    request = model_request(
        [
            state(
                "A",
                enter=[event("arm", None, set_timer("t", seconds=60))],
                on_input=[
                    event(
                        "onTimer",
                        'triggerType("Timer") && !currentInput("In")',
                        sns("'last v=${$input.In.v} at timer'"),
                    ),
                    event("onMessage", 'triggerType("Message") && currentInput("In")', note("msg")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(v=7), 0)
    h.advance(60)
    assert h.notes() == ["msg", "last v=7 at timer"]


def test_timer_default_payload_reports_timer_trigger_and_active_timers() -> None:
    request = model_request(
        [
            state(
                "A",
                enter=[event("arm", None, set_timer("t", seconds=60), set_timer("u", seconds=600))],
                on_input=[event("fired", 'timeout("t")', sns())],
                transitions=[transition("never", f"{GOT} && false", "A")],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    (line,) = h.advance(60)
    payload = line["payload"]["payload"]
    assert payload["eventTriggerDetails"] == {"timerName": "t", "triggerType": "Timer"}
    assert payload["state"]["timers"] == {"u": iso(600)}
    assert line["payload"]["eventTime"] == at(60)


def test_each_key_has_its_own_timers() -> None:
    h = Harness(watchdog())
    h.send(IN, msg("a", go=False), 0)
    h.send(IN, msg("b", go=False), 30)
    h.send(IN, msg("a", go=True), 40)
    h.send(IN, msg("b", go=True), 45)
    lines = h.advance(1000)
    assert [(line["key"], line["time"]) for line in lines if line["type"] == "transition"] == [
        ("a", iso(60)),
        ("b", iso(90)),
    ]


def test_invalid_durations_leave_the_timer_unset_with_a_notice() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event("zero", GOT, set_timer("t0", expression="0")),
                    event("text", GOT, set_timer("t1", expression="'soon'")),
                    event("undef", GOT, set_timer("t2", expression="$input.In.nothing")),
                    event("reset", GOT, reset_timer("never_set")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    assert h.instance("k").timers == {}
    reasons = [d["reason"] for d in h.diagnostics if d["type"] == "notice"]
    assert len(reasons) == 4
    assert "outside 1..31622400" in reasons[0]
    assert "evaluated to String" in reasons[1]
    assert "evaluated to undefined" in reasons[2]
    assert "never set" in reasons[3]


def test_timers_fire_before_an_input_due_later_and_after_one_due_at_the_same_time() -> None:
    request = model_request(
        [
            state(
                "A",
                enter=[event("arm", None, set_timer("t", seconds=60))],
                on_input=[
                    event("fired", 'timeout("t")', note("timeout")),
                    event("input", GOT, sns("'input ${$input.In.n}'")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(n=1), 0)
    h.send(IN, msg(n=2), 60)  # same instant as the timer: the input goes first
    h.send(IN, msg(n=3), 61)
    assert h.notes() == ["input 1", "input 2", "timeout", "input 3"]


def test_stale_or_unknown_timer_firings_are_ignored() -> None:
    """A scheduler may deliver late, twice or after a reset: only the current due time counts."""
    model = DetectorModel.from_request(watchdog())
    store, scheduler, sink = InMemoryStateStore(), HeapTimerScheduler(), CollectingSink()
    engine = DetectorEngine(model, store, scheduler, sink)
    engine.handle_message(IN, msg(go=True), at(0))
    assert scheduler.pending() == {TimerRef("test-model", "k", "t"): at(60)}
    assert engine.handle_timer("k", "t", at(59)) is None  # wrong due time
    assert engine.handle_timer("k", "other", at(60)) is None  # no such timer
    assert engine.handle_timer("nobody", "t", at(60)) is None  # no such instance
    outcome = engine.handle_timer("k", "t", at(60))
    assert outcome is not None and [t.to_state for t in outcome.transitions] == ["C"]
    assert engine.handle_timer("k", "t", at(60)) is None  # duplicate delivery
    assert sink.actions[0].trigger.trigger_type == "Timer"


def test_timer_variables_survive_json_round_trip() -> None:
    request = model_request(
        [
            state(
                "A",
                enter=[event("arm", None, set_timer("t", seconds=60), set_var("armed", "true"))],
                transitions=[transition("never", f"{GOT} && false", "A")],
            )
        ]
    )
    h = Harness(request)  # the harness store round-trips every instance through JSON
    h.send(IN, msg(), 0)
    instance = h.instance("k")
    assert instance.to_json()["timers"] == {"t": iso(60)}
    assert instance.variables == {"armed": True}
    assert instance.timer_durations == {"t": 60}
