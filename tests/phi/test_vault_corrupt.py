"""A corrupt record in the pseudonym vault costs that record, not every patient reference.

The finding: one damaged line (a flipped bit on an SD card) made ``TokenVault``
refuse to open, so the policy dropped every vault-mode identifier until someone
repaired the file. The vault now skips and counts such a record - the count is on
the vault and in one ERROR line that names no value - and still fails closed when
no record decrypts at all (a wrong key). Real files, real AES-GCM, the real policy.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wardlink.model import DeviceIdentity, Observation, PatientContext
from wardlink.model.nomenclature import Metric
from wardlink.phi.policy import RedactionPolicy
from wardlink.phi.vault import HEADER, TokenVault, VaultError

KEY = b"k" * 32
DEVICE = DeviceIdentity(device_id="bed-3", model="Sim")
VALUES = ["0012345", "0067890", "0099999"]


def _vault_of_three(path: Path) -> list[str]:
    vault = TokenVault(path, KEY)
    return [vault.token_for("patient_id", value) for value in VALUES]


def _corrupt_ciphertext(path: Path, record: int) -> None:
    """Flip one bit inside the AES-GCM ciphertext of record number ``record`` (0-based)."""
    rows = path.read_bytes()[len(HEADER) :].split(b"\n")
    blob = bytearray(base64.b64decode(rows[record]))
    blob[14] ^= 0x01  # past the 12-byte nonce: ciphertext, so authentication fails
    rows[record] = base64.b64encode(bytes(blob))
    path.write_bytes(HEADER + b"\n".join(rows))


def test_a_corrupt_record_is_skipped_counted_and_logged_without_phi(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "vault.bin"
    tokens = _vault_of_three(path)
    _corrupt_ciphertext(path, 1)

    with caplog.at_level(logging.ERROR, logger="wardlink.phi.vault"):
        vault = TokenVault(path, KEY)

    assert vault.corrupt_records == 1
    assert len(vault) == 2
    assert vault.token_for("patient_id", VALUES[0]) == tokens[0]
    assert vault.token_for("patient_id", VALUES[2]) == tokens[2]
    renewed = vault.token_for("patient_id", VALUES[1])  # a new token: the old one is lost
    assert renewed != tokens[1]
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.skipped == 1 and line.lines == [3]  # type: ignore[attr-defined]
    logged = line.getMessage() + repr(line.__dict__)
    assert not any(value in logged for value in VALUES)
    assert not any(token in logged for token in tokens)

    reopened = TokenVault(path, KEY)  # the renewed token was appended after the bad line
    assert reopened.corrupt_records == 1
    assert reopened.token_for("patient_id", VALUES[1]) == renewed


def test_the_policy_keeps_patient_references_despite_a_corrupt_record(tmp_path: Path) -> None:
    path = tmp_path / "vault.bin"
    key_file = TokenVault.generate_key_file(tmp_path / "keys" / "vault.key")
    config = {
        "identifiers": {"patient_id": "vault"},
        "vault": {"path": str(path), "key_file": str(key_file)},
    }
    observation = Observation(
        device_id="bed-3",
        metric=Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2"),
        value=97.0,
        unit="%",
        measured_at=datetime(2026, 11, 3, 14, 22, 5, tzinfo=UTC),
    )
    policy = RedactionPolicy.from_config(config)
    refs = [
        policy.redact_observations([observation], DEVICE, PatientContext(patient_id=v))[0]
        for v in VALUES
    ]
    _corrupt_ciphertext(path, 0)

    restarted = RedactionPolicy.from_config(config)  # a DeviceProxy restart opens the vault
    patient = PatientContext(patient_id=VALUES[1])
    [out] = restarted.redact_observations([observation], DEVICE, patient)
    assert out.patient_ref is not None and out.patient_ref == refs[1].patient_ref


def test_no_record_decrypting_is_a_wrong_key_and_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "vault.bin"
    _vault_of_three(path)
    with pytest.raises(VaultError, match="wrong key"):
        TokenVault(path, b"x" * 32)
    for record in range(3):
        _corrupt_ciphertext(path, record)
    with pytest.raises(VaultError):
        TokenVault(path, KEY)
