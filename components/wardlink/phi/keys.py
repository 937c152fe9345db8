"""Where pseudonym keys come from: Greengrass secret manager on a gateway, files locally.

The HMAC keys (one per identifier type) and the vault key are secrets. On a
gateway they come from the Greengrass secret manager component over IPC
(``GetSecretValue``); the pipeline wraps its IPC client in
``GreengrassSecretSource``. For local runs and tests ``FileSecretSource`` reads
them from a directory of key files. Both return raw key bytes.

Key file / secret string format: ``base64:<data>``, ``hex:<data>`` or raw bytes.
Keys shorter than 32 bytes are refused: a short HMAC key would make the
pseudonyms guessable by brute force over the (small) space of MRNs.

Key files this module creates are ``0600`` in a ``0700`` directory
(``wardlink.runtime.files``): whoever reads a key can recompute every pseudonym.
A key file other users can read still works, but is logged once, so that it is
noticed and fixed rather than silently trusted.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import stat
import threading
from pathlib import Path
from typing import Any, Protocol

from wardlink.model.errors import RedactionError
from wardlink.runtime.files import PRIVATE_FILE, open_file, private_dir

log = logging.getLogger(__name__)

MIN_KEY_BYTES = 32
_SECRET_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$")


class SecretError(RedactionError):
    """A key is missing, unreadable or too short: pseudonymisation cannot proceed."""


class SecretSource(Protocol):
    """Gives the bytes of a named secret. Implementations may block briefly."""

    def get_secret(self, secret_id: str) -> bytes: ...


def decode_secret(raw: bytes) -> bytes:
    """Decode the ``base64:`` / ``hex:`` text forms; anything else is the key itself."""
    text = raw.strip()
    try:
        if text.startswith(b"base64:"):
            return base64.b64decode(text[7:].strip(), validate=True)
        if text.startswith(b"hex:"):
            return binascii.unhexlify(text[4:].strip())
    except (binascii.Error, ValueError) as exc:
        raise SecretError(f"secret is not valid {text.split(b':')[0].decode()}") from exc
    return raw


def require_key(key: bytes, secret_id: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise SecretError(
            f"secret {secret_id!r} is {len(key)} bytes; at least {MIN_KEY_BYTES} needed"
        )
    return key


class FileSecretSource:
    """Secrets as files under one directory: ``<directory>/<secret_id>``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._warned: set[Path] = set()

    def path_for(self, secret_id: str) -> Path:
        if not _SECRET_ID_RE.match(secret_id) or ".." in secret_id.split("/"):
            raise SecretError(f"invalid secret id {secret_id!r}")
        return self.directory / secret_id

    def get_secret(self, secret_id: str) -> bytes:
        path = self.path_for(secret_id)
        try:
            raw = path.read_bytes()
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as exc:
            raise SecretError(
                f"secret {secret_id!r} not readable at {path}: {exc.strerror}"
            ) from exc
        if mode & 0o077 and path not in self._warned:
            self._warned.add(path)
            log.warning(
                "key file is open to other users; make it 0600",
                extra={"secret_id": secret_id, "mode": oct(mode)},
            )
        return require_key(decode_secret(raw), secret_id)

    def create(self, secret_id: str, nbytes: int = MIN_KEY_BYTES) -> Path:
        """Write a new random key (mode 0600) unless one exists; returns its path."""
        path = self.path_for(secret_id)
        private_dir(self.directory)
        private_dir(path.parent)  # a secret id may name sub-directories
        data = b"base64:" + base64.b64encode(secrets.token_bytes(nbytes)) + b"\n"
        try:
            fd = open_file(path, os.O_WRONLY | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:
            return path
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path


class GreengrassSecretSource:
    """Adapter over a Greengrass IPC client (``GreengrassCoreIPCClientV2``).

    Only ``get_secret_value(secret_id=...)`` is used, so any object with that method
    works. Values are cached for the life of the process: the secret manager
    component already serves them from its local encrypted store.
    """

    def __init__(self, ipc_client: Any) -> None:
        self._client = ipc_client
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get_secret(self, secret_id: str) -> bytes:
        with self._lock:
            cached = self._cache.get(secret_id)
        if cached is not None:
            return cached
        try:
            response = self._client.get_secret_value(secret_id=secret_id)
        except Exception as exc:  # the IPC client raises many types; all mean "no key"
            raise SecretError(
                f"GetSecretValue failed for {secret_id!r}: {type(exc).__name__}"
            ) from exc
        value = getattr(response, "secret_value", None)
        binary = getattr(value, "secret_binary", None)
        string = getattr(value, "secret_string", None)
        if binary:
            raw = bytes(binary)
        elif string:
            raw = str(string).encode()
        else:
            raise SecretError(f"secret {secret_id!r} has no value")
        key = require_key(decode_secret(raw), secret_id)
        with self._lock:
            self._cache[secret_id] = key
        return key
