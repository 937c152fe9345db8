"""Local command and control from the technician's UI, verified before it is applied.

A subscriber on the Greengrass local bus cannot see who published, so every
command carries the signed-in user and an HMAC (``wardlink.ui.signing``). The
DeviceProxy verifies it, applies it, appends a line to its own audit file
(JSONL, fsync'd) and answers on ``wardlink/local/commands/results``. A command
without a valid HMAC - forged, altered, replayed or stale - is refused, audited
as an alert and answered with the refusal.

The location a technician assigns (unit, room, bed) is a site-local overlay
keyed by device id (``SiteOverlay``): it survives restarts, and what of it leaves
with the device's telemetry is what the PHI policy's ``location.send`` allows
(default: the unit only).

The device actions - sync stored records now, add a device from a built-in
profile, remove one, scan for nearby BLE health devices - are ``SiteDevices``'
(``wardlink.gateway.site_devices``); their changes are a second site-local overlay.
Commands are handled as tasks: a scan or a record sync takes seconds and must not
hold up the bus.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wardlink.bus.port import EdgeBus, LocalMessage
from wardlink.bus.quiet import QuietPublisher
from wardlink.ui.signing import (
    COMMANDS_TOPIC,
    RESULTS_TOPIC,
    Command,
    CommandRefused,
    CommandVerifier,
    result_message,
    unverified_fields,
)

if TYPE_CHECKING:
    from wardlink.gateway.site_devices import SiteDevices

log = logging.getLogger(__name__)

LOCATION_FIELDS = ("unit", "room", "bed")
MAX_FIELD = 32

Reconnect = Callable[[str], Awaitable[str]]


class SiteOverlay:
    """Site-local settings per device (its location), in a 0600 JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, dict[str, str]] = {}
        try:
            self._data = json.loads(path.read_text())
        except FileNotFoundError:
            pass
        except ValueError:
            log.error("site overlay unreadable; starting empty", extra={"path": str(path)})

    def location(self, device_id: str) -> dict[str, str]:
        return dict(self._data.get(device_id, {}))

    def all(self) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in self._data.items()}

    def assign(self, device_id: str, location: dict[str, str]) -> None:
        cleaned = {k: str(location[k]) for k in LOCATION_FIELDS if location.get(k)}
        if cleaned:
            self._data[device_id] = cleaned
        else:
            self._data.pop(device_id, None)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".overlay-")
        with os.fdopen(fd, "w") as handle:
            json.dump(self._data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def _append_audit(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = (json.dumps(entry, separators=(",", ":"), ensure_ascii=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


class CommandService:
    """Verifies, applies, audits and answers the UI's commands."""

    def __init__(
        self,
        key: bytes,
        overlay: SiteOverlay,
        audit_path: Path,
        known: Callable[[str], bool],
        reconnect: Reconnect | None = None,
        devices: SiteDevices | None = None,
    ) -> None:
        self.verifier = CommandVerifier(key)
        self.devices = devices
        self._tasks: set[asyncio.Task[None]] = set()
        self.overlay = overlay
        self.audit_path = audit_path
        self.known = known
        self.reconnect = reconnect
        self.refused = 0

    async def attach(self, bus: EdgeBus) -> None:
        answers = QuietPublisher(RESULTS_TOPIC)

        async def answer(payload: bytes) -> None:
            await answers.publish(bus, await self.handle(payload))

        async def on_command(message: LocalMessage) -> None:
            task = asyncio.create_task(answer(message.payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        await bus.subscribe_local(COMMANDS_TOPIC, on_command)

    async def handle(self, payload: bytes) -> bytes:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            command = self.verifier.verify(payload)
        except CommandRefused as exc:
            self.refused += 1
            claimed = unverified_fields(payload)
            _append_audit(
                self.audit_path,
                {
                    "time": now,
                    "event": "command-refused",
                    "reason": str(exc),
                    "claimed": claimed,
                    "alert": True,
                },
            )
            log.error("command refused: %s", exc, extra={"claimed_user": claimed.get("user")})
            return result_message(
                claimed.get("id", ""), False, f"refused: {exc}", claimed.get("user", "")
            )
        try:
            ok, detail, data = await self._apply(command)
        except Exception as exc:  # answered and audited; the DeviceProxy keeps running
            log.exception("command %s failed", command.action)
            ok, detail, data = False, f"failed: {type(exc).__name__}", None
        _append_audit(
            self.audit_path,
            {
                "time": now,
                "event": "command",
                "user": command.user,
                "action": command.action,
                "device_id": command.device_id,
                "ok": ok,
                "detail": detail,
            },
        )
        log.info(
            "command %s on %s by %s: %s",
            command.action,
            command.device_id,
            command.user,
            detail,
            extra={"ok": ok},
        )
        return result_message(command.command_id, ok, detail, command.user, data)

    async def _apply(self, command: Command) -> tuple[bool, str, Any]:
        if command.action in ("sync", "add", "remove", "scan"):
            if self.devices is None:
                return False, f"{command.action} is not available here", None
            if command.action == "scan":
                return await self.devices.scan()
            if command.action == "add":
                return (*await self.devices.add(command.args), None)
        if not self.known(command.device_id):
            return False, f"no device {command.device_id}", None
        if command.action == "sync":
            assert self.devices is not None
            return (*await self.devices.sync_records(command.device_id), None)
        if command.action == "remove":
            assert self.devices is not None
            return (*await self.devices.remove(command.device_id), None)
        return (*await self._apply_local(command), None)

    async def _apply_local(self, command: Command) -> tuple[bool, str]:
        if command.action == "assign":
            location = {k: str(command.args.get(k, "")).strip() for k in LOCATION_FIELDS}
            if any(len(v) > MAX_FIELD for v in location.values()):
                return False, f"location fields are at most {MAX_FIELD} characters"
            self.overlay.assign(command.device_id, location)
            shown = " / ".join(v for v in location.values() if v) or "cleared"
            return True, f"location {shown} (only what the PHI policy allows leaves)"
        if command.action == "reconnect":
            if self.reconnect is None:
                return False, "reconnect is not available here"
            return True, await self.reconnect(command.device_id)
        return False, f"unknown action {command.action}"
