"""Order of one evaluation, instance creation, and BATCH versus SERIAL."""

from __future__ import annotations

from tests.detectors.support import (
    Harness,
    event,
    model_request,
    note,
    set_var,
    sns,
    state,
    transition,
)

IN = "In"
GOT = 'currentInput("In")'  # a condition that routes the input to the model and is true


def msg(key: str = "k", **fields: object) -> dict[str, object]:
    return {"id": key, **fields}


def test_transition_order_input_events_then_exit_then_transition_actions_then_enter() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event("in1", f'currentInput("{IN}")', note("A.onInput 1")),
                    event("in2", None, note("A.onInput 2")),
                ],
                transitions=[
                    transition("never", "false", "B", note("never")),
                    transition("first", "$input.In.go == true", "C", note("A->C action")),
                    transition("second", "true", "B", note("A->B action")),
                ],
                exit=[event("bye", None, note("A.onExit"))],
            ),
            state("B", enter=[event("hi", None, note("B.onEnter"))]),
            state("C", enter=[event("hi", None, note("C.onEnter"))]),
        ]
    )
    h = Harness(request)
    h.send(IN, msg(go=False), 0)
    sequence = [line.get("payload") or (line["from"], line["to"]) for line in h.lines]
    assert sequence == [
        (None, "A"),
        "A.onInput 1",
        "A.onInput 2",
        "A.onExit",
        "A->B action",
        ("A", "B"),
        "B.onEnter",
    ]


def test_first_true_transition_wins_and_exit_actions_run_before_the_state_changes() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[event("in", None, note("A.onInput"))],
                transitions=[
                    transition("never", "false", "B", note("never")),
                    transition("first", GOT, "C", note("A->C")),
                    transition("second", GOT, "B", note("second")),
                ],
                exit=[event("bye", None, sns())],  # default payload shows the state name
            ),
            state("B"),
            state("C", enter=[event("hi", None, sns())]),
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    kinds = [(line["type"], line.get("event") or line.get("to")) for line in h.lines]
    assert kinds == [
        ("transition", "A"),
        ("action", "in"),
        ("action", "bye"),
        ("action", "first"),
        ("transition", "C"),
        ("action", "hi"),
    ]
    exit_payload, transition_payload, enter_payload = (
        h.lines[2]["payload"],
        h.lines[3]["payload"],
        h.lines[5]["payload"],
    )
    assert exit_payload["payload"]["state"]["stateName"] == "A"
    assert transition_payload == "A->C"
    assert enter_payload["payload"]["state"]["stateName"] == "C"
    assert h.state_of("k") == "C"


def test_new_instance_runs_initial_on_enter_then_the_same_message_on_input() -> None:
    """The IoT Events motor example: the first message creates the instance in the initial
    state (onEnter initializes a variable) and its onInput transition fires on that message."""
    request = model_request(
        [
            state(
                "Normal",
                enter=[event("init", "true", set_var("count", "0"))],
                transitions=[
                    transition(
                        "up", "$input.In.v > 70", "High", set_var("count", "$variable.count + 3")
                    )
                ],
            ),
            state("High", enter=[event("alert", "$variable.count > 1", note("alert"))]),
        ]
    )
    h = Harness(request)
    h.send(IN, msg(v=80), 0)
    assert h.transitions() == [(None, "Normal"), ("Normal", "High")]
    assert h.notes() == ["alert"]
    assert h.instance("k").variables == {"count": 3}


def test_self_transition_exits_and_reenters() -> None:
    request = model_request(
        [
            state(
                "A",
                enter=[event("hi", None, note("enter"))],
                transitions=[transition("again", "$input.In.again == true", "A", note("again"))],
                exit=[event("bye", None, note("exit"))],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(again=False), 0)
    h.send(IN, msg(again=True), 1)
    assert h.notes() == ["enter", "exit", "again", "enter"]
    assert h.transitions() == [(None, "A"), ("A", "A")]


def test_on_enter_does_not_chain_transitions() -> None:
    """Transitions are only evaluated in onInput: entering B does not run B's transitions."""
    request = model_request(
        [
            state("A", transitions=[transition("go", GOT, "B")]),
            state("B", transitions=[transition("go", GOT, "C")]),
            state("C"),
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    assert h.state_of("k") == "B"
    h.send(IN, msg(), 1)
    assert h.state_of("k") == "C"


def test_condition_must_be_boolean_true() -> None:
    """A non-Boolean or undefined condition is false (documented)."""
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event("number", "1", note("number")),
                    event("string", "'true'", note("string")),
                    event("undefined", "$input.In.missing", note("undefined")),
                    event("no condition", None, note("no condition")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    assert h.notes() == ["no condition"]


# -- BATCH versus SERIAL ---------------------------------------------------------------------------


def counter_model(method: str) -> dict[str, object]:
    return model_request(
        [
            state(
                "A",
                enter=[
                    event("init", None, set_var("x", "0")),
                    event("seesInit", "$variable.x == 0", note("onEnter saw x=0")),
                ],
                on_input=[
                    event("increment", GOT, set_var("x", "$variable.x + 1")),
                    event("seesIncrement", "$variable.x == 1", note("onInput saw x=1")),
                ],
                transitions=[transition("toB", "$variable.x == 1", "B")],
            ),
            state("B"),
        ],
        method=method,
    )


def test_batch_conditions_see_variables_as_they_were_before_the_group() -> None:
    h = Harness(counter_model("BATCH"))
    h.send(IN, msg(), 0)
    # onEnter: 'seesInit' read x before 'init' set it (undefined), so it did not fire.
    # onInput: 'seesIncrement' and the transition read x before the increment (0).
    assert h.notes() == []
    assert h.state_of("k") == "A"
    assert h.instance("k").variables["x"] == 1
    h.send(IN, msg(), 1)  # now x was 1 when the conditions were evaluated
    assert h.notes() == ["onInput saw x=1"]
    assert h.state_of("k") == "B"
    assert h.instance("k").variables["x"] == 2


def test_serial_conditions_see_earlier_events_of_the_same_group() -> None:
    h = Harness(counter_model("SERIAL"))
    h.send(IN, msg(), 0)
    assert h.notes() == ["onEnter saw x=0", "onInput saw x=1"]
    assert h.state_of("k") == "B"


def test_default_evaluation_method_is_batch() -> None:
    request = counter_model("BATCH")
    del request["evaluationMethod"]
    h = Harness(request)
    h.send(IN, msg(), 0)
    assert h.state_of("k") == "A"


def test_actions_of_one_event_see_the_variables_set_before_them() -> None:
    """Inferred: actions run in order, in both modes; only conditions are snapshotted."""
    for method in ("BATCH", "SERIAL"):
        request = model_request(
            [
                state(
                    "A", on_input=[event("e", GOT, set_var("a", "41"), sns("'${$variable.a + 1}'"))]
                )
            ],
            method=method,
        )
        h = Harness(request)
        h.send(IN, msg(), 0)
        assert h.notes() == ["42"], method


def test_batch_exit_group_sees_input_actions_but_not_its_own() -> None:
    """onExit is its own group: it sees what onInput did, not what onExit itself sets."""
    request = model_request(
        [
            state(
                "A",
                on_input=[event("bump", None, set_var("y", "5"))],
                transitions=[transition("go", GOT, "B")],
                exit=[
                    event("setZ", None, set_var("z", "1")),
                    event("seesY", "$variable.y == 5", note("exit saw y=5")),
                    event("seesZ", "$variable.z == 1", note("exit saw z=1")),
                ],
            ),
            state("B"),
        ]
    )
    h = Harness(request)
    h.send(IN, msg(), 0)
    assert h.notes() == ["exit saw y=5"]
