"""The gateway UI's audit copies, carried from the local bus to IoT Core.

The UI has no cloud connection (and must not get one: it is on the site's LAN);
the Uplink is the one component allowed to publish to IoT Core. So the UI puts a
redacted copy of each audit record on ``wardlink/local/audit`` and the Uplink
relays it to ``wardlink/v1/{gateway_id}/audit``, where an IoT rule keeps it in
the cloud's audit log group.

Any component the recipe lets publish locally could put something on that topic,
so the relay trusts nothing it receives: it rebuilds each event from a fixed
allow-list of short, pattern-checked fields (user, action, target device,
outcome, time, alert) and drops anything else, so free text - which could carry
PHI or a secret - never reaches the cloud. Delivery is at most ``max_queued``
events in memory, retried with back-off while the uplink is down; what does not
fit is counted in ``dropped`` (the Site page shows it). Audit copies are not
telemetry: they do not go through the spool and do not consume ``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import deque
from datetime import datetime
from typing import Any

from wardlink.bus.port import EdgeBus, LocalMessage
from wardlink.uplink.topics import PREFIX, check_topic

log = logging.getLogger(__name__)

AUDIT_LOCAL_TOPIC = "wardlink/local/audit"
OUTCOMES = ("success", "failure", "refused", "locked", "declined")
UNKNOWN_USER = "<unknown>"
_USER = re.compile(r"^([a-z][a-z0-9._-]{1,31}|<unknown>)$")
_ACTION = re.compile(r"^[a-z][a-z0-9-]{1,47}$")
_DEVICE = re.compile(r"^[A-Za-z0-9:_.-]{1,64}$")
_GATEWAY = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")


class AuditEventRefused(ValueError):
    """What arrived is not an audit event the cloud may receive."""


def audit_topic(gateway_id: str) -> str:
    if not _GATEWAY.match(gateway_id):
        raise ValueError(f"gateway id {gateway_id!r} is not a valid IoT thing name")
    topic = f"{PREFIX}/{gateway_id}/audit"
    check_topic(topic)
    return topic


def cloud_audit_event(document: dict[str, Any]) -> dict[str, Any]:
    """The event rebuilt from the allow-list; ``AuditEventRefused`` if a field is off."""

    def field(name: str, pattern: re.Pattern[str]) -> str:
        value = document.get(name)
        if not isinstance(value, str) or not pattern.match(value):
            raise AuditEventRefused(f"audit event field {name!r} missing or not allowed")
        return value

    event: dict[str, Any] = {
        "time": field("time", re.compile(r"^[0-9T:.+Z-]{19,35}$")),
        "user": field("user", _USER),
        "action": field("action", _ACTION),
        "outcome": field("outcome", re.compile("^(" + "|".join(OUTCOMES) + ")$")),
    }
    try:
        datetime.fromisoformat(event["time"])
    except ValueError as exc:
        raise AuditEventRefused("audit event time is not ISO 8601") from exc
    if document.get("device_id") is not None:
        event["device_id"] = field("device_id", _DEVICE)
    if document.get("alert") is True:
        event["alert"] = True
    return event


class AuditRelay:
    """Subscribes to the UI's audit copies and publishes them to IoT Core."""

    def __init__(
        self,
        bus: EdgeBus,
        gateway_id: str,
        max_queued: int = 1000,
        retry_min_s: float = 1.0,
        retry_max_s: float = 60.0,
    ) -> None:
        self.bus = bus
        self.gateway_id = gateway_id
        self.topic = audit_topic(gateway_id)
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._queue: deque[bytes] = deque()
        self._max_queued = max_queued
        self._wake = asyncio.Event()
        self.delivered = 0
        self.dropped = 0
        self.refused = 0

    async def attach(self) -> None:
        await self.bus.subscribe_local(AUDIT_LOCAL_TOPIC, self.on_local)

    async def on_local(self, message: LocalMessage) -> None:
        try:
            document = json.loads(message.payload)
            if not isinstance(document, dict):
                raise AuditEventRefused("not a JSON object")
            event = cloud_audit_event(document)
        except (ValueError, TypeError) as exc:
            self.refused += 1
            log.warning("audit copy refused", extra={"error": str(exc)[:120]})
            return
        event["gateway_id"] = self.gateway_id
        if len(self._queue) >= self._max_queued:
            self.dropped += 1
            return
        self._queue.append(json.dumps(event, separators=(",", ":")).encode())
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        delay = self.retry_min_s
        while not stop.is_set():
            if not self._queue:
                self._wake.clear()
                await _first_of(stop, self._wake)
                continue
            try:
                await self.bus.publish_to_iot_core(self.topic, self._queue[0], timeout=10.0)
            except Exception as exc:
                if delay == self.retry_min_s:
                    log.warning(
                        "audit copy not delivered; will retry", extra={"error": type(exc).__name__}
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(self.retry_max_s, delay * 2)
                continue
            delay = self.retry_min_s
            self._queue.popleft()
            self.delivered += 1


async def _first_of(first: asyncio.Event, second: asyncio.Event) -> None:
    waiters = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
