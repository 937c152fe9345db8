"""Registers the devices the DeviceProxy announces with the cloud API.

The proxy publishes, on the local bus, the sealed ``RedactedDeviceInfo`` of every
device it runs (the policy decided what of it may leave: by default no serial
number). The Uplink - the only component with AWS credentials, from the Greengrass
token-exchange service - upserts each device through the SigV4-signed API
whenever it first appears or its description or connectivity changes. The API
being unreachable never affects telemetry: registration retries in the
background with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wardlink.bus.port import LocalMessage

log = logging.getLogger(__name__)

_FIELDS = (
    "model",
    "manufacturer",
    "serial_number",
    "firmware_version",
    # already cut down by the DeviceProxy's policy (``location.send``; default the unit)
    "location_unit",
    "location_room",
    "location_bed",
)
_STATUS = {"connected": "connected", "disconnected": "disconnected", "silent": "silent"}


@dataclass
class RegistrarCounters:
    registered: int = 0
    failures: int = 0


class DeviceRegistrar:
    def __init__(
        self,
        client_factory: Callable[[], Any],
        gateway_id: str,
        site_id: str | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._client: Any | None = None
        self.gateway_id = gateway_id
        self.site_id = site_id
        self.counters = RegistrarCounters()
        self._wanted: dict[str, dict[str, Any]] = {}
        self._done: dict[str, dict[str, Any]] = {}
        self._changed = asyncio.Event()

    async def on_local_devices(self, message: LocalMessage) -> None:
        """Handler for ``wardlink/local/devices``: a JSON list of sealed device infos."""
        try:
            devices = json.loads(message.payload)
            if not isinstance(devices, list):
                raise ValueError("not a list")
            for device in devices:
                self.offer(device)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignored a malformed device announcement", extra={"error": str(exc)})

    def offer(self, device: dict[str, Any]) -> None:
        registration = {
            "gateway_id": self.gateway_id,
            "device_id": str(device["device_id"]),
            **{k: device[k] for k in _FIELDS if device.get(k) is not None},
            "status": _STATUS.get(str(device.get("connectivity")), "registered"),
        }
        if self.site_id:
            registration["site_id"] = self.site_id
        device_id = registration["device_id"]
        if self._done.get(device_id) != registration:
            self._wanted[device_id] = registration
            self._changed.set()

    def _register(self, registration: dict[str, Any]) -> None:
        if self._client is None:
            self._client = self._client_factory()
        self._client.register_device(**registration)

    async def run(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            if not self._wanted:
                self._changed.clear()
                waiters = {
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self._changed.wait()),
                }
                _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in pending:
                    waiter.cancel()
                continue
            device_id, registration = next(iter(self._wanted.items()))
            try:
                await asyncio.to_thread(self._register, registration)
            except Exception as exc:  # the client already retried; back off and keep going
                self.counters.failures += 1
                attempt += 1
                delay = min(60.0, 2.0**attempt) * random.uniform(0.5, 1.0)
                log.warning(
                    "device registration failed; will retry",
                    extra={
                        "device_id": device_id,
                        "error": type(exc).__name__,
                        "retry_in_s": round(delay, 1),
                    },
                )
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
                continue
            attempt = 0
            if self._wanted.get(device_id) == registration:
                del self._wanted[device_id]
            self._done[device_id] = registration
            self.counters.registered += 1
            log.info(
                "device registered",
                extra={"device_id": device_id, "status": registration["status"]},
            )
