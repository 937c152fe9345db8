"""The append-only local audit log: every sign-in and every change, who, what and when.

HIPAA 45 CFR 164.312(b) asks for audit controls. Each event is one JSON line
appended with ``O_APPEND`` and ``fsync``'d before the action is reported done,
so a power cut cannot lose an acknowledged entry; the file is 0600 and is never
rewritten or truncated by Wardlink. Events hold user names, device ids and
actions only - never a password, a token, a key or patient data. Break-glass
use is marked ``"alert": true`` and logged at ERROR as well, so it is seen.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

AuditSink = Callable[[dict[str, Any]], None]


class AuditLog:
    """Appends audit events to a JSONL file; optional sinks get a copy (e.g. the bus)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.sinks: list[AuditSink] = []
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def record(
        self, event: str, user: str | None = None, alert: bool = False, **details: Any
    ) -> None:
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "user": user,
        }
        entry.update({k: v for k, v in details.items() if v is not None})
        if alert:
            entry["alert"] = True
        line = (json.dumps(entry, separators=(",", ":"), ensure_ascii=True) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        if alert:
            log.error("AUDIT ALERT: %s by %s", event, user, extra={"audit": entry["event"]})
        for sink in list(self.sinks):
            try:
                sink(entry)
            except Exception:  # a copy elsewhere must never cost the local record
                log.warning("audit copy not delivered", exc_info=True)

    def tail(self, limit: int = 200) -> list[dict[str, Any]]:
        """The most recent events, newest last."""
        try:
            lines = self.path.read_text().splitlines()[-limit:]
        except FileNotFoundError:
            return []
        events: list[dict[str, Any]] = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events
