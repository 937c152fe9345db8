"""The policy object: fail-closed default, policy files, the sealed pipeline types."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wardlink.model import (
    DeviceIdentity,
    DeviceStatus,
    Metric,
    Observation,
    PatientContext,
    PHIBoundaryError,
    RedactedObservation,
    RelatedPerson,
)
from wardlink.model.status import Connectivity
from wardlink.phi import PolicyError, RedactionPolicy
from wardlink.phi.keys import FileSecretSource
from wardlink.phi.vault import TokenVault

DEVICE = DeviceIdentity(device_id="pump-07", model="Nonin 9560", serial_number="SN-55123")
AT = datetime(2026, 11, 3, 14, 22, 5, tzinfo=UTC)
PATIENT = PatientContext(
    patient_id="0012345",
    family_name="Zorblax",
    given_name="Quinn",
    birth_date="1962-07-04",
    phone="555-123-4567",
    related=(RelatedPerson(relationship="wife", name="Ada Zorblax"),),
)


def _observation(annotation: str | None = None) -> Observation:
    return Observation(
        device_id="pump-07",
        metric=Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2"),
        value=97.0,
        unit="%",
        measured_at=AT,
        flags=("artifact", "JANE DOE 0012345"),
        annotation=annotation,
    )


def test_the_minimal_policy_fails_closed() -> None:
    policy = RedactionPolicy()
    [out] = policy.redact_observations([_observation("Quinn Zorblax moved")], DEVICE, PATIENT)
    assert out.annotation is None and out.patient_ref is None
    assert out.flags == ("artifact",)
    assert out.measured_at == AT
    status = DeviceStatus(
        device_id="pump-07", at=AT, connectivity=Connectivity.CONNECTED,
        error_codes=("E-102", "call 555-123-4567"), detail="Quinn Zorblax",
    )  # fmt: skip
    redacted = policy.redact_status(status, DEVICE, PATIENT)
    assert redacted.error_codes == ("E-102",) and redacted.detail is None
    assert policy.redact_json({"note": "x"}).output == {}


def test_default_policy_scrubs_with_the_patients_own_values() -> None:
    policy = RedactionPolicy.default()
    [out] = policy.redact_observations(
        [_observation("QUINN ZORBLAX (wife Ada) SpO2 97 after probe swap, call 555-123-4567")],
        DEVICE,
        PATIENT,
    )
    assert out.annotation is not None
    for value in ("QUINN", "ZORBLAX", "Ada", "555-123-4567"):
        assert value not in out.annotation
    assert "SpO2 97" in out.annotation
    assert out.patient_ref is None  # patient_id: drop by default
    assert b"Zorblax" not in out.to_json_bytes()


def test_outbound_types_still_need_the_seal() -> None:
    with pytest.raises(PHIBoundaryError):
        RedactedObservation(
            device_id="d", mdc_code=1, mdc_name="MDC_X", value=1.0, unit="%",
            measured_at=AT, quality="valid",
        )  # fmt: skip


def test_vault_mode_gives_a_patient_ref_that_never_leaves(tmp_path: Path) -> None:
    key = TokenVault.generate_key_file(tmp_path / "vault.key")
    policy = RedactionPolicy.from_config(
        {
            "identifiers": {"patient_id": "vault"},
            "vault": {"path": str(tmp_path / "vault.bin"), "key_file": str(key)},
        }
    )
    [first] = policy.redact_observations([_observation()], DEVICE, PATIENT)
    [second] = policy.redact_observations([_observation()], DEVICE, PATIENT)
    assert first.patient_ref is not None and first.patient_ref == second.patient_ref
    assert "0012345" not in first.patient_ref
    assert b"0012345" not in (tmp_path / "vault.bin").read_bytes()


def test_hmac_mode_reads_keys_from_the_secret_source(tmp_path: Path) -> None:
    secrets = FileSecretSource(tmp_path)
    secrets.create("wardlink/phi/hmac/patient_id")
    policy = RedactionPolicy.from_config({"identifiers": {"patient_id": "hmac"}}, secrets=secrets)
    [out] = policy.redact_observations([_observation()], DEVICE, PATIENT)
    assert out.patient_ref is not None and out.patient_ref.startswith("h-")


def test_a_missing_hmac_key_drops_the_ref_instead_of_leaking(tmp_path: Path) -> None:
    policy = RedactionPolicy.from_config(
        {"identifiers": {"patient_id": "hmac"}}, secrets=FileSecretSource(tmp_path)
    )
    [out] = policy.redact_observations([_observation()], DEVICE, PATIENT)
    assert out.patient_ref is None


def test_policy_file_is_merged_over_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("dates:\n  timestamps: hour\njson:\n  fields:\n    extra.ok: number\n")
    policy = RedactionPolicy.from_file(path)
    [out] = policy.redact_observations([_observation()], DEVICE)
    assert out.measured_at == datetime(2026, 11, 3, 14, tzinfo=UTC)
    result = policy.redact_json({"extra": {"ok": 3, "no": 4}, "readings": {"heartRate": 70}})
    assert result.output == {"extra": {"ok": 3}, "readings": {"heartRate": 70}}


@pytest.mark.parametrize(
    "override",
    [
        {"identifiers": {"patient_id": "keep"}},
        {"json": {"fields": {"a": "maybe"}}},
        {"hl7": {"segments": {"PID": {0: "keep"}}}},
        {"dates": {"fields": "month"}},
        {"surprise": 1},
        {"identifiers": {"patient_id": "vault"}},  # no vault configured
    ],
)
def test_bad_policies_are_refused(override: dict[str, object]) -> None:
    with pytest.raises((PolicyError, ValueError)):
        RedactionPolicy.from_config(override)


def test_unreadable_policy_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("json: [unclosed\n")
    with pytest.raises(PolicyError):
        RedactionPolicy.from_file(bad)
    with pytest.raises(PolicyError):
        RedactionPolicy.from_file(tmp_path / "missing.yaml")
