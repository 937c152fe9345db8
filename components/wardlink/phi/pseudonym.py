"""Per-identifier pseudonyms: drop, a random vault token, or a keyed HMAC-SHA256.

* ``drop`` - the identifier is removed. Safe Harbor compliant; the default.
* ``vault`` - a random token from the on-premises ``TokenVault``. The token is not
  derived from the person's data, so it can serve as the re-identification code
  164.514(c) allows, as long as the vault never leaves the gateway.
* ``hmac`` - ``HMAC-SHA256(key[kind], value)``, one key per identifier kind, keys
  from Greengrass secret manager. Stable across gateways sharing a key and needs
  no state - but it *is* derived from the individual's data, which 164.514(c)(1)
  forbids for a Safe Harbor re-identification code. Use it only under an Expert
  Determination (164.514(b)(1)). See docs/phi-policy.md.
* ``keep`` - only for identifiers of things, not people (device serials,
  facility names), when the policy owner decides they may travel.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from typing import Literal

from wardlink.model.errors import RedactionError
from wardlink.phi.keys import SecretSource, require_key
from wardlink.phi.vault import TokenVault, normalize

PseudonymMode = Literal["drop", "vault", "hmac", "keep"]

#: Identifier kinds the policy knows, and whether ``keep`` is allowed for them.
IDENTIFIER_KINDS: dict[str, bool] = {
    "patient_id": False,
    "visit_id": False,
    "account_number": False,
    "device_serial": True,
    "device_id": True,
    "facility": True,
}

HMAC_HEX_CHARS = 32  # 128 bits of the digest: collision-safe for any hospital


class Pseudonymizer:
    """Turns an identifier into its outbound form according to the per-kind mode."""

    def __init__(
        self,
        modes: Mapping[str, PseudonymMode],
        *,
        vault: TokenVault | Callable[[], TokenVault] | None = None,
        secrets: SecretSource | None = None,
        hmac_key_ids: Mapping[str, str] | None = None,
    ) -> None:
        for kind, mode in modes.items():
            if mode == "keep" and not IDENTIFIER_KINDS.get(kind, False):
                raise ValueError(f"identifier {kind!r} identifies a person and cannot be kept")
        self.modes = dict(modes)
        self._vault = vault
        self._secrets = secrets
        self._key_ids = dict(hmac_key_ids or {})
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def mode(self, kind: str) -> PseudonymMode:
        return self.modes.get(kind, "drop")

    def pseudonym(self, kind: str, value: object) -> str | None:
        """The outbound form of ``value``, or None to drop it.

        Raises ``RedactionError`` when the mode needs a vault or key that is not
        available; callers drop the value (fail closed).
        """
        if value is None or isinstance(value, bool) or not isinstance(value, (str, int)):
            return None
        text = normalize(str(value))
        if not text:
            return None
        mode = self.mode(kind)
        if mode == "drop":
            return None
        if mode == "keep":
            return text
        if mode == "vault":
            return self._vault_instance().token_for(kind, text)
        digest = hmac.new(self._key(kind), f"{kind}\x00{text}".encode(), hashlib.sha256)
        return f"h-{digest.hexdigest()[:HMAC_HEX_CHARS]}"

    def _vault_instance(self) -> TokenVault:
        with self._lock:
            if self._vault is None:
                raise RedactionError("pseudonym mode 'vault' needs a vault (vault.path and a key)")
            if not isinstance(self._vault, TokenVault):
                self._vault = self._vault()  # opened lazily: the key may come over IPC
            return self._vault

    def _key(self, kind: str) -> bytes:
        with self._lock:
            key = self._keys.get(kind)
            if key is not None:
                return key
            if self._secrets is None:
                raise RedactionError("pseudonym mode 'hmac' needs a secret source")
            secret_id = self._key_ids.get(kind, f"wardlink/phi/hmac/{kind}")
            key = require_key(self._secrets.get_secret(secret_id), secret_id)
            self._keys[kind] = key
            return key
