"""The spool: ordering, priorities, bounds, TTL, quarantine and seq continuity."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wardlink.model import (
    Connectivity,
    DeviceIdentity,
    DeviceStatus,
    GatewayHealth,
    Observation,
    RecordKind,
)
from wardlink.model import nomenclature as mdc
from wardlink.phi.policy import RedactionPolicy
from wardlink.spool import Spool

DEVICE = DeviceIdentity(device_id="bed-1", model="Sim")
POLICY = RedactionPolicy()


def _telemetry(n: int) -> list:  # type: ignore[type-arg]
    now = datetime.now(UTC)
    observations = [
        Observation(
            device_id="bed-1", metric=mdc.SPO2, value=90 + i % 10, unit="%", measured_at=now
        )
        for i in range(n)
    ]
    return POLICY.redact_observations(observations, DEVICE)


def _status(error: str | None = None):  # type: ignore[no-untyped-def]
    status = DeviceStatus(
        device_id="bed-1",
        at=datetime.now(UTC),
        connectivity=Connectivity.CONNECTED,
        error_codes=(error,) if error else (),
    )
    return POLICY.redact_status(status, DEVICE)


def test_seq_is_strictly_increasing_and_ack_deletes(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    first = spool.append_sealed(_telemetry(3), RecordKind.TELEMETRY)
    second = spool.append_sealed(_telemetry(2), RecordKind.TELEMETRY)
    assert (first.first_seq, first.last_seq, second.first_seq, second.last_seq) == (1, 3, 4, 5)
    records = spool.read()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert json.loads(records[0].body)["mdc_name"] == "MDC_PULS_OXIM_SAT_O2"
    assert spool.ack([1, 2]) == 2
    assert [r.seq for r in spool.read()] == [3, 4, 5]
    spool.ack([3, 4, 5])
    assert spool.append_sealed(_telemetry(1), RecordKind.TELEMETRY).first_seq == 6  # never reused


def test_alerts_and_status_come_before_telemetry(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    spool.append_sealed(_telemetry(5), RecordKind.TELEMETRY)
    spool.append_sealed([_status()], RecordKind.STATUS)
    spool.append_sealed([_status("E42")], RecordKind.ALERT)
    assert [r.kind for r in spool.read()] == [RecordKind.ALERT]
    assert [r.kind for r in spool.read(after_seq={0: 7})] == [RecordKind.STATUS]


def test_full_spool_evicts_oldest_telemetry_first_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", max_bytes=64 * 1024)
    spool.append_sealed([_status("E1")], RecordKind.ALERT)
    for _ in range(60):
        spool.append_sealed(_telemetry(50), RecordKind.TELEMETRY)
    stats = spool.stats()
    assert stats.bytes <= 64 * 1024
    assert stats.evicted_total > 0
    assert stats.depth_by_kind["alert"] == 1  # alerts survive while telemetry can go
    remaining = [
        r.seq
        for r in spool.read(
            after_seq={0: 10**9, 1: 10**9, 2: 10**9}, max_items=100_000, max_bytes=10**9
        )
    ]
    assert remaining == sorted(remaining) and remaining[-1] == stats.last_seq  # newest kept


def test_ttl_expires_old_records(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", ttl_seconds=0.05)
    spool.append_sealed(_telemetry(3), RecordKind.TELEMETRY)
    time.sleep(0.1)
    assert spool.expire() == 3
    assert spool.stats().expired_total == 3


def test_corrupt_file_is_quarantined_and_seq_continues(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    spool.append_sealed(_telemetry(10), RecordKind.TELEMETRY)
    spool.close()
    path.write_bytes(b"this is not a database" * 100)
    reopened = Spool(path)
    stats = reopened.stats()
    assert stats.depth == 0 and len(stats.quarantined) == 1
    assert Path(stats.quarantined[0]).exists()
    assert reopened.append_sealed(_telemetry(1), RecordKind.TELEMETRY).first_seq == 11


def test_spool_refuses_unsealed_data(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    raw = Observation(
        device_id="bed-1", metric=mdc.SPO2, value=97, unit="%", measured_at=datetime.now(UTC)
    )
    with pytest.raises(TypeError):
        spool.append_sealed([raw], RecordKind.TELEMETRY)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        spool.append_health(b'{"name": "Jane Doe"}')  # type: ignore[arg-type]


def test_health_is_spooled(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    health = GatewayHealth(
        gateway_id="gw-1",
        at=datetime.now(UTC),
        uptime_s=1,
        spool_depth=0,
        spool_bytes=0,
        spool_oldest_age_s=0,
        delivered_total=0,
        delivered_per_s=0,
        evicted_total=0,
        expired_total=0,
        dropped_total=0,
        quarantined_total=0,
        connected_devices=2,
        uplink_connected=True,
        last_seq=0,
    )
    assert spool.append_health(health).first_seq == 1
    assert spool.read()[0].kind is RecordKind.HEALTH
