"""Structured JSON: the IoMT shape, allow-listed fields only, notes scrubbed."""

from __future__ import annotations

from typing import Any

import pytest

from wardlink.phi import RedactionPolicy

IOMT: dict[str, Any] = {
    "deviceId": "dev-0042",
    "deviceType": "pulse_oximeter",
    "patientId": "MRN0012345",
    "timestamp": "2026-11-03T14:22:05Z",
    "readings": {
        "heartRate": 72, "bloodOxygen": 97, "systolicBP": 121, "diastolicBP": 79,
        "temperature": 36.9, "respiratoryRate": 16, "secretSauce": 5,
    },
    "patient": {
        "name": "Quinn Zorblax", "dob": "1962-07-04", "age": 93, "zip": "03601",
        "phone": "555-123-4567", "ssn": "123-45-6789", "sex": "F",
    },
    "emergencyContact": {"name": "Ada Zorblax", "phone": "555-987-6543"},
    "serialNumber": "SN-99812345",
    "note": "Quinn Zorblax says the probe pinches; wife Ada called from 555-987-6543.",
    "unexpected": {"deep": ["Quinn Zorblax", {"x": 1}]},
}  # fmt: skip


@pytest.fixture(scope="module")
def policy() -> RedactionPolicy:
    return RedactionPolicy.default()


def test_iomt_shape(policy: RedactionPolicy) -> None:
    result = policy.redact_json(IOMT)
    assert result.ok
    out = result.output
    assert isinstance(out, dict)
    assert out["deviceId"] == "dev-0042" and out["deviceType"] == "pulse_oximeter"
    assert out["timestamp"] == "2026-11-03T14:22:05Z"
    assert out["readings"] == {
        "heartRate": 72, "bloodOxygen": 97, "systolicBP": 121, "diastolicBP": 79,
        "temperature": 36.9, "respiratoryRate": 16,
    }  # fmt: skip
    assert out["patient"] == {"dob": "1962", "age": "90+", "zip": "000", "sex": "F"}
    assert "patientId" not in out and "serialNumber" not in out
    assert "emergencyContact" not in out and "unexpected" not in out
    text = str(out)
    for value in ("Zorblax", "Quinn", "Ada", "555-987-6543", "123-45-6789", "MRN0012345"):
        assert value not in text
    assert "probe pinches" in out["note"]


def test_numbers_must_be_numbers(policy: RedactionPolicy) -> None:
    out = policy.redact_json({"readings": {"heartRate": "Jane Doe", "bloodOxygen": "97"}}).output
    assert out == {"readings": {"bloodOxygen": "97"}}


def test_arrays_and_the_normalized_observation_shape(policy: RedactionPolicy) -> None:
    doc = [
        {"device_id": "pump-07", "mdc_code": 150456, "mdc_name": "MDC_PULS_OXIM_SAT_O2",
         "value": 97, "unit": "%", "flags": ["artifact"], "patient_name": "Jane Doe",
         "annotation": "Jane Doe moved"},
    ]  # fmt: skip
    out = policy.redact_json(doc).output
    assert out == [
        {"device_id": "pump-07", "mdc_code": 150456, "mdc_name": "MDC_PULS_OXIM_SAT_O2",
         "value": 97, "unit": "%", "flags": ["artifact"], "annotation": "[NAME] moved"},
    ]  # fmt: skip


@pytest.mark.parametrize("bad", ['{"note": ', "[1, 2", "", b"\xff\xfe", "42", '"text"'])
def test_malformed_json_is_an_error_not_a_pass(policy: RedactionPolicy, bad: str | bytes) -> None:
    result = policy.redact_json(bad)
    assert not result.ok and result.output is None and result.error


def test_json_text_input_is_parsed(policy: RedactionPolicy) -> None:
    assert policy.redact("json", '{"readings": {"heartRate": 60}}').output == {
        "readings": {"heartRate": 60}
    }
