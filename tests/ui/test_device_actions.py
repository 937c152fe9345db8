"""The technician's device actions as the DeviceProxy handles them: signed, applied, audited.

``CommandService`` with ``SiteDevices`` over a recording ``apply`` (what the
DeviceProxy and the demo pass): adding from a built-in profile, removing, the
overlay surviving a restart, a deployment that conflicts with it winning, and
refusals (bad parameters, ids the deployment owns, unknown devices, forged MACs).
The BLE scan and the RACP sync run against Bumble peripherals in tests/ble.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from wardlink.gateway.commands import CommandService, SiteOverlay
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.site_devices import DeviceOverlay, SiteDevices, new_device
from wardlink.runtime.config import DeviceConfig, SerialTransportConfig
from wardlink.ui.signing import sign_command

KEY = b"0123456789abcdef0123456789abcdef"
OXIMETER = DeviceConfig(
    device_id="bed-1-oximeter",
    profile="nonin-oem3-format2",
    serial=SerialTransportConfig(path="/dev/ttyUSB0"),
)


class Host:
    """What runs the devices: records every set it is asked to run."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, ...]] = []
        self.last: tuple[DeviceConfig, ...] = ()

    async def apply(self, devices: tuple[DeviceConfig, ...]) -> None:
        self.last = devices
        self.applied.append(tuple(d.device_id for d in devices))

    def worker_of(self, device_id: str) -> DeviceWorker | None:
        return None


def _service(tmp_path: Path, host: Host) -> tuple[CommandService, SiteDevices]:
    devices = SiteDevices(DeviceOverlay(tmp_path / "site-devices.json"), host.apply, host.worker_of)
    service = CommandService(
        KEY,
        SiteOverlay(tmp_path / "overlay.json"),
        tmp_path / "audit.jsonl",
        known=devices.known,
        devices=devices,
    )
    return service, devices


async def _send(
    service: CommandService, action: str, device_id: str, args: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer = await service.handle(sign_command(KEY, "tech", action, device_id, args))
    return dict(json.loads(answer))


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]


async def test_add_and_remove_live_in_the_overlay_and_survive_a_restart(tmp_path: Path) -> None:
    host = Host()
    service, devices = _service(tmp_path, host)
    await devices.deploy((OXIMETER,))
    added = await _send(
        service,
        "add",
        "spare-oximeter",
        {"device_id": "spare-oximeter", "profile": "nonin-oem3-format2", "port": "/dev/ttyUSB1"},
    )
    assert added["ok"] is True, added
    assert host.applied[-1] == ("bed-1-oximeter", "spare-oximeter")
    cuff = await _send(
        service,
        "add",
        "cuff",
        {"device_id": "cuff", "profile": "ble-sig-blood-pressure-monitor", "address": "c0:57:0:0"},
    )
    assert cuff["ok"] is False and "address" in cuff["detail"]
    removed = await _send(service, "remove", "bed-1-oximeter")
    assert removed["ok"] is True and "deployment" in removed["detail"]
    assert host.applied[-1] == ("spare-oximeter",)

    # A restart: a new overlay read from the file, the same deployment.
    restarted = Host()
    _, again = _service(tmp_path, restarted)
    await again.deploy((OXIMETER,))
    assert restarted.applied[-1] == ("spare-oximeter",)
    assert restarted.last[0].serial is not None and restarted.last[0].serial.path == "/dev/ttyUSB1"
    assert again.conflicts == []
    audit = _audit(tmp_path)
    assert [(e["action"], e["ok"], e["user"]) for e in audit] == [
        ("add", True, "tech"),
        ("add", False, "tech"),
        ("remove", True, "tech"),
    ]
    assert (tmp_path / "site-devices.json").stat().st_mode & 0o777 == 0o600


async def test_a_conflicting_deployment_wins_and_the_conflict_is_reported(tmp_path: Path) -> None:
    host = Host()
    _, devices = _service(tmp_path, host)
    await devices.deploy((OXIMETER,))
    await devices.add({"device_id": "spare", "profile": "nonin-oem3-format2", "port": "/dev/ttyS4"})
    await devices.remove("bed-1-oximeter")
    assert host.applied[-1] == ("spare",)

    # The next deployment configures "spare" itself and changes the removed oximeter.
    theirs = DeviceConfig(
        device_id="spare", profile="nonin-oem3-format2", serial=SerialTransportConfig(path="/x")
    )
    changed = OXIMETER.model_copy(update={"serial_number": "NEW-1"})
    await devices.deploy((changed, theirs))
    assert host.last == (changed, theirs)
    state = json.loads(devices.state())
    assert {c["device_id"] for c in state["conflicts"]} == {"bed-1-oximeter", "spare"}
    assert all("deployment" in c["detail"] for c in state["conflicts"])
    assert state["added"] == ["spare"] and state["removed"] == ["bed-1-oximeter"]
    assert any(p["name"] == "ble-sig-glucose-meter" and p["records"] for p in state["profiles"])


async def test_refusals_are_answered_and_audited(tmp_path: Path) -> None:
    host = Host()
    service, devices = _service(tmp_path, host)
    await devices.deploy((OXIMETER,))
    taken = await _send(
        service,
        "add",
        "bed-1-oximeter",
        {"device_id": "bed-1-oximeter", "profile": "nonin-oem3-format2", "port": "/dev/ttyUSB3"},
    )
    assert taken["ok"] is False and "deployment" in taken["detail"]
    unknown_profile = await _send(
        service, "add", "x", {"device_id": "x", "profile": "../../etc/passwd", "port": "/dev/x"}
    )
    assert unknown_profile["ok"] is False and "no built-in profile" in unknown_profile["detail"]
    relative = await _send(
        service, "add", "x", {"device_id": "x", "profile": "nonin-oem3-format2", "port": "tty"}
    )
    assert relative["ok"] is False and "absolute path" in relative["detail"]
    missing = await _send(service, "remove", "no-such-device")
    assert missing["ok"] is False
    no_records = await _send(service, "sync", "bed-1-oximeter")
    assert no_records["ok"] is False and "RACP" in no_records["detail"]
    forged = sign_command(b"another key, long enough", "mallory", "add", "evil", {})
    assert json.loads(await service.handle(forged))["ok"] is False
    assert len(host.applied) == 1  # nothing changed what runs
    events = [e["event"] for e in _audit(tmp_path)]
    assert events == ["command"] * 5 + ["command-refused"]


def test_new_device_builds_each_transport() -> None:
    tcp = new_device({"device_id": "mon", "profile": "ihe-pcd01-monitor-mllp", "port": "2575"})
    assert tcp.tcp is not None and tcp.tcp.port == 2575
    ble = new_device(
        {"device_id": "g", "profile": "ble-sig-glucose-meter", "address": "c0:de:00:00:00:01"}
    )
    assert ble.ble is not None and ble.ble.address == "C0:DE:00:00:00:01"
    with pytest.raises(ValueError, match="device_id"):
        new_device({"device_id": "bad id!", "profile": "nonin-oem3-format2", "port": "/dev/x"})


async def test_commands_do_not_hold_up_the_bus(tmp_path: Path) -> None:
    """A slow action (a scan) runs as a task: the bus callback returns at once."""
    from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
    from wardlink.bus.port import LocalMessage
    from wardlink.ui.app import CommandClient
    from wardlink.ui.signing import COMMANDS_TOPIC, RESULTS_TOPIC

    release = asyncio.Event()

    class SlowDevices(SiteDevices):
        async def scan(self, seconds: float = 0) -> tuple[bool, str, list[dict[str, Any]]]:
            await release.wait()
            return True, "1 found", [{"address": "C0:DE:00:00:00:01"}]

    host = Host()
    devices = SlowDevices(DeviceOverlay(tmp_path / "d.json"), host.apply, host.worker_of)
    service = CommandService(
        KEY,
        SiteOverlay(tmp_path / "o.json"),
        tmp_path / "audit.jsonl",
        devices.known,
        None,
        devices,
    )
    bus = DirectMqttBus(MqttEndpoint("mqtt://127.0.0.1:1", "test-ui"))
    await service.attach(bus)
    client = CommandClient(KEY, bus.publish_local, COMMANDS_TOPIC, timeout_s=5)

    async def on_result(message: LocalMessage) -> None:
        client.on_result(message.payload)

    await bus.subscribe_local(RESULTS_TOPIC, on_result)
    scanning = asyncio.create_task(client.ask("tech", "scan", "-", {}))
    await asyncio.sleep(0.05)
    assert not scanning.done()
    release.set()
    ok, detail, data = await asyncio.wait_for(scanning, 5)
    assert ok and detail == "1 found" and data == [{"address": "C0:DE:00:00:00:01"}]


def test_the_devices_page_shows_site_changes_and_conflicts() -> None:
    """What the DeviceProxy publishes on wardlink/local/site-devices, as the page shows it."""
    from jinja2 import Environment, FileSystemLoader

    from wardlink.ui.accounts import Role
    from wardlink.ui.app import HERE, Session

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True)
    env.globals["age_text"] = str
    changes = {
        "added": ["spare"],
        "removed": ["bed-1"],
        "conflicts": [{"device_id": "spare", "detail": "the deployment's configuration wins"}],
        "profiles": [{"name": "nonin-oem3-format2", "model": "m", "needs": "port", "records": ""}],
    }
    common = {"rows": [], "changes": changes, "profiles": changes["profiles"], "gateway_id": "gw"}
    tech = Session("t", "tech", Role.TECHNICIAN, False)
    page = env.get_template("devices.html").render(
        session=tech, nav="/devices", may_act=True, **common
    )
    assert 'data-conflict="spare"' in page and "the deployment&#39;s configuration wins" in page
    assert "added on site: spare" in page and "removed on site: bed-1" in page
    assert 'value="nonin-oem3-format2"' in page and "Add device" in page
    viewer = Session("v", "viewer", Role.VIEWER, False)
    seen = env.get_template("devices.html").render(
        session=viewer, nav="/devices", may_act=False, **common
    )
    assert 'data-conflict="spare"' in seen and "Add device" not in seen
