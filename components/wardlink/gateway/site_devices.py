"""Devices a technician adds or removes on site, and how they meet the deployment's.

The deployment (Greengrass configuration) says which devices a gateway reads. A
technician at the bedside also needs to plug in a spare oximeter or pair a
patient's glucose meter without waiting for a cloud deployment, so the UI's
signed ``add`` and ``remove`` commands change a *site-local overlay*: a 0600 JSON
file in the DeviceProxy's state directory that survives restarts. What runs is
the deployment merged with the overlay, and where they disagree the deployment
wins and the disagreement is reported (and shown in the UI):

* a device added on site whose id a later deployment also configures runs as the
  deployment says;
* a deployment device removed on site stays removed while the deployment keeps
  configuring it exactly as it was when it was removed; a deployment that changes
  it brings it back.

``SiteDevices`` holds that logic and the actions (sync stored records, add,
remove, scan for nearby BLE health devices) for whoever runs the devices: the
DeviceProxy, and the demo. The BLE scan goes through the transport's ``scan``
(bleak, whichever backend the process uses).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wardlink.gateway.device_worker import DeviceWorker
from wardlink.profiles import (
    BleTransportSpec,
    DeviceProfile,
    ProfileError,
    SerialTransportSpec,
    TcpTransportSpec,
    builtin_profiles,
    normalize_uuid,
)
from wardlink.runtime.config import DeviceConfig

log = logging.getLogger(__name__)

SITE_DEVICES_TOPIC = "wardlink/local/site-devices"
SCAN_SECONDS = 4.0
#: Bluetooth SIG health services a scan looks for (Assigned Numbers), and their names.
HEALTH_SERVICES = {
    "1808": "Glucose",
    "1810": "Blood Pressure",
    "1809": "Health Thermometer",
    "1822": "Pulse Oximeter",
    "181d": "Weight Scale",
    "180d": "Heart Rate",
}
RACP = normalize_uuid("2A52")  # Record Access Control Point
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")

Result = tuple[bool, str]


@dataclass(frozen=True)
class Conflict:
    device_id: str
    detail: str


def _dump(device: DeviceConfig) -> dict[str, Any]:
    return device.model_dump(mode="json", by_alias=True, exclude_none=True)


class DeviceOverlay:
    """Devices added and removed on site, in a 0600 JSON file (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.added: dict[str, DeviceConfig] = {}
        self.removed: dict[str, dict[str, Any]] = {}  # id -> the deployment's config removed
        try:
            raw = json.loads(path.read_text())
            for device_id, document in dict(raw.get("added", {})).items():
                self.added[str(device_id)] = DeviceConfig.model_validate(document)
            self.removed = {str(k): dict(v) for k, v in dict(raw.get("removed", {})).items()}
        except FileNotFoundError:
            pass
        except (ValueError, TypeError, AttributeError, ValidationError):
            # Fail closed: an unreadable overlay adds nothing, the deployment runs as it is.
            log.error("site device overlay unreadable; ignored", extra={"path": str(path)})

    def add(self, device: DeviceConfig) -> None:
        self.added[device.device_id] = device
        self._save()

    def remove(self, device_id: str, deployed: DeviceConfig | None) -> None:
        if self.added.pop(device_id, None) is None and deployed is not None:
            self.removed[device_id] = _dump(deployed)
        self._save()

    def merge(
        self, deployment: tuple[DeviceConfig, ...]
    ) -> tuple[tuple[DeviceConfig, ...], list[Conflict]]:
        """What runs, and where the deployment overrode the site."""
        devices: list[DeviceConfig] = []
        conflicts: list[Conflict] = []
        deployed = {d.device_id for d in deployment}
        for device in deployment:
            removed = self.removed.get(device.device_id)
            if removed is not None:
                if removed == _dump(device):
                    continue
                conflicts.append(
                    Conflict(
                        device.device_id,
                        "removed on site, but the deployment changed this device:"
                        " the deployment wins, it runs again",
                    )
                )
            devices.append(device)
        for device_id, device in sorted(self.added.items()):
            if device_id in deployed:
                conflicts.append(
                    Conflict(
                        device_id,
                        "added on site, but the deployment configures a device with this id:"
                        " the deployment's configuration wins",
                    )
                )
                continue
            devices.append(device)
        return tuple(devices), conflicts

    def _save(self) -> None:
        document = {
            "added": {k: _dump(v) for k, v in sorted(self.added.items())},
            "removed": dict(sorted(self.removed.items())),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".site-devices-")
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def new_device(args: dict[str, Any]) -> DeviceConfig:
    """A device from a built-in profile and its transport parameter; ValueError says why not.

    ``args``: ``device_id``, ``profile`` (a built-in name; no files from a browser),
    and ``port`` (serial: the device path; TCP: the port) or ``address`` (BLE).
    """
    device_id = str(args.get("device_id", "")).strip()
    name = str(args.get("profile", "")).strip()
    profile = builtin_profiles().get(name)
    if profile is None:
        raise ValueError(f"no built-in profile {name!r}")
    spec = profile.transport
    fields: dict[str, Any] = {"device_id": device_id, "profile": name}
    if isinstance(spec, BleTransportSpec):
        address = str(args.get("address", "")).strip().upper()
        if not _MAC.match(address):
            raise ValueError("a Bluetooth device needs its address, as AA:BB:CC:DD:EE:FF")
        fields["ble"] = {"address": address}
    elif isinstance(spec, SerialTransportSpec):
        port = str(args.get("port", "")).strip()
        if not port.startswith("/") or ".." in port.split("/") or len(port) > 200:
            raise ValueError("a serial device needs its port: an absolute path, e.g. /dev/ttyUSB0")
        fields["serial"] = {"path": port}
    elif isinstance(spec, TcpTransportSpec):
        text = str(args.get("port", "")).strip()
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError("a network device needs its TCP port, 1 to 65535")
        fields["tcp"] = {"port": int(text)}
    else:
        raise ValueError(f"profile {name!r} has no transport the UI can configure")
    try:
        return DeviceConfig.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(problems) from None


def profiles_for_service(service_uuid: str) -> list[str]:
    """Built-in BLE profiles for an advertised service, by name."""
    wanted = normalize_uuid(service_uuid)
    return sorted(
        name
        for name, profile in builtin_profiles().items()
        if isinstance(profile.transport, BleTransportSpec)
        and normalize_uuid(profile.transport.service_uuid) == wanted
    )


@cache
def profile_choices() -> list[dict[str, str]]:
    """Built-in profiles as the add-device form offers them: name, model, what to give."""
    choices = []
    for name, profile in sorted(builtin_profiles().items()):
        needs = _needs(profile)
        if needs:
            records = "yes" if has_stored_records(name) else ""
            choices.append(
                {"name": name, "model": profile.model or "", "needs": needs, "records": records}
            )
    return choices


def _needs(profile: DeviceProfile) -> str:
    spec = profile.transport
    if isinstance(spec, BleTransportSpec):
        return "address"
    if isinstance(spec, SerialTransportSpec | TcpTransportSpec):
        return "port"
    return ""


def has_stored_records(profile_name: str | None) -> bool:
    """Whether the device's profile has a Record Access Control Point (RACP)."""
    if not profile_name:
        return False
    try:
        profile = builtin_profiles().get(profile_name)
    except ProfileError:
        return False
    spec = profile.transport if profile is not None else None
    return isinstance(spec, BleTransportSpec) and any(
        normalize_uuid(c.uuid) == RACP for c in spec.characteristics
    )


class SiteDevices:
    """The deployment merged with the site overlay, and the technician's device actions.

    ``apply`` makes the given devices the running set (the host's own diffing);
    ``worker_of`` is the running worker of a device, if any.
    """

    def __init__(
        self,
        overlay: DeviceOverlay,
        apply: Callable[[tuple[DeviceConfig, ...]], Awaitable[None]],
        worker_of: Callable[[str], DeviceWorker | None],
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.overlay = overlay
        self._apply = apply
        self._worker_of = worker_of
        self._on_change = on_change
        self.deployment: tuple[DeviceConfig, ...] = ()
        self.devices: tuple[DeviceConfig, ...] = ()
        self.conflicts: list[Conflict] = []

    async def deploy(self, deployment: tuple[DeviceConfig, ...]) -> None:
        """A (new) deployment configuration: merge it with the site's changes and apply."""
        self.deployment = deployment
        await self._refresh()

    async def _refresh(self) -> None:
        self.devices, conflicts = self.overlay.merge(self.deployment)
        for conflict in conflicts:
            if conflict not in self.conflicts:
                log.warning(
                    "site change overridden by the deployment: %s",
                    conflict.detail,
                    extra={"device_id": conflict.device_id},
                )
        self.conflicts = conflicts
        await self._apply(self.devices)
        if self._on_change is not None:
            self._on_change()

    def known(self, device_id: str) -> bool:
        return any(d.device_id == device_id for d in self.devices)

    def state(self) -> bytes:
        """What the UI shows about site changes (``SITE_DEVICES_TOPIC``): ids and words only."""
        document = {
            "added": sorted(self.overlay.added),
            "removed": sorted(self.overlay.removed),
            "conflicts": [{"device_id": c.device_id, "detail": c.detail} for c in self.conflicts],
            "profiles": profile_choices(),
        }
        return json.dumps(document, separators=(",", ":")).encode()

    # -- the actions -------------------------------------------------------------------

    async def add(self, args: dict[str, Any]) -> Result:
        try:
            device = new_device(args)
        except ValueError as exc:
            return False, str(exc)
        if any(d.device_id == device.device_id for d in self.deployment):
            return False, f"{device.device_id} is configured by the deployment; choose another id"
        if self.known(device.device_id):
            return False, f"{device.device_id} exists already"
        self.overlay.add(device)
        await self._refresh()
        where = device.ble.address if device.ble else device.serial.path if device.serial else ""
        if device.tcp is not None:
            where = f"TCP port {device.tcp.port}"
        return True, f"added {device.device_id} ({device.profile}, {where}); kept on this site"

    async def remove(self, device_id: str) -> Result:
        if not self.known(device_id):
            return False, f"no device {device_id}"
        deployed = next((d for d in self.deployment if d.device_id == device_id), None)
        self.overlay.remove(device_id, deployed)
        await self._refresh()
        return True, f"removed {device_id}" + (
            " (the deployment configures it: a deployment that changes it brings it back)"
            if deployed is not None
            else ""
        )

    async def sync_records(self, device_id: str) -> Result:
        device = next((d for d in self.devices if d.device_id == device_id), None)
        if device is None:
            return False, f"no device {device_id}"
        if not has_stored_records(device.profile):
            return False, "this device's profile has no stored records (no RACP)"
        worker = self._worker_of(device_id)
        sync = getattr(worker.transport, "sync_now", None) if worker is not None else None
        if worker is None or sync is None:
            return False, "the device is not running"
        if not worker.transport.connected:
            return False, "the device is not connected: records are synced when it connects"
        result = await sync()
        if not result.completed:
            return False, f"sync not completed ({result.received} records received); retried later"
        frm = "the start" if result.requested_from is None else f"record {result.requested_from}"
        return True, f"{result.received} stored records received (asked from {frm})"

    async def scan(self, seconds: float = SCAN_SECONDS) -> tuple[bool, str, list[dict[str, Any]]]:
        try:
            from wardlink.gateway.ble_link import current_backend
            from wardlink.transports.ble import scan
        except ImportError as exc:  # a gateway without bleak
            return False, f"Bluetooth is not available here ({exc.name} missing)", []
        try:
            found = await scan(tuple(HEALTH_SERVICES), seconds, current_backend())
        except Exception as exc:
            return False, f"scan failed: {exc}", []
        configured = {
            d.ble.address.upper(): d.device_id for d in self.devices if d.ble and d.ble.address
        }
        data = []
        for advertiser in found:
            services = [u[4:8] for u in advertiser.service_uuids if u[4:8] in HEALTH_SERVICES]
            data.append(
                {
                    "address": advertiser.address,
                    "name": advertiser.name or "",
                    "services": [HEALTH_SERVICES[s] for s in services],
                    "profiles": sorted({p for s in services for p in profiles_for_service(s)}),
                    "rssi": advertiser.rssi,
                    "configured_as": configured.get(advertiser.address, ""),
                }
            )
        plural = "" if len(data) == 1 else "s"
        return True, f"{len(data)} health device{plural} found in {seconds:g} s", data
