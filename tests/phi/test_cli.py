"""``wardlink phi`` as a user runs it: a real subprocess, stdin to stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

WARDLINK = [sys.executable, "-m", "wardlink.cli.main", "phi"]


def _run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WARDLINK, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_redact_text() -> None:
    result = _run(["redact", "--format", "text"], "Pt Jane Doe, MRN 0012345, SpO2 97 %\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Pt [NAME], [MRN], SpO2 97 %\n"


def test_redact_json_and_hl7() -> None:
    doc = {"patientId": "0012345", "readings": {"heartRate": 70}, "patient": {"name": "Jo Doe"}}
    result = _run(["redact", "--format", "json"], json.dumps(doc))
    assert json.loads(result.stdout) == {"readings": {"heartRate": 70}}
    message = "MSH|^~\\&|A|B|C|D|20261103||ORU^R01|1|P|2.6\rPID|1||0012345||DOE^JANE"
    result = _run(["redact", "--format", "hl7"], message)
    assert result.returncode == 0 and "DOE" not in result.stdout and "PID|1" in result.stdout


def test_malformed_single_input_fails_closed() -> None:
    result = _run(["redact", "--format", "json"], '{"patient": "Jane Doe"')
    assert result.returncode == 1 and result.stdout == "" and "Jane" not in result.stderr


def test_jsonl_batch_keeps_order_and_isolates_bad_lines() -> None:
    lines = [
        json.dumps({"id": 1, "input": "call Jane Doe at 555-123-4567"}),
        "{not json",
        json.dumps({"id": "b", "input": 42}),
        json.dumps({"id": 3, "input": "HR 72 bpm"}),
    ]
    result = _run(["redact", "--format", "text", "--jsonl"], "\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[0] == {"id": 1, "output": "call [NAME] at [PHONE]"}
    assert out[1]["id"] is None and "line 2" in out[1]["error"]
    assert out[2]["id"] == "b" and "error" in out[2]
    assert out[3] == {"id": 3, "output": "HR 72 bpm"}


def test_policy_file_and_bad_policy(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("text:\n  dates: year\n")
    result = _run(["redact", "--format", "text", "--policy", str(good)], "DOB 07/04/1962")
    assert result.stdout.strip() == "DOB 1962"
    bad = tmp_path / "bad.yaml"
    bad.write_text("identifiers:\n  patient_id: keep\n")
    result = _run(["redact", "--format", "text", "--policy", str(bad)], "x")
    assert result.returncode == 2 and "invalid policy" in result.stderr


def test_keygen(tmp_path: Path) -> None:
    result = _run(["keygen", "wardlink/phi/hmac/patient_id", "--dir", str(tmp_path)])
    assert result.returncode == 0
    assert Path(result.stdout.strip()).read_text().startswith("base64:")


@pytest.mark.slow
def test_eval_reports_a_table_and_json(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    result = _run(["eval", "--seed", "11", "--size", "120", "--write-corpus", str(corpus)])
    assert result.returncode == 0, result.stdout[-2000:]
    assert "recall, free text:" in result.stdout
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["seed"] == 11 and summary["passed"] is True
    replay = _run(["eval", "--corpus", str(corpus), "--json"])
    assert json.loads(replay.stdout)["items"] == 120
