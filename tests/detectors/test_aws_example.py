"""Reproduce a model written by someone else: the AWS IoT Events guide's motor example.

See data/SOURCES.md for where the model, inputs and documented SNS messages come from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.detectors.support import DATA
from wardlink.cli.main import main
from wardlink.detectors import DetectorModel
from wardlink.detectors.validation import ShapeValidator


def replay_motor(capsys: pytest.CaptureFixture[str], model: Path) -> list[dict[str, Any]]:
    events = DATA / "aws_motor_events.jsonl"
    code = main(["detectors", "run", "--model", str(model), "--events", str(events)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    return [json.loads(line) for line in captured.out.splitlines()]


def test_replay_reproduces_documented_transitions_and_sns_messages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = replay_motor(capsys, DATA / "aws_motor_detector_model.json")
    assert [
        (line["type"], line.get("from"), line.get("to"), line.get("event")) for line in lines
    ] == [
        ("transition", None, "Normal", None),
        ("transition", "Normal", "Dangerous", None),
        ("action", None, None, "Pressure Threshold Breached"),
        ("action", None, None, "Normal Pressure Restored"),
        ("transition", "Dangerous", "Normal", None),
    ]
    documented = json.loads((DATA / "aws_motor_expected_sns.json").read_text())
    sent = [line for line in lines if line["type"] == "action"]
    assert [line["target"]["targetArn"] for line in sent] == [
        "arn:aws:sns:us-east-1:123456789012:underPressureAction",
        "arn:aws:sns:us-east-1:123456789012:pressureClearedAction",
    ]
    for ours, theirs in zip(sent, documented, strict=True):
        payload = ours["payload"]
        # actionExecutionId is a fresh UUID in IoT Events; ours is deterministic
        assert payload["payload"].pop("actionExecutionId")
        theirs["payload"].pop("actionExecutionId")
        assert payload == theirs
        assert list(payload) == list(theirs)


def test_serial_evaluation_would_not_match_the_documented_messages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The guide's 'Normal Pressure Restored' carries messageId 00004: that is BATCH behaviour."""
    request = json.loads((DATA / "aws_motor_detector_model.json").read_text())
    request["evaluationMethod"] = "SERIAL"
    serial = tmp_path / "motor-serial.json"
    serial.write_text(json.dumps(request))
    lines = replay_motor(capsys, serial)
    restored = next(line for line in lines if line.get("event") == "Normal Pressure Restored")
    assert restored["payload"]["payload"]["eventTriggerDetails"]["messageId"] == "00003"


def test_the_example_is_a_valid_request(iotevents_shapes: ShapeValidator) -> None:
    request = json.loads((DATA / "aws_motor_detector_model.json").read_text())
    assert iotevents_shapes.validate_input("CreateDetectorModel", request) == []
    pressure_input = json.loads((DATA / "aws_pressure_input.json").read_text())
    assert iotevents_shapes.validate_input("CreateInput", pressure_input) == []
    assert DetectorModel.from_request(request).key is not None
