"""Commands the DeviceProxy can trust: who asked for what, signed with a shared key.

Greengrass lets any component whose recipe grants it publish to a local topic,
and a subscriber cannot see who published. So a command from the UI carries the
signed-in user and an HMAC-SHA256 over its canonical JSON, keyed with a secret
only the UI and the DeviceProxy can read (Greengrass secret store). The
DeviceProxy refuses a command whose MAC is wrong, that is too old or from the
future, or whose nonce it has already seen (a replay).

Standard library only: the DeviceProxy imports this module and nothing else of
the UI, so its memory stays as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

COMMANDS_TOPIC = "wardlink/local/commands"
RESULTS_TOPIC = "wardlink/local/commands/results"
MAX_SKEW_S = 60.0
ACTIONS = frozenset({"assign", "reconnect", "sync", "add", "remove", "scan"})
#: Actions about the site rather than one configured device (``device_id`` is a new id or "-").
SITE_ACTIONS = frozenset({"add", "scan"})


class CommandRefused(ValueError):
    """A command that is not applied; the message says why (never the key)."""


@dataclass(frozen=True)
class Command:
    """A verified command: the user it was signed for and what it asks."""

    command_id: str
    user: str
    action: str
    device_id: str
    args: dict[str, Any]
    issued_at: float


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def sign_command(
    key: bytes,
    user: str,
    action: str,
    device_id: str,
    args: dict[str, Any] | None = None,
    now: float | None = None,
) -> bytes:
    """The command as it is published on ``COMMANDS_TOPIC``."""
    if len(key) < 16:
        raise ValueError("the command key must be at least 16 bytes")
    body: dict[str, Any] = {
        "id": secrets.token_hex(8),
        "user": user,
        "action": action,
        "device_id": device_id,
        "args": dict(args or {}),
        "issued_at": time.time() if now is None else now,
        "nonce": secrets.token_hex(16),
    }
    return _canonical({**body, "hmac": _mac(key, body)})


class CommandVerifier:
    """Verifies commands and remembers recent nonces, so a copied command fails."""

    def __init__(self, key: bytes, max_skew_s: float = MAX_SKEW_S, remember: int = 4096) -> None:
        if len(key) < 16:
            raise ValueError("the command key must be at least 16 bytes")
        self._key = key
        self._max_skew_s = max_skew_s
        self._remember = remember
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, payload: bytes, now: float | None = None) -> Command:
        """The command, or ``CommandRefused`` saying why."""
        try:
            document = json.loads(payload)
        except ValueError:
            raise CommandRefused("not JSON") from None
        if not isinstance(document, dict):
            raise CommandRefused("not a JSON object")
        mac = document.pop("hmac", None)
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(self._key, document)):
            raise CommandRefused("missing or invalid HMAC")
        try:
            command = Command(
                command_id=str(document["id"]),
                user=str(document["user"]),
                action=str(document["action"]),
                device_id=str(document["device_id"]),
                args=dict(document["args"]),
                issued_at=float(document["issued_at"]),
            )
            nonce = str(document["nonce"])
        except (KeyError, TypeError, ValueError):
            raise CommandRefused("malformed command") from None
        current = time.time() if now is None else now
        if abs(current - command.issued_at) > self._max_skew_s:
            raise CommandRefused("expired or from the future")
        if nonce in self._seen:
            raise CommandRefused("replayed")
        self._seen[nonce] = current
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        if command.action not in ACTIONS:
            raise CommandRefused(f"unknown action {command.action!r}")
        return command


def unverified_fields(payload: bytes) -> dict[str, str]:
    """What a refused command claims (id, user, action, device), for the audit line only."""
    try:
        document = json.loads(payload)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {
        k: str(document[k])[:64] for k in ("id", "user", "action", "device_id") if k in document
    }


def result_message(
    command_id: str, ok: bool, detail: str, user: str = "", data: Any = None
) -> bytes:
    """The DeviceProxy's answer on ``RESULTS_TOPIC`` (``data``: what a scan found)."""
    body: dict[str, Any] = {"id": command_id, "ok": ok, "detail": detail, "user": user}
    if data is not None:
        body["data"] = data
    return _canonical(body)
