"""One device that cannot run never takes the DeviceProxy, or the devices next to it, down.

The proxy runs through ``run_component`` under the nucleus emulator, exactly as
Greengrass runs it: configuration over IPC (and updated at run time), the device
summary on the local bus ``wardlink/local/devices`` - heard here by the Uplink's
own IPC client - and the component state the nucleus sees. The good device is
the Nonin simulator on a real pty; the bad ones are what a site gets wrong: a BLE
device on a gateway whose ``bleak`` cannot be imported, a serial port that is not
there, a profile and a codec that do not exist.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.greengrass.support import TIMEOUT, RunningEmulator, start_emulator
from tests.support.waiting import eventually
from wardlink.bus.greengrass_ipc import GreengrassIpcBus
from wardlink.bus.port import LocalMessage
from wardlink.gateway.proxy import LOCAL_DEVICES_TOPIC, DeviceProxy
from wardlink.model import RecordKind
from wardlink.runtime.runner import run_component
from wardlink.sim.nonin import NoninSimulator
from wardlink.sim.registry import SimOptions
from wardlink.spool import Spool
from wardlink.transports import Backoff

pytestmark = pytest.mark.integration

COMPONENT = "com.wardlink.DeviceProxy"
FAST_RETRY = Backoff(initial=0.05, maximum=0.2)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``run_component`` installs the component's JSON logging on the root logger."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _now(offset_s: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset_s)


@dataclass
class Gateway:
    """A DeviceProxy under the emulator, and the Uplink's ear on the local bus."""

    running: RunningEmulator
    proxy: DeviceProxy
    task: asyncio.Task[int]
    stop: asyncio.Event
    listener: GreengrassIpcBus
    spool_path: Path
    summaries: list[list[dict[str, Any]]] = field(default_factory=list)
    updates: int = 1

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last device summary heard, by device id."""
        return {d["device_id"]: d for d in self.summaries[-1]} if self.summaries else {}

    def state(self) -> str:
        return self.running.emulator.states.get(COMPONENT, {}).get("state", "")

    async def configure(self, devices: list[dict[str, Any]]) -> None:
        """Push new devices the way a deployment does (UpdateConfiguration)."""
        self.updates += 1
        admin = self.running.client(COMPONENT)
        stamp = _now(self.updates)
        await asyncio.to_thread(
            lambda: admin.update_configuration_async(
                key_path=[], value_to_merge={"devices": devices}, timestamp=stamp
            ).result(TIMEOUT)
        )

    async def close(self) -> int:
        self.stop.set()
        code = await asyncio.wait_for(self.task, timeout=20)
        await self.listener.close()
        return code


async def start_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, devices: list[dict[str, Any]]
) -> Gateway:
    spool_path = tmp_path / "spool" / "wardlink.sqlite3"
    running = start_emulator(tmp_path)
    admin = running.client(COMPONENT)
    admin.update_configuration_async(
        key_path=[],
        value_to_merge={"spool": {"path": str(spool_path)}, "devices": devices},
        timestamp=_now(0),
    ).result(TIMEOUT)
    monkeypatch.setenv(
        "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", str(running.socket_path)
    )
    monkeypatch.setenv("SVCUID", running.emulator.tokens[COMPONENT])
    monkeypatch.setenv("AWS_IOT_THING_NAME", "wardlink-dev-gateway")

    listener = GreengrassIpcBus(running.client("com.wardlink.Uplink"))
    await listener.start()
    proxy = DeviceProxy(restart_backoff=FAST_RETRY)
    stop = asyncio.Event()
    gateway = Gateway(
        running,
        proxy,
        asyncio.create_task(run_component(proxy, stop=stop)),
        stop,
        listener,
        spool_path,
    )

    async def heard(message: LocalMessage) -> None:
        gateway.summaries.append(json.loads(message.payload))

    await listener.subscribe_local(LOCAL_DEVICES_TOPIC, heard)
    return gateway


@pytest.fixture
async def oximeter(tmp_path: Path) -> Any:
    """A Nonin OEM III (format #2) on a pty, streaming fast."""
    sim = NoninSimulator(SimOptions(pty_link=tmp_path / "ttyOXIMETER", rate_hz=20, seed=3))
    await sim.start()
    stop = asyncio.Event()
    task = asyncio.create_task(sim.run(stop))
    yield sim
    stop.set()
    await task
    await sim.close()


def _without_bleak(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bleak`` is not installed: importing it raises ModuleNotFoundError, as on a
    gateway built without it; the BLE modules are imported afresh and fail on it."""
    monkeypatch.setitem(sys.modules, "bleak", None)
    for module in ("wardlink.transports.ble", "wardlink.gateway.ble_link"):
        monkeypatch.delitem(sys.modules, module, raising=False)


def _fault_lines(stderr: str) -> dict[str, list[dict[str, Any]]]:
    lines: dict[str, list[dict[str, Any]]] = {}
    for raw in stderr.splitlines():
        if not raw.startswith("{"):
            continue
        record = json.loads(raw)
        if record.get("logger") == "wardlink.gateway.proxy" and "faulted" in record["message"]:
            lines.setdefault(record["device_id"], []).append(record)
    return lines


def _alerts(spool_path: Path) -> list[dict[str, Any]]:
    spool = Spool(spool_path)
    try:
        rows = spool.read(after_seq={}, max_items=100_000, max_bytes=10**9)
        return [json.loads(r.body) for r in rows if r.kind is RecordKind.ALERT]
    finally:
        spool.close()


def _nonin(device_id: str, port: Path) -> dict[str, Any]:
    return {"deviceId": device_id, "profile": "nonin-oem3-format2", "serial": {"path": str(port)}}


def _codes(entry: dict[str, Any]) -> set[str]:
    return set(entry.get("fault", {}).get("error_codes", ()))


async def test_bad_devices_are_faulted_and_the_good_one_keeps_delivering(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    oximeter: NoninSimulator,
) -> None:
    _without_bleak(monkeypatch)
    devices = [
        _nonin("bed-1-spo2", tmp_path / "ttyOXIMETER"),
        {
            "deviceId": "bed-2-cuff",
            "profile": "ble-sig-blood-pressure-monitor",
            "ble": {"address": "C0:DE:00:00:00:01"},
        },
        _nonin("bed-3-spo2", tmp_path / "ttyUSB-not-plugged-in"),
        {"deviceId": "bed-4-monitor", "profile": "no-such-monitor"},
        {
            "deviceId": "bed-5-meter",
            "profile": "astm-glucose-meter",
            "codec": "serial:no-such-codec",
            "serial": {"path": str(tmp_path / "ttyMETER")},
        },
    ]
    gateway = await start_gateway(tmp_path, monkeypatch, devices)
    proxy = gateway.proxy
    try:
        await eventually(lambda: len(proxy.faults) == 4 and len(gateway.latest()) == 5)
        await eventually(lambda: sum(w.counters.acquired for w in proxy.workers) >= 20)
        await asyncio.sleep(1.0)  # the missing port is retried several times meanwhile

        assert gateway.state() == "RUNNING" and not gateway.task.done()
        assert [w.identity.device_id for w in proxy.workers if w.counters.acquired] == [
            "bed-1-spo2"
        ]
        expected = {
            "bed-2-cuff": ("library-missing", False),
            "bed-3-spo2": ("transport-unavailable", True),
            "bed-4-monitor": ("profile-error", False),
            "bed-5-meter": ("codec-unknown", False),
        }
        assert {d: (f.cause.value, f.retry) for d, f in proxy.faults.items()} == expected

        summary = gateway.latest()
        assert summary["bed-1-spo2"]["connectivity"] == "connected"
        assert "fault" not in summary["bed-1-spo2"]
        for device_id, (cause, retrying) in expected.items():
            entry = summary[device_id]
            assert entry["connectivity"] == "disconnected"
            assert entry["retrying"] is retrying
            assert entry["fault"]["connectivity"] == "disconnected"
            assert _codes(entry) == {"device-fault", f"device-fault:{cause}"}
        assert summary["bed-2-cuff"]["model"] == "Bluetooth SIG Blood Pressure Service monitor"
        assert "bleak" in summary["bed-2-cuff"]["fault"]["detail"]
        assert "no-such-monitor" in summary["bed-4-monitor"]["fault"]["detail"]
    finally:
        assert await gateway.close() == 0
        gateway.running.stop()

    lines = _fault_lines(capsys.readouterr().err)
    assert set(lines) == set(expected)
    for device_id, (cause, retrying) in expected.items():
        (line,) = lines[device_id]  # one line per fault, however often it was retried
        assert line["level"] == "ERROR"
        assert line["fault"] == f"device-fault:{cause}" and line["retry"] is retrying
        assert device_id in line["message"] and line["profile"] in line["message"]
    assert "bleak" in lines["bed-2-cuff"][0]["message"]
    assert lines["bed-2-cuff"][0]["codec"] == "ble:blood-pressure-measurement"
    assert "ttyUSB-not-plugged-in" in lines["bed-3-spo2"][0]["message"]
    assert "unknown profile 'no-such-monitor'" in lines["bed-4-monitor"][0]["message"]
    assert lines["bed-5-meter"][0]["codec"] == "serial:no-such-codec"

    alerts = _alerts(gateway.spool_path)
    faulted = {a["device_id"] for a in alerts if "device-fault" in a.get("error_codes", ())}
    assert faulted == set(expected)
    assert len(alerts) == len(expected)  # retries failing the same way add nothing


async def test_a_port_that_appears_later_is_picked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "ttyLATE"
    gateway = await start_gateway(tmp_path, monkeypatch, [_nonin("bed-6-spo2", link)])
    proxy = gateway.proxy
    sim = NoninSimulator(SimOptions(pty_link=link, rate_hz=20, seed=4))
    sim_stop = asyncio.Event()
    try:
        await eventually(lambda: "bed-6-spo2" in proxy.faults)
        await eventually(lambda: "fault" in gateway.latest().get("bed-6-spo2", {}))
        await sim.start()  # the adapter is plugged in
        simulating = asyncio.create_task(sim.run(sim_stop))
        await eventually(lambda: not proxy.faults and proxy.workers != [])
        await eventually(lambda: proxy.workers[0].counters.acquired >= 10)
        await eventually(lambda: gateway.latest()["bed-6-spo2"]["connectivity"] == "connected")
        assert "fault" not in gateway.latest()["bed-6-spo2"]
        assert gateway.state() == "RUNNING"
        sim_stop.set()
        await simulating
    finally:
        assert await gateway.close() == 0
        gateway.running.stop()
        await sim.close()
    stderr = capsys.readouterr().err
    assert len(_fault_lines(stderr)["bed-6-spo2"]) == 1
    assert '"message": "device recovered"' in stderr


async def test_a_bad_configuration_stays_faulted_until_it_is_changed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    oximeter: NoninSimulator,
) -> None:
    gateway = await start_gateway(
        tmp_path, monkeypatch, [{"deviceId": "bed-7-spo2", "profile": "nonin-oem3-formt2"}]
    )
    proxy = gateway.proxy
    try:
        await eventually(lambda: "bed-7-spo2" in proxy.faults)
        await asyncio.sleep(0.5)  # time for several retries, if there were any
        assert proxy.workers == []
        assert proxy.faults["bed-7-spo2"].retry is False
        await eventually(lambda: gateway.latest().get("bed-7-spo2", {}).get("retrying") is False)

        await gateway.configure([_nonin("bed-7-spo2", tmp_path / "ttyOXIMETER")])  # fixed
        await eventually(lambda: not proxy.faults and proxy.workers != [])
        await eventually(lambda: proxy.workers[0].counters.acquired >= 10)
        await eventually(lambda: "fault" not in gateway.latest()["bed-7-spo2"])
        assert gateway.state() == "RUNNING"
    finally:
        assert await gateway.close() == 0
        gateway.running.stop()
    (line,) = _fault_lines(capsys.readouterr().err)["bed-7-spo2"]
    assert line["fault"] == "device-fault:profile-error" and line["retry"] is False


async def test_a_gateway_without_a_bluetooth_stack_faults_only_its_ble_devices(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    oximeter: NoninSimulator,
) -> None:
    # bleak is installed, but BlueZ cannot be reached (no bluetoothd, no D-Bus system bus),
    # as on a gateway with no Bluetooth: scanning fails before any device is seen.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-system-bus'}")
    devices = [
        _nonin("bed-1-spo2", tmp_path / "ttyOXIMETER"),
        {
            "deviceId": "bed-8-hr",
            "profile": "ble-sig-heart-rate-sensor",
            "ble": {"address": "C0:DE:00:00:00:08"},
        },
    ]
    gateway = await start_gateway(tmp_path, monkeypatch, devices)
    proxy = gateway.proxy
    try:
        await eventually(lambda: "bed-8-hr" in proxy.faults)
        await eventually(lambda: sum(w.counters.acquired for w in proxy.workers) >= 20)
        fault = proxy.faults["bed-8-hr"]
        assert (fault.cause.value, fault.retry) == ("transport-unavailable", True)
        assert fault.reason.startswith("Bluetooth unavailable")
        await eventually(lambda: "fault" in gateway.latest().get("bed-8-hr", {}))
        assert gateway.latest()["bed-8-hr"]["retrying"] is True
        assert gateway.state() == "RUNNING"
    finally:
        assert await gateway.close() == 0
        gateway.running.stop()
    (line,) = _fault_lines(capsys.readouterr().err)["bed-8-hr"]
    assert "Bluetooth unavailable" in line["message"]
