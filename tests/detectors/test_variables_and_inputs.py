"""Variables, undefined inputs, retained inputs, keys and routing."""

from __future__ import annotations

import pytest

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
from wardlink.detectors import DetectorModel, InputRejectedError
from wardlink.detectors.model import KeyPath

GOT = 'currentInput("In")'


def test_variables_keep_their_type_and_persist_across_messages_and_states() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event(
                        "set",
                        GOT,
                        set_var("i", "$input.In.i"),
                        set_var("d", "2.5"),
                        set_var("s", "'text'"),
                        set_var("b", "$input.In.i > 1"),
                        set_var("count", "isUndefined($variable.count) || $variable.count < 0"),
                    )
                ],
                transitions=[transition("go", f"{GOT} && $input.In.go == true", "B")],
            ),
            state(
                "B",
                on_input=[
                    event(
                        "use",
                        GOT,
                        sns("'${$variable.i} ${$variable.d} ${$variable.s} ${$variable.b}'"),
                    )
                ],
            ),
        ]
    )
    h = Harness(request)
    h.send("In", {"id": "k", "i": 3, "go": True}, 0)
    assert h.instance("k").variables == {"i": 3, "d": 2.5, "s": "text", "b": True, "count": True}
    h.send("In", {"id": "k"}, 1)
    assert h.state_of("k") == "B"
    assert h.notes() == ["3 2.5 text true"]


def test_set_variable_to_undefined_or_null_leaves_it_unchanged() -> None:
    """A variable cannot be unset (documented): undefined/null values are refused with a notice."""
    request = model_request(
        [
            state(
                "A",
                enter=[event("init", None, set_var("v", "1"))],
                on_input=[
                    event("undefined", GOT, set_var("v", "$input.In.missing")),
                    event("null", GOT, set_var("v", "$input.In.nothing")),
                    event("object", GOT, set_var("v", "$input.In.obj")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send("In", {"id": "k", "nothing": None, "obj": {"a": 1}}, 0)
    assert h.instance("k").variables == {"v": 1}
    reasons = [d["reason"] for d in h.diagnostics]
    assert len(reasons) == 3
    assert "evaluated to undefined" in reasons[0]
    assert "evaluated to null" in reasons[1]
    assert "evaluated to Object" in reasons[2]


def test_missing_input_fields_make_conditions_false_not_errors() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event("high", f"{GOT} && $input.In.temp > 30", note("high")),
                    event("notHigh", f"{GOT} && !($input.In.temp > 30)", note("not high")),
                    event("absent", f"{GOT} && isUndefined($input.In.temp)", note("absent")),
                    event("either", f"$input.In.temp > 30 || {GOT}", note("either")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send("In", {"id": "k"}, 0)
    assert h.notes() == ["absent", "either"]
    h.send("In", {"id": "k", "temp": 35}, 1)
    assert h.notes()[2:] == ["high", "either"]


def test_inputs_are_retained_per_instance_for_later_evaluations() -> None:
    """Inferred from the guide ('an input attribute's value can be read when a new value was
    received or when a timer expired'): the last payload of each input stays readable."""
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event(
                        "fromB",
                        'currentInput("B")',
                        sns("'A said ${$input.A.v}, B says ${$input.B.w}'"),
                    ),
                    event("fromA", 'currentInput("A")', note("A")),
                ],
            )
        ]
    )
    h = Harness(request)
    h.send("A", {"id": "k", "v": 1}, 0)
    h.send("B", {"id": "k", "w": 2}, 1)
    h.send("B", {"id": "other", "w": 3}, 2)  # another instance never saw input A
    assert h.notes() == ["A", "A said 1, B says 2", None]
    assert [
        d["type"] for d in h.diagnostics
    ] == []  # template undefined -> action error, not notice
    errors = [line for line in h.lines if line.get("error")]
    assert len(errors) == 1 and errors[0]["key"] == "other"
    assert "evaluated to undefined" in errors[0]["error"]


@pytest.mark.parametrize(
    ("key", "payload", "expected"),
    [
        ("id", {"id": "dev-1"}, "dev-1"),
        ("id", {"id": 42}, "42"),
        ("a.b", {"a": {"b": "x"}}, "x"),
        ("`motor id`", {"motor id": "A32"}, "A32"),
        ("meta.`site code`", {"meta": {"site code": "S1"}}, "S1"),
    ],
)
def test_key_paths(key: str, payload: dict[str, object], expected: str) -> None:
    assert KeyPath.parse(key).extract(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [{}, {"id": None}, {"id": ""}, {"id": True}, {"id": 1.5}, {"id": {"x": 1}}],
)
def test_messages_without_a_usable_key_are_rejected(payload: dict[str, object]) -> None:
    request = model_request([state("A", on_input=[event("e", GOT, note("x"))])])
    h = Harness(request)
    h.send("In", payload, 0)
    assert h.lines == []
    assert h.diagnostics[0]["type"] == "rejected"
    assert "no usable key at 'id'" in h.diagnostics[0]["reason"]
    assert h.replay.store.keys("test-model") == []


def test_model_without_key_has_a_single_instance() -> None:
    request = model_request(
        [
            state(
                "A",
                on_input=[
                    event("count", GOT, set_var("n", "isUndefined($variable.n) || $variable.n"))
                ],
            )
        ],
        key=None,
    )
    h = Harness(request)
    h.send("In", {"device": "a"}, 0)
    h.send("In", {"device": "b"}, 1)
    assert h.lines == [
        {"time": h.lines[0]["time"], "key": None, "type": "transition", "from": None, "to": "A"}
    ]
    assert h.replay.store.keys("test-model") == [""]


def test_only_referenced_inputs_reach_a_model() -> None:
    first = model_request([state("A", on_input=[event("e", GOT, note("first"))])], name="first")
    second = model_request(
        [state("A", on_input=[event("e", 'currentInput("Other")', note("second"))])], name="second"
    )
    h = Harness(first, second)
    h.send("In", {"id": "k"}, 0)
    h.send("Other", {"id": "k"}, 1)
    h.send("Nobody", {"id": "k"}, 2)
    assert [
        (line["model"], line.get("payload")) for line in h.lines if line["type"] == "action"
    ] == [
        ("first", "first"),
        ("second", "second"),
    ]
    assert h.diagnostics == [
        {"type": "ignored", "line": 3, "reason": "no model uses input 'Nobody'"}
    ]


def test_input_referenced_only_by_current_input_is_routed() -> None:
    model = DetectorModel.from_request(
        model_request([state("A", transitions=[transition("go", 'currentInput("Ping")', "A")])])
    )
    assert model.inputs == {"Ping"}


def test_engine_rejects_non_object_payloads() -> None:
    request = model_request([state("A", on_input=[event("e", GOT, note("x"))])])
    h = Harness(request)
    engine = h.replay.engines["test-model"]
    with pytest.raises(InputRejectedError):
        engine.handle_message("In", ["not", "an", "object"], 0)
