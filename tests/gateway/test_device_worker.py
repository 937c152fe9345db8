"""The DeviceWorker over a real pty: silence, unplug/replug, garbage on the line."""

from __future__ import annotations

import asyncio
import json
import os
import tty
from pathlib import Path

import pytest

from tests.support.waiting import eventually
from wardlink.codecs.nonin2 import encode_packet
from wardlink.gateway.proxy import build_worker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import RecordKind
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import DeviceConfig, SerialTransportConfig
from wardlink.spool import Spool

INTERVAL = 0.5


def _pty(link: Path) -> tuple[int, int]:
    master, slave = os.openpty()
    tty.setraw(slave)
    tmp = link.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.ttyname(slave))
    os.replace(tmp, link)
    return master, slave


def _records(spool: Spool, kind: RecordKind) -> list[dict[str, object]]:
    rows = spool.read(after_seq={0: 0}, max_items=10_000, max_bytes=10**9)
    out = []
    after: dict[int, int] = {}
    while rows:
        out += [json.loads(r.body) for r in rows if r.kind is kind]
        for record in rows:
            prio = {"alert": 0, "status": 1, "health": 2, "telemetry": 3}[record.kind.value]
            after[prio] = max(after.get(prio, 0), record.seq)
        rows = spool.read(after_seq=after, max_items=10_000, max_bytes=10**9)
    return out


@pytest.fixture
def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    spool = Spool(tmp_path / "spool.sqlite3")
    writer = SpoolWriter(spool, linger_s=0.01)
    link = tmp_path / "ttyOXIMETER"
    master, slave = _pty(link)
    device = DeviceConfig(
        device_id="bed-4-oximeter",
        profile="sim-nonin-oem3",
        serial=SerialTransportConfig(path=str(link)),
        expected_interval_s=INTERVAL,
    )
    worker = build_worker(device, RedactionPolicy(), writer)
    worker.transport.backoff = type(worker.transport.backoff)(initial=0.05, maximum=0.2)  # type: ignore[attr-defined]
    yield spool, writer, worker, link, [master, slave]
    spool.close()
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass  # the unplug test closed them already


async def _run(writer: SpoolWriter, worker, stop: asyncio.Event) -> list[asyncio.Task[None]]:  # type: ignore[no-untyped-def]
    return [asyncio.create_task(worker.run(stop)), asyncio.create_task(writer.run(stop))]


async def test_silent_device_is_reported_within_twice_its_interval(rig) -> None:  # type: ignore[no-untyped-def]
    spool, writer, worker, _link, fds = rig
    stop = asyncio.Event()
    tasks = await _run(writer, worker, stop)
    await eventually(lambda: worker.transport.connected)
    for _ in range(3):
        os.write(fds[0], encode_packet(72, 97))
        await asyncio.sleep(0.1)
    await eventually(lambda: worker.connectivity.value == "silent")
    stop.set()
    await asyncio.gather(*tasks)
    telemetry = _records(spool, RecordKind.TELEMETRY)
    statuses = _records(spool, RecordKind.STATUS)
    silent = [s for s in statuses if s["connectivity"] == "silent"]
    assert silent, statuses
    last_data = max(str(t["measured_at"]) for t in telemetry)
    from datetime import datetime

    gap = datetime.fromisoformat(str(silent[0]["at"])) - datetime.fromisoformat(last_data)
    assert gap.total_seconds() <= 2 * INTERVAL


async def test_unplugged_port_recovers_without_restart(rig) -> None:  # type: ignore[no-untyped-def]
    spool, writer, worker, link, fds = rig
    stop = asyncio.Event()
    tasks = await _run(writer, worker, stop)
    await eventually(lambda: worker.transport.connected)
    os.write(fds[0], encode_packet(70, 96))
    await eventually(lambda: worker.counters.acquired >= 2)
    for fd in fds:  # unplug: the pty goes away
        os.close(fd)
    await eventually(lambda: worker.connectivity.value == "disconnected")
    master, slave = _pty(link)  # plugged back in (a new tty behind the same name)
    await eventually(lambda: worker.transport.connected)
    os.write(master, encode_packet(71, 95))
    await eventually(lambda: worker.counters.acquired >= 4)
    stop.set()
    await asyncio.gather(*tasks)
    os.close(master)
    os.close(slave)
    states = [s["connectivity"] for s in _records(spool, RecordKind.STATUS)]
    assert states[:3] == ["connected", "disconnected", "connected"]


async def test_garbage_on_the_line_is_skipped_and_counted(rig) -> None:  # type: ignore[no-untyped-def]
    spool, writer, worker, _link, fds = rig
    stop = asyncio.Event()
    tasks = await _run(writer, worker, stop)
    await eventually(lambda: worker.transport.connected)
    os.write(fds[0], b"\x01\x81\xfe\xff" * 7 + encode_packet(300, 99)[:40] + bytes(range(256)))
    os.write(fds[0], encode_packet(66, 94))
    await eventually(lambda: worker.counters.acquired >= 2)
    stop.set()
    await asyncio.gather(*tasks)
    assert worker.counters.frame_errors >= 1
    values = {t["value"] for t in _records(spool, RecordKind.TELEMETRY)}
    assert {66.0, 94.0} <= values
