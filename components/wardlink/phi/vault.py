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
Greengrass secret).

A damaged record must not cost every patient reference: a vault that refused to
open would make the policy drop every identifier it pseudonymises until someone
repaired the file. So a record that fails authentication (a flipped bit on the
storage, a half-overwritten line) is skipped and counted (``corrupt_records``, and
one ERROR log line with the count and line numbers, never a value); the person it
named gets a new token the next time they are seen. Only when *no* record
authenticates does the vault refuse to open (fail closed): that is a wrong key, not
damage, and new tokens would silently split every patient's history. A torn last
line - a crash mid-write, before the token was handed out - is skipped as before.

The file is ``0600`` in a ``0700`` directory when the vault creates them
(``wardlink.runtime.files``): it is the re-identification mechanism.
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
from wardlink.runtime.files import PRIVATE_FILE, fix_mode, open_file, private_dir

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
        self.corrupt_records = 0  # records skipped on open because they failed to decrypt
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
        private_dir(target.parent)
        data = b"base64:" + base64.b64encode(secrets.token_bytes(32)) + b"\n"
        with contextlib.suppress(FileExistsError):
            fd = open_file(target, os.O_WRONLY | os.O_EXCL, PRIVATE_FILE)
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
        fix_mode(self.path, PRIVATE_FILE)  # an older copy may have been made more open
        body = data[len(HEADER) :]
        lines = body.split(b"\n")
        torn_tail = not body.endswith(b"\n") and bool(lines[-1])
        corrupt: list[int] = []
        for number, line in enumerate(lines, start=2):
            if not line:
                continue
            try:
                record = self._decrypt(line)
            except VaultError:
                if torn_tail and number == len(lines) + 1:
                    log.warning("vault: skipped a torn last record (crash while writing)")
                else:
                    corrupt.append(number)
                continue
            entry = (str(record["k"]), str(record["v"]))
            token = str(record["t"])
            self._by_value[entry] = token
            self._by_token[token] = entry
        if corrupt and not self._by_token:
            raise VaultError(
                f"vault {self.path}: no record decrypts (wrong key?); refusing to open it"
            )
        if corrupt:
            self.corrupt_records = len(corrupt)
            log.error(
                "vault: skipped records that failed to decrypt; the people they named get"
                " new tokens when next seen",
                extra={"path": str(self.path), "skipped": len(corrupt), "lines": corrupt[:20]},
            )

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
            private_dir(self.path.parent)
            fd = open_file(self.path, os.O_WRONLY | os.O_APPEND, PRIVATE_FILE)
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
