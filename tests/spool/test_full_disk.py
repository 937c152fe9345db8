"""A full disk: every loss counted exactly, no alert lost while telemetry remains,
acks keep working, and the spool leaves ``disk_full`` by itself.

The disk is a real 1 MiB tmpfs mounted by the test, so it needs root; CI runs as
root, and a failed mount fails the test rather than skipping it.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.spool.test_sqlite_spool import _telemetry
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import GatewayHealth, RecordKind
from wardlink.spool import LossReason, Spool


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=False
    )
    if mounted.returncode != 0:
        pytest.fail("tmpfs mount failed: the full-disk tests need root (CI runs as root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(spool: Spool, batches: int) -> tuple[int, int, int]:
    """Telemetry batches with an alert after every fifth; (telemetry, alerts, refused)."""
    telemetry = alerts = refused = 0
    for i in range(batches):
        result = spool.append_sealed(_telemetry(50), RecordKind.TELEMETRY)
        telemetry += 50
        refused += result.dropped
        if i % 5 == 4:
            alert = spool.append_sealed(_telemetry(1), RecordKind.ALERT)
            alerts += 1
            refused += alert.dropped
    return telemetry, alerts, refused


def test_full_disk_counts_every_loss_keeps_every_alert_and_recovers(tiny_disk: Path) -> None:
    path = tiny_disk / "spool.sqlite3"
    spool = Spool(path, max_bytes=64 * 1024 * 1024)  # the disk fills long before the bound
    telemetry, alerts, refused = _fill(spool, 400)
    stats = spool.stats()

    assert spool.disk_full and stats.disk_full
    # exact: everything acquired is either still spooled or counted as lost
    assert telemetry + alerts == stats.depth + stats.evicted_total + stats.dropped_total
    assert stats.dropped_by_reason[LossReason.DISK_FULL.value] == refused > 0
    # every alert kept, while telemetry is still there to be evicted first
    assert stats.depth_by_kind[RecordKind.ALERT.value] == alerts
    assert stats.depth_by_kind[RecordKind.TELEMETRY.value] > 0

    health = GatewayHealth(
        gateway_id="gw-1", at=datetime.now(UTC), uptime_s=1, spool_depth=stats.depth,
        spool_bytes=stats.bytes, spool_oldest_age_s=0, delivered_total=0, delivered_per_s=0,
        evicted_total=stats.evicted_total, expired_total=stats.expired_total,
        dropped_total=stats.dropped_total, quarantined_total=0, connected_devices=0,
        uplink_connected=False, last_seq=stats.last_seq,
        dropped_by_reason=stats.dropped_by_reason, spool_disk_full=stats.disk_full,
    )  # fmt: skip
    assert GatewayHealth.model_validate_json(health.to_json_bytes()) == health

    # acks work on the full disk, and delivering the backlog brings the spool back
    while batch := spool.read(max_items=500):
        assert spool.ack([r.seq for r in batch]) == len(batch)
    assert not spool.disk_full
    after = spool.append_sealed(_telemetry(50), RecordKind.TELEMETRY)
    assert after.last_seq is not None and after.first_seq is not None
    assert after.first_seq > stats.last_seq
    counted = spool.stats()
    assert counted.dropped_total == stats.dropped_total
    spool.close()

    # the count was written to the file, not only held in memory
    reopened = Spool(path, max_bytes=64 * 1024 * 1024)
    assert reopened.stats().dropped_total == stats.dropped_total
    assert reopened.stats().evicted_total == stats.evicted_total
    reopened.close()


def test_loss_is_counted_while_nothing_can_be_written(tiny_disk: Path) -> None:
    spool = Spool(tiny_disk / "spool.sqlite3", max_bytes=64 * 1024 * 1024)
    _fill(spool, 400)
    assert spool.disk_full
    before = spool.stats().dropped_total
    # fill what is left of the disk with a file the spool knows nothing about
    ballast = tiny_disk / "other"
    try:
        with ballast.open("wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError:
        pass  # the disk has not one byte left (perhaps not even for the file's name)
    refused = sum(
        spool.append_sealed(_telemetry(10), RecordKind.TELEMETRY).dropped for _ in range(5)
    )
    assert refused == 50
    assert spool.stats().dropped_total == before + 50
    ballast.unlink(missing_ok=True)
    spool.close()


def test_writer_queue_keeps_alerts_when_telemetry_overflows(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    writer = SpoolWriter(spool, max_batch=1000, max_queue=10, urgent_reserve=10)
    writer.put(RecordKind.TELEMETRY, _telemetry(20))
    writer.put(RecordKind.ALERT, _telemetry(5))
    writer.put(RecordKind.TELEMETRY, _telemetry(20))
    assert writer.counters.overflow_dropped == 30
    assert spool.stats().dropped_by_reason == {LossReason.QUEUE_OVERFLOW.value: 30}
    asyncio.run(writer.flush())
    stats = spool.stats()
    assert stats.depth_by_kind == {"alert": 5, "telemetry": 10}
    assert stats.depth + stats.dropped_total == 45
    first = spool.read()
    assert first[0].kind is RecordKind.ALERT and first[0].seq == 1  # appended first
