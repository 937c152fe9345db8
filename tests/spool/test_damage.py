"""Damage to the spool files: every readable record salvaged, every lost one counted,
``seq`` still increasing.

Each test writes 3,000 records in a child process that is then killed with
SIGKILL (so the WAL holds what a crash leaves), damages the files as a disk or an
operator might, and opens the spool again.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from wardlink.spool import LossReason, Spool

TOTAL = 3000

_WRITER = """
import os, signal, sys
from datetime import UTC, datetime
from tests.spool.test_sqlite_spool import _telemetry
from wardlink.model import RecordKind
from wardlink.spool import Spool
spool = Spool(sys.argv[1])
for _ in range(30):
    spool.append_sealed(_telemetry(100), RecordKind.TELEMETRY)
if sys.argv[2] == "close":
    spool.close()
    sys.exit(0)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _write(path: Path, how: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path), how],
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == (0 if how == "close" else -9)


def _drain(spool: Spool) -> list[int]:
    """Deliver everything, as the Uplink would: read, check each body, ack."""
    seen: list[int] = []
    while batch := spool.read(max_items=500):
        for record in batch:
            json.loads(record.body)  # a salvaged record is whole
        seen += [r.seq for r in batch]
        spool.ack([r.seq for r in batch])
    return seen


def _check(path: Path, *, expect_salvage: bool) -> None:
    spool = Spool(path)
    stats = spool.stats()
    lost = stats.dropped_by_reason.get(LossReason.DAMAGED.value, 0)
    delivered = _drain(spool)
    print(f"{path.name}: delivered {len(delivered)}, counted lost {lost}")
    assert len(set(delivered)) == len(delivered)
    assert set(delivered) <= set(range(1, TOTAL + 1))
    # nothing unaccounted for: every record was delivered or counted as lost (exactly,
    # since none had been delivered before the damage)
    assert len(delivered) + lost == TOTAL, (len(delivered), lost)
    if expect_salvage:
        assert delivered, "the readable records must be salvaged"
    assert lost > 0 or len(delivered) == TOTAL
    nxt = spool.append_sealed(_one(), _kind())
    assert nxt.first_seq is not None and nxt.first_seq > TOTAL
    spool.close()
    # the count survives a restart
    again = Spool(path)
    assert again.stats().dropped_by_reason.get(LossReason.DAMAGED.value, 0) == lost
    again.close()


def _one():  # type: ignore[no-untyped-def]
    from tests.spool.test_sqlite_spool import _telemetry

    return _telemetry(1)


def _kind():  # type: ignore[no-untyped-def]
    from wardlink.model import RecordKind

    return RecordKind.TELEMETRY


def _scribble(target: Path, seed: int) -> None:
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    rng = random.Random(seed)
    data[middle : middle + 512] = bytes(rng.randrange(256) for _ in range(512))
    target.write_bytes(bytes(data))


def test_cut_file(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    _write(path, "close")
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size * 6 // 10)
    _check(path, expect_salvage=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes_in_main_file(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "spool.sqlite3"
    _write(path, "close")
    _scribble(path, seed)
    _check(path, expect_salvage=True)


def test_random_bytes_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    _write(path, "kill")
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    _scribble(wal, 7)
    _check(path, expect_salvage=True)


def test_wal_deleted_after_kill(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    _write(path, "kill")
    Path(f"{path}-wal").unlink()
    Path(f"{path}-shm").unlink(missing_ok=True)
    _check(path, expect_salvage=True)


def test_emptied_file(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    _write(path, "close")
    path.write_bytes(b"")
    _check(path, expect_salvage=False)
    spool = Spool(path)
    assert spool.stats().dropped_by_reason[LossReason.DAMAGED.value] == TOTAL
    spool.close()


def test_main_file_and_wal_deleted(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    _write(path, "kill")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _check(path, expect_salvage=False)


def test_everything_lost_waits_for_the_cloud_then_numbers_above_it(tmp_path: Path) -> None:
    """Database, WAL and high-water mark all gone: only the cloud knows how far ``seq`` got.

    The spool says it is unanchored, keeps taking records, and once told the cloud's
    last acknowledged ``seq`` renumbers them above it (the Uplink publishes nothing
    before; tests/cloudapi/test_gateway_sequence.py asks the real API)."""
    path = tmp_path / "spool.sqlite3"
    _write(path, "kill")
    for suffix in ("", "-wal", "-shm", ".hwm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    spool = Spool(path)
    assert not spool.sequence_anchored
    assert spool.append_sealed(_one(), _kind()).first_seq == 1
    assert spool.anchor_sequence(TOTAL) == TOTAL + 1
    assert [r.seq for r in spool.read(max_items=10)] == [TOTAL + 1]
    assert spool.append_sealed(_one(), _kind()).first_seq == TOTAL + 2
    assert spool.anchor_sequence(TOTAL) == TOTAL + 2  # a second answer changes nothing
    spool.close()
    again = Spool(path)
    assert again.sequence_anchored
    assert again.append_sealed(_one(), _kind()).first_seq == TOTAL + 3
    again.close()


def test_a_spool_with_any_history_is_anchored_by_it(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    _write(path, "kill")
    for suffix in ("", "-wal", "-shm"):  # the high-water mark survives
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    spool = Spool(path)
    assert spool.sequence_anchored
    assert spool.append_sealed(_one(), _kind()).first_seq == TOTAL + 1
    spool.close()


def test_hwm_kept_on_disk_is_never_above_the_file(tmp_path: Path) -> None:
    """No false loss: a clean stop and start counts nothing."""
    path = tmp_path / "spool.sqlite3"
    _write(path, "kill")
    spool = Spool(path)
    assert spool.stats().dropped_total == 0
    assert len(_drain(spool)) == TOTAL
    spool.close()
    assert os.path.exists(f"{path}.hwm")
