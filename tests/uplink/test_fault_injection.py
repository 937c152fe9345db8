"""Fault tests: every acquired observation arrives at least once, proven by seq.

Each test runs the real Uplink component as a process (``wardlink run uplink``)
against a real Mosquitto with mutual TLS, while a load generator process acquires
observations into the shared spool, then breaks something.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from tests.support.tcp_proxy import CuttableProxy
from tests.support.uplink_process import UplinkProcess, run_loadgen, wait_until_drained
from wardlink.devtools.mqtt_observer import MqttObserver

pytestmark = pytest.mark.integration

MAX_DUPLICATES = 20 * 1000  # in-flight window x items per message: the documented bound


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    mosquitto = Mosquitto(tmp_path / "broker", tls=True, persistent=True)
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def observer(broker: Mosquitto):  # type: ignore[no-untyped-def]
    watcher = MqttObserver(
        "127.0.0.1",
        broker.port,
        broker.pki,
        topic_filter="wardlink/#",
        client_id="fault-observer",
        persistent_session=True,
    )
    watcher.start()
    yield watcher
    watcher.stop()


def _finish(
    uplink: UplinkProcess, observer: MqttObserver, timeout: float = 30
) -> tuple[set[int], int, int]:
    seen, dups, last = wait_until_drained(uplink.spool_path, observer, timeout)
    missing = set(range(1, last + 1)) - seen
    assert not missing, (
        f"{len(missing)} seqs never arrived, e.g. {sorted(missing)[:10]}\n{uplink.logs()[-3000:]}"
    )
    assert dups <= MAX_DUPLICATES
    return seen, dups, last


def test_broker_stopped_for_30_seconds_and_restarted(
    broker: Mosquitto, observer: MqttObserver, tmp_path: Path
) -> None:
    assert broker.pki is not None
    uplink = UplinkProcess(tmp_path / "gw", broker.port, broker.pki)
    load = run_loadgen(uplink.spool_path, rate=200, seconds=40, report=tmp_path / "load.json")
    uplink.start()
    time.sleep(3)
    broker.stop()
    time.sleep(30)
    broker.start()
    load.wait(60)
    _, _dups, last = _finish(uplink, observer, timeout=60)
    assert uplink.stop() == 0
    report = json.loads((tmp_path / "load.json").read_text())
    assert report["spooled"] == report["produced"] and report["dropped"] == 0
    assert last >= report["last_seq"]
    assert "uplink disconnected" in uplink.logs()


def test_connection_cut_and_restored(
    broker: Mosquitto, observer: MqttObserver, tmp_path: Path
) -> None:
    assert broker.pki is not None
    proxy = CuttableProxy(broker.port)
    proxy.start()
    uplink = UplinkProcess(tmp_path / "gw", proxy.port, broker.pki)
    load = run_loadgen(uplink.spool_path, rate=300, seconds=12, report=tmp_path / "load.json")
    uplink.start()
    for _ in range(3):
        time.sleep(2.5)
        proxy.cut(refuse=True)
        time.sleep(1.5)
        proxy.restore()
    load.wait(30)
    _finish(uplink, observer)
    uplink.stop()
    proxy.stop()


def test_uplink_killed_mid_batch_and_restarted(
    broker: Mosquitto, observer: MqttObserver, tmp_path: Path
) -> None:
    assert broker.pki is not None
    uplink = UplinkProcess(tmp_path / "gw", broker.port, broker.pki)
    # A backlog first, so the kill lands while large batches are in flight.
    prefill = run_loadgen(
        uplink.spool_path, rate=50_000, seconds=0.6, report=tmp_path / "prefill.json", batch=500
    )
    prefill.wait(30)
    load = run_loadgen(uplink.spool_path, rate=500, seconds=8, report=tmp_path / "load.json")
    uplink.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(observer.snapshot()) < 5:
        time.sleep(0.02)
    uplink.kill9()
    time.sleep(1)
    uplink.start()
    load.wait(30)
    _finish(uplink, observer)
    uplink.stop()


def test_disk_full_evicts_telemetry_and_never_blocks_acquisition(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=False
    )
    if mounted.returncode != 0:
        pytest.fail("tmpfs mount failed: the fault tests need root (CI runs as root)")
    try:
        report = tmp_path / "load.json"
        started = time.monotonic()
        # Spool bound far above the 1 MiB disk: the disk fills first.
        load = run_loadgen(
            mount / "spool.sqlite3",
            rate=20_000,
            seconds=4,
            report=report,
            batch=200,
            max_bytes=64 * 1024 * 1024,
        )
        assert load.wait(60) == 0
        elapsed = time.monotonic() - started
        result = json.loads(report.read_text())
        assert result["produced"] > 0
        # never blocked: acquisition ran at its pace, the disk-full overflow was evicted or counted
        assert elapsed < 30
        assert result["evicted_total"] + result["dropped_total"] > 0
        # exact: the loss reported is the true loss, though the disk had no room to count it
        assert result["dropped_total"] == result["dropped"]
        assert result["produced"] == (
            result["depth"] + result["evicted_total"] + result["dropped_total"]
        )
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_corrupt_spool_is_quarantined_reported_and_seq_continues(
    broker: Mosquitto, observer: MqttObserver, tmp_path: Path
) -> None:
    assert broker.pki is not None
    uplink = UplinkProcess(tmp_path / "gw", broker.port, broker.pki)
    first = run_loadgen(uplink.spool_path, rate=1000, seconds=1, report=tmp_path / "a.json")
    first.wait(30)
    before = json.loads((tmp_path / "a.json").read_text())["last_seq"]
    for suffix in ("-wal", "-shm"):
        Path(str(uplink.spool_path) + suffix).unlink(missing_ok=True)
    uplink.spool_path.write_bytes(b"\x00garbage" * 4096)
    uplink.start()
    quarantine = uplink.spool_path.parent / "quarantine"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not quarantine.exists():
        time.sleep(0.05)
    second = run_loadgen(uplink.spool_path, rate=1000, seconds=1, report=tmp_path / "b.json")
    second.wait(30)
    after = json.loads((tmp_path / "b.json").read_text())
    assert after["first_seq"] > before
    deadline = time.monotonic() + 20
    health = []
    while time.monotonic() < deadline and not health:
        health = [
            item
            for m in observer.snapshot()
            if m.topic.endswith("/health")
            for item in json.loads(m.payload)["items"]
            if item["quarantined_total"] >= 1
        ]
        time.sleep(0.2)
    uplink.stop()
    assert health, "the quarantine must be reported in the gateway health"
    assert list((uplink.spool_path.parent / "quarantine").iterdir())
    assert "quarantine" in uplink.logs()
