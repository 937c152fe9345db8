"""``wardlink gateway csr``: the gateway's own P-256 key (owner-only) and a CSR for the fleet."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wardlink.cli.main import main


def test_key_is_owner_only_and_the_csr_is_p256_for_the_thing(tmp_path: Path) -> None:
    key_file, csr_file = tmp_path / "gw.key", tmp_path / "gw.csr"
    args = ["gateway", "csr", "--thing-name", "gw-0042", "--key-out", str(key_file)]
    assert main([*args, "--csr-out", str(csr_file)]) == 0

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    csr = x509.load_pem_x509_csr(csr_file.read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "gw-0042"
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert csr.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    key_file = tmp_path / "in-use.key"
    key_file.write_text("the key the gateway uses now")
    args = ["gateway", "csr", "--thing-name", "gw-1", "--key-out", str(key_file)]
    assert main([*args, "--csr-out", str(tmp_path / "x.csr")]) == 2
    assert key_file.read_text() == "the key the gateway uses now"
    assert not (tmp_path / "x.csr").exists()


def test_a_token_key_gets_the_openssl_command_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = "pkcs11:token=gw;object=identity"
    args = ["gateway", "csr", "--thing-name", "gw-1", "--pkcs11-uri", uri]
    assert main([*args, "--csr-out", str(tmp_path / "gw.csr")]) == 3
    out = capsys.readouterr()
    assert out.out.startswith("openssl req -new -provider pkcs11")
    assert "-subj /CN=gw-1 " in out.out and f"'{uri}'" in out.out
    assert "cannot sign with a PKCS#11 key" in out.err
    assert not (tmp_path / "gw.csr").exists()


def test_a_bad_thing_name_is_refused(tmp_path: Path) -> None:
    args = ["gateway", "csr", "--thing-name", "no spaces", "--key-out", str(tmp_path / "k")]
    assert main([*args, "--csr-out", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "k").exists()
