"""``wardlink detectors run`` and ``wardlink detectors validate``, end to end in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detectors.support import CATALOG, DATA
from wardlink.cli.main import main

MODELS = sorted(CATALOG.glob("*.json"))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def model_args(*paths: Path) -> list[str]:
    return [arg for path in paths for arg in ("--model", str(path))]


def test_fleet_replay_matches_golden_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys,
        "detectors", "run", *model_args(*MODELS),
        "--events", str(DATA / "fleet_events.jsonl"), "--until", "2026-11-21T08:20:00Z",
    )  # fmt: skip
    assert (code, err) == (0, [])
    expected = (DATA / "fleet_expected.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in out] == [json.loads(line) for line in expected]


def test_output_line_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "detectors", "run", *model_args(CATALOG / "device-offline.json"),
        "--events", str(DATA / "fleet_events.jsonl"), "--until", "2026-11-21T08:20:00Z",
    )  # fmt: skip
    assert code == 0
    records = [json.loads(line) for line in out]
    transition = next(r for r in records if r["type"] == "transition" and r["from"] == "Online")
    assert transition == {
        "time": "2026-11-21T08:08:20Z",
        "key": "wl-gw-0042/pump-7",
        "type": "transition",
        "from": "Online",
        "to": "Offline",
    }
    action = next(r for r in records if r["type"] == "action")
    assert list(action) == ["time", "key", "type", "action", "event", "target", "payload"]
    assert action["action"] == "sns"
    assert action["target"] == {
        "targetArn": "arn:aws:sns:eu-west-1:123456789012:wardlink-support-alerts"
    }
    assert "model" not in action  # only added when several models are replayed


def test_without_until_the_clock_stops_at_the_last_event(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(
        capsys,
        "detectors", "run", *model_args(CATALOG / "device-offline.json"),
        "--events", str(DATA / "fleet_events.jsonl"),
    )  # fmt: skip
    assert code == 0
    assert not any(json.loads(line).get("to") == "Offline" for line in out)


def test_bad_lines_and_rejected_messages_go_to_stderr_and_fail_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = (DATA / "fleet_events.jsonl").read_text().splitlines()[1]
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            [
                "not json",
                '{"time": "2026-11-21T08:00:00Z", "input": "WardlinkStatus"}',
                '{"time": "yesterday", "input": "WardlinkStatus", "payload": {}}',
                '{"time": "2026-11-21T08:00:00", "input": "WardlinkStatus", "payload": {}}',
                '{"time": "2026-11-21T08:00:00Z", "input": "WardlinkStatus",'
                ' "payload": {"device_id": "x"}}',
                "",
                good,
            ]
        )
        + "\n"
    )
    code, out, err = run_cli(
        capsys,
        "detectors",
        "run",
        *model_args(CATALOG / "device-fault.json"),
        "--events",
        str(events),
    )
    assert code == 1
    problems = [json.loads(line) for line in err]
    assert [(p["type"], p["line"]) for p in problems] == [
        ("bad_line", 1),
        ("bad_line", 2),
        ("bad_line", 3),
        ("bad_line", 4),
        ("rejected", 5),
    ]
    assert "no time zone" in problems[3]["reason"]
    assert "device_uid" in problems[4]["reason"]
    assert [json.loads(line)["to"] for line in out] == ["NoFault"]  # the good line still ran


def test_events_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO((DATA / "aws_motor_events.jsonl").read_text()))
    code, out, _ = run_cli(
        capsys,
        "detectors",
        "run",
        "--model",
        str(DATA / "aws_motor_detector_model.json"),
        "--events",
        "-",
    )
    assert code == 0
    assert len(out) == 5


def test_unloadable_model_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"detectorModelName": "x", "detectorModelDefinition": {"states": []}}')
    code, _, err = run_cli(capsys, "detectors", "run", "--model", str(broken), "--events", "-")
    assert code == 2
    assert "states must be a non-empty list" in "\n".join(err)
    code, _, err = run_cli(
        capsys, "detectors", "run", "--model", str(DATA / "aws_motor_detector_model.json"),
        "--events", str(tmp_path / "missing.jsonl"),
    )  # fmt: skip
    assert code == 2
    code, _, err = run_cli(
        capsys, "detectors", "run", "--model", str(DATA / "aws_motor_detector_model.json"),
        "--events", "-", "--until", "soon",
    )  # fmt: skip
    assert code == 2


def test_validate_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    files = [*MODELS, *sorted((CATALOG / "inputs").glob("*.json"))]
    code, out, err = run_cli(capsys, "detectors", "validate", *map(str, files))
    assert (code, err) == (0, [])
    assert len(out) == 8 and all(line.startswith("ok ") for line in out)


def test_validate_reports_problems(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = json.loads((CATALOG / "battery-low.json").read_text())
    request["evaluationMethod"] = "RANDOM"
    request["detectorModelDefinition"]["states"][0]["onInput"]["transitionEvents"][0][
        "nextState"
    ] = "Gone"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(request))
    other = tmp_path / "other.json"
    other.write_text("[]")
    code, out, _ = run_cli(capsys, "detectors", "validate", str(bad), str(other))
    assert code == 1
    text = "\n".join(out)
    assert f"INVALID {bad} (detector-model)" in text
    assert "'RANDOM' is not one of ['BATCH', 'SERIAL']" in text
    assert "nextState 'Gone' is not a defined state" in text
    assert f"INVALID {other} (unknown)" in text


def test_validate_without_shape_needs_no_download(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "detectors", "validate", "--no-shape", str(MODELS[0]))
    assert code == 0 and out[0].startswith("ok ")
