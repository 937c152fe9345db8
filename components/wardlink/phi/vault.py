"""The on-premises token vault: random pseudonyms whose mapping never leaves the gateway.

A vault token is drawn from ``secrets.token_hex``: it is *not derived* from the
person's data, which is what 45 CFR 164.514(c)(1) asks of a re-identification code.
The mapping token <-> value is the re-identification mechanism, so it stays on the
gateway, encrypted at rest (164.514(c)(2): the mechanism is not disclosed).

File format (append-only, one record per line, so a crash can only lose the record
being written, never earlier ones)::

    wardlink-vault/1
    <base64(nonce || AES-256-GCM(json{"k":kind,"v":value,"t":token}))>
    ...

The AES key is derived with HKDF-SHA256 from the configured key (a key file or a
Greengrass secret). A record that fails authentication means a wrong key or
tampering, and the vault refuses to open (fail closed); only a torn last line - a
crash mid-write, before the token was handed out - is skipped.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
from pathlib import Path

from wardlink.model.errors import RedactionError

log = logging.getLogger(__name__)

HEADER = b"wardlink-vault/1\n"
_AAD = b"wardlink-vault/1"
_NONCE_BYTES = 12


class VaultError(RedactionError):
    """The vault cannot be opened or written; no token can be issued."""


def normalize(value: str) -> str:
    """The form a value is stored under: trimmed, inner whitespace collapsed."""
    return " ".join(value.split())


# cryptography is imported where it is used: loading OpenSSL costs ~6 MB of RSS, and
# only sites that configure vault pseudonyms need it (gateways are small machines).


def derive_key(secret: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"wardlink-phi-vault/1")
    return hkdf.derive(secret)


class TokenVault:
    """Maps (identifier kind, value) to a stable random token, persisted encrypted."""

    def __init__(self, path: str | os.PathLike[str], key: bytes, *, token_bytes: int = 10) -> None:
        if len(key) < 32:
            raise VaultError("the vault key must be at least 32 bytes")
        self.path = Path(path)
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(derive_key(key))
        self._token_bytes = token_bytes
        self._lock = threading.Lock()
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_token: dict[str, tuple[str, str]] = {}
        self._load()

    # -- public API --------------------------------------------------------------

    def token_for(self, kind: str, value: str) -> str:
        """The token for ``value``; a new random one the first time it is seen."""
        entry = (kind, normalize(value))
        if not entry[1]:
            raise VaultError("cannot tokenise an empty value")
        with self._lock:
            token = self._by_value.get(entry)
            if token is not None:
                return token
            token = f"{_prefix(kind)}{secrets.token_hex(self._token_bytes)}"
            while token in self._by_token:  # pragma: no cover - 80-bit collision
                token = f"{_prefix(kind)}{secrets.token_hex(self._token_bytes)}"
            self._append({"k": kind, "v": entry[1], "t": token})
            self._by_value[entry] = token
            self._by_token[token] = entry
            return token

    def resolve(self, token: str) -> tuple[str, str] | None:
        """(kind, value) behind a token - for the on-site technician UI only."""
        with self._lock:
            return self._by_token.get(token)

    def __len__(self) -> int:
        return len(self._by_token)

    @staticmethod
    def generate_key_file(path: str | os.PathLike[str]) -> Path:
        """Create a new random 32-byte key file (mode 0600) if none exists."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = b"base64:" + base64.b64encode(secrets.token_bytes(32)) + b"\n"
        with contextlib.suppress(FileExistsError):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        return target

    # -- storage -----------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise VaultError(f"vault {self.path} unreadable: {exc.strerror}") from exc
        if not data:
            return
        if not data.startswith(HEADER):
            raise VaultError(f"{self.path} is not a wardlink vault")
        body = data[len(HEADER) :]
        lines = body.split(b"\n")
        torn_tail = not body.endswith(b"\n") and bool(lines[-1])
        for number, line in enumerate(lines, start=2):
            if not line:
                continue
            try:
                record = self._decrypt(line)
            except VaultError:
                if torn_tail and number == len(lines) + 1:
                    log.warning("vault: skipped a torn last record (crash while writing)")
                    continue
                raise
            entry = (str(record["k"]), str(record["v"]))
            token = str(record["t"])
            self._by_value[entry] = token
            self._by_token[token] = entry

    def _decrypt(self, line: bytes) -> dict[str, object]:
        try:
            blob = base64.b64decode(line, validate=True)
            plain = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD)
            record = json.loads(plain)
        except (binascii.Error, ValueError, _invalid_tag()) as exc:
            raise VaultError(f"vault {self.path}: a record failed to decrypt (wrong key?)") from exc
        if not isinstance(record, dict) or not {"k", "v", "t"} <= record.keys():
            raise VaultError(f"vault {self.path}: malformed record")
        return record

    def _append(self, record: dict[str, str]) -> None:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        plain = json.dumps(record, separators=(",", ":")).encode()
        line = base64.b64encode(nonce + self._aead.encrypt(nonce, plain, _AAD)) + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_size == 0:
                    os.write(fd, HEADER)
                os.write(fd, line)
                os.fsync(fd)  # durable before the token is handed out
            finally:
                os.close(fd)
        except OSError as exc:
            raise VaultError(f"vault {self.path} not writable: {exc.strerror}") from exc


def _prefix(kind: str) -> str:
    letters = "".join(ch for ch in kind.lower() if ch.isalnum())[:3] or "tok"
    return f"{letters}-"


def _invalid_tag() -> type[Exception]:
    from cryptography.exceptions import InvalidTag

    return InvalidTag
