"""Copies of the UI's audit records that leave the gateway: to the cloud and to the site's syslog.

A local audit log on a gateway that can be stolen or wiped is not enough for
HIPAA's audit controls, so every record the UI writes also goes, redacted, to

* the cloud: put on the local bus (``wardlink/local/audit``) for the Uplink,
  which publishes it to IoT Core (``wardlink.uplink.audit_relay``);
* the site's syslog server, when configured: RFC 5424 messages over TLS with the
  octet-counting framing of RFC 5425, trusting the CA the site names.

The copy carries the user name, the action, the target device, the outcome and
the time - never a reason text, a path, a password, a token or patient data. A
user name typed at a failed sign-in that matches no account is sent as
``<unknown>`` (people type passwords into the user-name field).

Delivery never blocks or fails the UI: ``AuditLog.record`` only appends to a
bounded queue per destination; a task per destination sends, retrying with
back-off; when a queue is full the new copy is dropped and counted, and the Site
page shows the counts. The local audit log itself is written first, always.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from wardlink.runtime.config import SyslogConfig
from wardlink.uplink.audit_relay import AUDIT_LOCAL_TOPIC, UNKNOWN_USER, cloud_audit_event

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Publish = Callable[[str, bytes], Awaitable[None]]

_FAILED = {
    "sign-in-failed": "failure",
    "account-locked": "locked",
    "diagnostics-refused": "refused",
}
_SEVERITY = {"success": 5, "declined": 5, "failure": 4, "refused": 4, "locked": 2}  # RFC 5424 6.2.1
APP_NAME = "wardlink-ui"


def copy_of(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The redacted copy of one local audit record; None if it cannot be made safe."""
    event = str(entry.get("event", ""))
    if "ok" in entry:
        outcome = "success" if entry["ok"] is True else "failure"
    elif event in _FAILED:
        outcome = _FAILED[event]
    elif event.endswith("-refused"):
        outcome = "refused"
    elif event.endswith("-declined"):
        outcome = "declined"
    else:
        outcome = "success"
    user = entry.get("user")
    if not user or (event == "sign-in-failed" and entry.get("known") is not True):
        user = UNKNOWN_USER
    document = {
        "time": entry.get("time"),
        "user": user,
        "action": event,
        "device_id": entry.get("device_id"),
        "outcome": outcome,
        "alert": entry.get("alert") is True,
    }
    try:
        return cloud_audit_event(document)
    except ValueError:
        # a user or device id outside the allowed alphabet: keep the fact, not the text
        document["user"] = UNKNOWN_USER
        document.pop("device_id")
        try:
            return cloud_audit_event(document)
        except ValueError:
            log.warning("audit record has no safe copy", extra={"audit": event[:48]})
            return None


class CopyQueue:
    """A bounded queue of copies for one destination, drained by ``run`` with retries."""

    def __init__(
        self,
        name: str,
        send: Send,
        max_queued: int = 1000,
        retry_min_s: float = 1.0,
        retry_max_s: float = 60.0,
        send_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self._send = send
        self._max_queued = max_queued
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.send_timeout_s = send_timeout_s
        self._items: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.delivered = 0
        self.dropped = 0
        self.failures = 0

    @property
    def depth(self) -> int:
        return len(self._items)

    def offer(self, copy: dict[str, Any]) -> None:
        """Queue one copy without waiting; count it as dropped if the queue is full."""
        with self._lock:
            if len(self._items) >= self._max_queued:
                self.dropped += 1
                return
            self._items.append(copy)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        delay = self.retry_min_s
        while not stop.is_set():
            if not self._items:
                self._wake.clear()
                if self._items:
                    continue
                await _first_of(stop, self._wake)
                continue
            item = self._items[0]
            try:
                await asyncio.wait_for(self._send(item), timeout=self.send_timeout_s)
            except Exception as exc:
                self.failures += 1
                if delay == self.retry_min_s:
                    log.warning(
                        "audit copy not delivered; will retry",
                        extra={"destination": self.name, "error": type(exc).__name__},
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(self.retry_max_s, delay * 2)
                continue
            delay = self.retry_min_s
            with self._lock:
                if self._items and self._items[0] is item:
                    self._items.popleft()
            self.delivered += 1


def rfc5424(copy: dict[str, Any], hostname: str, facility: int, procid: int) -> bytes:
    """One RFC 5424 syslog message: header, no structured data, the copy as JSON."""
    severity = 1 if copy.get("alert") else _SEVERITY.get(str(copy.get("outcome")), 5)
    pri = facility * 8 + severity
    msgid = str(copy.get("action", "-"))[:32] or "-"
    host = "".join(c for c in hostname if 33 <= ord(c) <= 126)[:255] or "-"
    body = json.dumps(copy, separators=(",", ":"), ensure_ascii=True)
    return f"<{pri}>1 {copy['time']} {host} {APP_NAME} {procid} {msgid} - {body}".encode("ascii")


def octet_counted(message: bytes) -> bytes:
    """RFC 5425 4.3 framing: ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(message)).encode() + b" " + message


class SyslogSender:
    """One TLS connection to the site's syslog server, opened again after any failure."""

    def __init__(self, settings: SyslogConfig, hostname: str) -> None:
        self.settings = settings
        self.hostname = hostname
        self._context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        if settings.cert_file is not None:
            self._context.load_cert_chain(
                str(settings.cert_file), str(settings.key_file) if settings.key_file else None
            )
        self._writer: asyncio.StreamWriter | None = None
        self._procid = os.getpid()

    async def _connect(self) -> asyncio.StreamWriter:
        if self._writer is None or self._writer.is_closing():
            _, self._writer = await asyncio.open_connection(
                self.settings.host,
                self.settings.port,
                ssl=self._context,
                server_hostname=self.settings.server_name or self.settings.host,
                ssl_handshake_timeout=10.0,
            )
        return self._writer

    async def send(self, copy: dict[str, Any]) -> None:
        message = rfc5424(copy, self.hostname, self.settings.facility, self._procid)
        try:
            writer = await self._connect()
            writer.write(octet_counted(message))
            await writer.drain()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=2.0)


class AuditCopies:
    """Fans each audit record out to the destinations; ``sink`` goes into ``AuditLog.sinks``."""

    def __init__(self, queues: list[CopyQueue], closers: list[Callable[[], Awaitable[None]]]):
        self.queues = queues
        self._closers = closers

    @classmethod
    def for_gateway(
        cls,
        publish: Publish,
        gateway_id: str,
        syslog: SyslogConfig | None = None,
        **queue_options: Any,
    ) -> AuditCopies:
        async def to_bus(copy: dict[str, Any]) -> None:
            await publish(AUDIT_LOCAL_TOPIC, json.dumps(copy, separators=(",", ":")).encode())

        queues = [CopyQueue("cloud", to_bus, **queue_options)]
        closers: list[Callable[[], Awaitable[None]]] = []
        if syslog is not None:
            sender = SyslogSender(syslog, gateway_id)
            queues.append(CopyQueue("syslog", sender.send, **queue_options))
            closers.append(sender.close)
        return cls(queues, closers)

    def sink(self, entry: dict[str, Any]) -> None:
        copy = copy_of(entry)
        if copy is None:
            for queue in self.queues:
                queue.dropped += 1
            return
        for queue in self.queues:
            queue.offer(copy)

    def dropped(self) -> dict[str, int]:
        return {queue.name: queue.dropped for queue in self.queues}

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.gather(*(queue.run(stop) for queue in self.queues))
        finally:
            for close in self._closers:
                await close()


async def _first_of(first: asyncio.Event, second: asyncio.Event) -> None:
    waiters = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
