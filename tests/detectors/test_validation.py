"""The request-shape validator (botocore's published IoT Events shapes) and model loading errors."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.detectors.support import CATALOG, event, model_request, state, transition
from wardlink.detectors import DetectorModel, DetectorModelError
from wardlink.detectors.validation import ShapeValidator

OFFLINE: dict[str, Any] = json.loads((CATALOG / "device-offline.json").read_text())


def mutated(change: Any) -> dict[str, Any]:
    request: dict[str, Any] = copy.deepcopy(OFFLINE)
    change(request)
    return request


def first_state(request: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = request["detectorModelDefinition"]["states"][0]
    return state


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r.pop("roleArn"), "missing required member 'roleArn'"),
        (lambda r: r.update(evaluationMethod="PARALLEL"), "is not one of ['BATCH', 'SERIAL']"),
        (lambda r: r.update(detectorModelName="has spaces"), "does not match pattern"),
        (lambda r: r.update(detectorModelName="x" * 129), "at most 128 allowed"),
        (lambda r: r.update(key="a..b"), "does not match pattern"),
        (lambda r: r.update(colour="blue"), "unknown member 'colour'"),
        (lambda r: r["detectorModelDefinition"].update(states=[]), "at least 1 required"),
        (lambda r: first_state(r).pop("stateName"), "missing required member 'stateName'"),
        (
            lambda r: first_state(r)["onInput"]["transitionEvents"][0].update(condition="x" * 513),
            "has 513 characters; at most 512 allowed",
        ),
        (
            lambda r: first_state(r)["onEnter"]["events"][1]["actions"][0]["setTimer"].update(
                seconds=0
            ),
            "below the minimum 1",
        ),
        (
            lambda r: first_state(r)["onEnter"]["events"][1]["actions"][0]["setTimer"].update(
                seconds="60"
            ),
            "expected an integer",
        ),
        (
            lambda r: r["detectorModelDefinition"]["states"][1]["onEnter"]["events"][0]["actions"][
                0
            ]["sns"]["payload"].update(type="XML"),
            "is not one of ['STRING', 'JSON']",
        ),
        (lambda r: r.update(tags={"project": "wardlink"}), "expected a list"),
        (lambda r: r.update(detectorModelDescription=None), "expected a string, got null"),
    ],
)
def test_shape_problems_are_reported_with_their_path(
    change: Any, fragment: str, iotevents_shapes: ShapeValidator
) -> None:
    assert iotevents_shapes.validate_input("CreateDetectorModel", OFFLINE) == []
    problems = [
        str(p) for p in iotevents_shapes.validate_input("CreateDetectorModel", mutated(change))
    ]
    assert any(fragment in problem for problem in problems), problems


def test_problem_paths_point_into_the_request(iotevents_shapes: ShapeValidator) -> None:
    request = mutated(lambda r: first_state(r)["onInput"]["transitionEvents"][0].pop("nextState"))
    (problem,) = iotevents_shapes.validate_input("CreateDetectorModel", request)
    assert problem.path == "$.detectorModelDefinition.states[0].onInput.transitionEvents[0]"


def test_create_input_shape(iotevents_shapes: ShapeValidator) -> None:
    bad = {"inputName": "1bad", "inputDefinition": {"attributes": []}}
    problems = [str(p) for p in iotevents_shapes.validate_input("CreateInput", bad)]
    assert any("does not match pattern" in p for p in problems)
    assert any("at least 1 required" in p for p in problems)


def test_unknown_operation_is_an_error(iotevents_shapes: ShapeValidator) -> None:
    with pytest.raises(KeyError, match="NoSuchOperation"):
        iotevents_shapes.validate_input("NoSuchOperation", {})


GOT = 'currentInput("In")'


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (
            model_request([state("A", transitions=[transition("t", GOT, "Nowhere")])]),
            "'Nowhere' is not a defined state",
        ),
        (
            model_request([state("A", transitions=[transition("t", GOT, "A")])], initial="B"),
            "initialStateName 'B' is not a defined state",
        ),
        (
            model_request([state("A", transitions=[transition("t", GOT, "A")]), state("A")]),
            "state name is used more than once",
        ),
        (
            model_request([state("A", on_input=[event("e", "1 +")])]),
            "expression ends where a value was expected",
        ),
        (
            model_request([state("A", on_input=[event("e", "true")])]),
            "no condition references an input",
        ),
        (
            model_request(
                [
                    state(
                        "A",
                        on_input=[
                            event(
                                "e",
                                GOT,
                                {
                                    "setVariable": {"variableName": "v", "value": "1"},
                                    "clearTimer": {"timerName": "t"},
                                },
                            )
                        ],
                    )
                ]
            ),
            "exactly one action type",
        ),
        (
            model_request([state("A", on_input=[event("e", GOT, {"teleport": {}})])]),
            "unknown action type",
        ),
        (
            model_request(
                [state("A", on_input=[event("e", GOT, {"setTimer": {"timerName": "t"}})])]
            ),
            "exactly one of seconds and durationExpression",
        ),
        (
            model_request(
                [
                    state(
                        "A",
                        on_input=[
                            event(
                                "e",
                                GOT,
                                {
                                    "setTimer": {
                                        "timerName": "t",
                                        "seconds": 60,
                                        "durationExpression": "60",
                                    }
                                },
                            )
                        ],
                    )
                ]
            ),
            "exactly one of seconds and durationExpression",
        ),
        (
            model_request(
                [
                    state(
                        "A",
                        on_input=[
                            event(
                                "e",
                                GOT,
                                {
                                    "sns": {
                                        "targetArn": "a",
                                        "payload": {
                                            "contentExpression": "'" + "x" * 1100 + "'",
                                            "type": "STRING",
                                        },
                                    }
                                },
                            )
                        ],
                    )
                ]
            ),
            "at most 1024 allowed",
        ),
        (
            model_request([state("A", on_input=[event(f"e{i}", GOT) for i in range(21)])]),
            "21 events; at most 20 allowed",
        ),
        (
            model_request([state("A", on_input=[event("e", GOT)])], method="FAST"),
            "evaluationMethod must be",
        ),
        (
            model_request(
                [
                    state(
                        "A", on_input=[event("e", GOT, {"iotTopicPublish": {"mqttTopic": "'a' +"}})]
                    )
                ]
            ),
            "mqttTopic",
        ),
    ],
)
def test_model_loading_reports_every_problem(request_: dict[str, Any], fragment: str) -> None:
    with pytest.raises(DetectorModelError) as info:
        DetectorModel.from_request(request_)
    assert any(fragment in problem for problem in info.value.problems), info.value.problems


def test_all_problems_are_reported_at_once() -> None:
    request = model_request(
        [state("A", on_input=[event("e", "1 +")], transitions=[transition("t", GOT, "Nowhere")])],
        initial="Z",
    )
    with pytest.raises(DetectorModelError) as info:
        DetectorModel.from_request(request)
    assert len(info.value.problems) == 3
