"""Device and gateway facts for alerts and alarm rows, read by key from the registry tables.

Support needs model, firmware and site next to an alert, and the detector inputs
carry none of them. They come from the Devices table (PK ``device_uid``) and the
Gateways table (PK ``gateway_id``) with GetItem, never a Scan, and only the
allow-listed attributes are even read (``ProjectionExpression``): the serial
number is a Safe Harbor identifier and stays out of every alert.

Lookups are cached per Lambda environment for a few minutes, since a flapping
device would otherwise cost a read per alert, and registry facts change rarely.
A failed lookup degrades the alert (``registered=False``) instead of blocking it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("wardlink.detectors.aws")

DEVICE_FIELDS = ("device_uid", "device_id", "gateway_id", "model", "manufacturer",
                 "firmware_version", "site_id")  # fmt: skip
GATEWAY_FIELDS = ("gateway_id", "site_id", "status")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the registry knows about the subject of an alarm: a device or a gateway."""

    subject: str
    """``device`` or ``gateway``."""
    gateway_id: str
    device_uid: str | None = None
    device_id: str | None = None
    model: str | None = None
    manufacturer: str | None = None
    firmware_version: str | None = None
    site_id: str | None = None
    registered: bool = False

    def attributes(self) -> dict[str, str]:
        """The non-empty facts, for alarm rows and SNS message attributes."""
        names = ("gateway_id", "device_uid", "device_id", "model", "manufacturer",
                 "firmware_version", "site_id")  # fmt: skip
        values = {name: getattr(self, name) for name in names}
        return {name: str(value) for name, value in values.items() if value}

    def sentence(self) -> str:
        """One line for people: 'Registry: model X by Y, firmware Z, site S, gateway G.'"""
        if self.subject == "gateway":
            site = self.site_id or "unknown"
            note = "" if self.registered else " (gateway not found in the registry)"
            return f"Registry: gateway {self.gateway_id}, site {site}{note}."
        if not self.registered:
            return (
                f"Registry: device {self.device_uid} is not in the Devices table "
                f"(gateway {self.gateway_id}, site {self.site_id or 'unknown'})."
            )
        known_maker = self.manufacturer and self.manufacturer != "unknown"
        maker = f" by {self.manufacturer}" if known_maker else ""
        return (
            f"Registry: model {self.model or 'unknown'}{maker}, "
            f"firmware {self.firmware_version or 'unknown'}, site {self.site_id or 'unknown'}, "
            f"gateway {self.gateway_id}."
        )


def subject_of(key: str) -> tuple[str, str, str | None]:
    """(subject, gateway_id, device_uid) for a detector key: ``gw/dev`` or ``gw``."""
    if "/" in key:
        gateway_id = key.split("/", 1)[0]
        return "device", gateway_id, key
    return "gateway", key, None


class RegistryDirectory:
    """Cached GetItem reads of the Devices and Gateways tables."""

    def __init__(
        self,
        client: Any,
        devices_table: str,
        gateways_table: str,
        *,
        ttl_s: float = 300.0,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ddb = client
        self._devices = devices_table
        self._gateways = gateways_table
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, dict[str, str] | None]] = {}

    def facts(self, key: str) -> Facts:
        subject, gateway_id, device_uid = subject_of(key)
        gateway = self._read(self._gateways, "gateway_id", gateway_id, GATEWAY_FIELDS)
        site = (gateway or {}).get("site_id")
        if subject == "gateway":
            return Facts("gateway", gateway_id, site_id=site, registered=gateway is not None)
        assert device_uid is not None
        device = self._read(self._devices, "device_uid", device_uid, DEVICE_FIELDS)
        if device is None:
            return Facts(
                "device", gateway_id, device_uid=device_uid,
                device_id=device_uid.split("/", 1)[1], site_id=site,
            )  # fmt: skip
        return Facts(
            "device",
            gateway_id,
            device_uid=device_uid,
            device_id=device.get("device_id") or device_uid.split("/", 1)[1],
            model=device.get("model"),
            manufacturer=device.get("manufacturer"),
            firmware_version=device.get("firmware_version"),
            site_id=device.get("site_id") or site,
            registered=True,
        )

    def _read(
        self, table: str, key_name: str, key: str, fields: tuple[str, ...]
    ) -> dict[str, str] | None:
        now = self._clock()
        cached = self._cache.get((table, key))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        try:
            response = self._ddb.get_item(
                TableName=table,
                Key={key_name: {"S": key}},
                ProjectionExpression=", ".join(names),
                ExpressionAttributeNames=names,
            )
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "registry lookup failed; the alert goes out without registry facts",
                extra={"table": table, "key": key, "error": str(exc)[:300]},
            )
            return None  # not cached: the next alert tries again
        item = response.get("Item")
        row = (
            {name: str(value["S"]) for name, value in item.items() if "S" in value}
            if item
            else None
        )
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[(table, key)] = (now, row)
        return row
