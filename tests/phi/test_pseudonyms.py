"""Pseudonyms: the encrypted on-premises vault, per-kind HMAC keys, key sources."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from wardlink.model.errors import RedactionError
from wardlink.phi.keys import FileSecretSource, GreengrassSecretSource, SecretError
from wardlink.phi.pseudonym import Pseudonymizer
from wardlink.phi.vault import TokenVault, VaultError

KEY = b"k" * 32


def test_vault_tokens_are_random_stable_and_encrypted_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "vault.bin"
    vault = TokenVault(path, KEY)
    token = vault.token_for("patient_id", "MRN-0012345")
    assert vault.token_for("patient_id", " MRN-0012345 ") == token
    assert vault.token_for("visit_id", "MRN-0012345") != token
    assert "0012345" not in token
    data = path.read_bytes()
    assert b"0012345" not in data and token.encode() not in data
    assert path.stat().st_mode & 0o777 == 0o600
    reopened = TokenVault(path, KEY)
    assert reopened.token_for("patient_id", "MRN-0012345") == token
    assert reopened.resolve(token) == ("patient_id", "MRN-0012345")


def test_vault_tokens_differ_between_vaults(tmp_path: Path) -> None:
    first = TokenVault(tmp_path / "a.bin", KEY).token_for("patient_id", "42")
    second = TokenVault(tmp_path / "b.bin", KEY).token_for("patient_id", "42")
    assert first != second  # random, not derived from the value


def test_vault_with_the_wrong_key_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "vault.bin"
    TokenVault(path, KEY).token_for("patient_id", "42")
    with pytest.raises(VaultError):
        TokenVault(path, b"x" * 32)


def test_vault_skips_a_torn_last_record(tmp_path: Path) -> None:
    path = tmp_path / "vault.bin"
    token = TokenVault(path, KEY).token_for("patient_id", "42")
    with path.open("ab") as handle:
        handle.write(b"dG9ybg")  # a crash mid-write: no newline
    assert TokenVault(path, KEY).token_for("patient_id", "42") == token


def test_vault_refuses_short_keys_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(VaultError):
        TokenVault(tmp_path / "v.bin", b"short")
    other = tmp_path / "other.bin"
    other.write_bytes(b"hello\n")
    with pytest.raises(VaultError):
        TokenVault(other, KEY)


def _secrets(tmp_path: Path, *kinds: str) -> FileSecretSource:
    source = FileSecretSource(tmp_path / "secrets")
    for kind in kinds:
        source.create(f"wardlink/phi/hmac/{kind}")
    return source


def test_hmac_is_stable_and_keyed_per_identifier_kind(tmp_path: Path) -> None:
    source = _secrets(tmp_path, "patient_id", "visit_id")
    pseudonyms = Pseudonymizer({"patient_id": "hmac", "visit_id": "hmac"}, secrets=source)
    first = pseudonyms.pseudonym("patient_id", "0012345")
    assert first == pseudonyms.pseudonym("patient_id", "0012345")
    assert first is not None and first.startswith("h-") and "0012345" not in first
    assert pseudonyms.pseudonym("visit_id", "0012345") != first
    again = Pseudonymizer({"patient_id": "hmac"}, secrets=source)
    assert again.pseudonym("patient_id", "0012345") == first


def test_hmac_without_a_key_fails_closed(tmp_path: Path) -> None:
    pseudonyms = Pseudonymizer({"patient_id": "hmac"}, secrets=FileSecretSource(tmp_path))
    with pytest.raises(RedactionError):
        pseudonyms.pseudonym("patient_id", "1")


def test_drop_is_the_default_and_people_cannot_be_kept() -> None:
    assert Pseudonymizer({}).pseudonym("patient_id", "1") is None
    assert Pseudonymizer({"device_serial": "keep"}).pseudonym("device_serial", "SN1") == "SN1"
    with pytest.raises(ValueError, match="cannot be kept"):
        Pseudonymizer({"patient_id": "keep"})


def test_file_secrets_formats_and_checks(tmp_path: Path) -> None:
    source = FileSecretSource(tmp_path)
    (tmp_path / "b64").write_text("base64:" + base64.b64encode(b"a" * 32).decode())
    (tmp_path / "hex").write_text("hex:" + ("ab" * 32))
    (tmp_path / "short").write_text("base64:" + base64.b64encode(b"a" * 8).decode())
    assert source.get_secret("b64") == b"a" * 32
    assert source.get_secret("hex") == bytes.fromhex("ab" * 32)
    with pytest.raises(SecretError):
        source.get_secret("short")
    with pytest.raises(SecretError):
        source.get_secret("../etc/passwd")
    with pytest.raises(SecretError):
        source.get_secret("missing")


class _Value:
    def __init__(self, string: str | None = None, binary: bytes | None = None) -> None:
        self.secret_string = string
        self.secret_binary = binary


class _Response:
    def __init__(self, value: _Value) -> None:
        self.secret_value = value


class _IpcShape:
    """Has the one method of GreengrassCoreIPCClientV2 the adapter uses."""

    def __init__(self) -> None:
        self.calls = 0

    def get_secret_value(self, *, secret_id: str) -> _Response:
        self.calls += 1
        if secret_id == "binary":
            return _Response(_Value(binary=b"b" * 32))
        return _Response(_Value(string="hex:" + "cd" * 32))


def test_greengrass_secret_source_reads_and_caches() -> None:
    client = _IpcShape()
    source = GreengrassSecretSource(client)
    assert source.get_secret("binary") == b"b" * 32
    assert source.get_secret("text") == bytes.fromhex("cd" * 32)
    source.get_secret("text")
    assert client.calls == 2
