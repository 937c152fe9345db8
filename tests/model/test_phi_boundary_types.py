"""Invariants of the domain model that keep raw PHI inside the device process."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from wardlink.model import (
    DeviceIdentity,
    Envelope,
    Observation,
    PatientContext,
    PHIBoundaryError,
    RecordKind,
    RedactedObservation,
    RelatedPerson,
    SpooledRecord,
)
from wardlink.model import nomenclature as mdc
from wardlink.model.seal import sealing
from wardlink.phi.policy import RedactionPolicy

PATIENT = PatientContext(
    patient_id="MRN-123456",
    family_name="Doe",
    given_name="Jane",
    birth_date="1962-07-04",
    phone="555-010-9999",
    related=(RelatedPerson(relationship="spouse", name="John Doe"),),
)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _observation(annotation: str | None = None) -> Observation:
    return Observation(
        device_id="bed-1",
        metric=mdc.SPO2,
        value=97,
        unit="%",
        measured_at=NOW,
        annotation=annotation,
    )


def _redacted() -> RedactedObservation:
    return RedactionPolicy().redact_observations(
        [_observation()], DeviceIdentity(device_id="bed-1", model="Sim"), PATIENT
    )[0]


@pytest.mark.parametrize(
    "leak",
    [
        lambda p: p.model_dump(),
        lambda p: p.model_dump_json(),
        lambda p: pickle.dumps(p),
        lambda p: copy.copy(p).__reduce_ex__(2),
    ],
)
def test_patient_context_cannot_be_serialized(leak: object) -> None:
    with pytest.raises(PHIBoundaryError):
        leak(PATIENT)  # type: ignore[operator]


def test_patient_context_is_not_json_and_hides_in_repr() -> None:
    with pytest.raises(TypeError):
        json.dumps(PATIENT)
    for text in (repr(PATIENT), str(PATIENT), f"{PATIENT}", repr(PATIENT.related[0])):
        assert "Doe" not in text and "MRN" not in text


def test_patient_context_nested_in_a_model_still_refuses() -> None:
    with pytest.raises(Exception, match="PHI"):
        PATIENT.related[0].__pydantic_serializer__.to_json(PATIENT.related[0])


def test_redacted_types_cannot_be_built_outside_the_policy() -> None:
    fields = dict(
        device_id="bed-1",
        mdc_code=150456,
        mdc_name="MDC_PULS_OXIM_SAT_O2",
        value=97.0,
        unit="%",
        measured_at=NOW,
        quality="valid",
    )
    with pytest.raises(PHIBoundaryError):
        RedactedObservation(**fields)  # type: ignore[arg-type]
    with pytest.raises(PHIBoundaryError):
        RedactedObservation.model_validate(fields)
    with pytest.raises(PHIBoundaryError):
        SpooledRecord(seq=1, kind=RecordKind.TELEMETRY, body=b"{}")


def test_tests_cannot_take_the_seal() -> None:
    with pytest.raises(PHIBoundaryError), sealing():
        pass


def test_envelope_cannot_be_built_from_unredacted_observations() -> None:
    with pytest.raises(TypeError):
        Envelope.build("gw", RecordKind.TELEMETRY, [_observation()])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        Envelope.build("gw", RecordKind.TELEMETRY, [_redacted()])  # type: ignore[list-item]


def test_policy_builds_from_allow_list_and_drops_unscrubbable_text() -> None:
    obs = _observation(annotation="Jane Doe MRN-123456 desaturation")
    redacted = RedactionPolicy().redact_observations(
        [obs], DeviceIdentity(device_id="bed-1", model="Sim"), PATIENT
    )[0]
    body = redacted.to_json_bytes()
    for value in PATIENT.values():
        assert value.encode() not in body
    assert json.loads(body)["mdc_code"] == 150456


def test_observation_rejects_naive_time_and_bad_ids() -> None:
    with pytest.raises(ValidationError):
        Observation(
            device_id="bed-1", metric=mdc.SPO2, value=1, unit="%", measured_at=datetime(2026, 1, 1)
        )
    with pytest.raises(ValidationError):
        Observation(device_id="bed 1/../x", metric=mdc.SPO2, value=1, unit="%", measured_at=NOW)
