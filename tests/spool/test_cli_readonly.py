"""``wardlink spool stats|peek`` change nothing, even on a corrupt or live spool.

The finding: the commands, documented as read-only, opened the spool the way the
components do, so a corrupt live spool was quarantined and replaced by a fresh one
- by a technician who only wanted to look, destroying the evidence. They now open
it through SQLite's ``mode=ro``: a damaged spool is an error message and exit code
3, and every file is byte-identical afterwards with no file added (not even the
``-wal``/``-shm`` a read-only SQLite connection would otherwise leave behind). Each
check runs the real command in a subprocess, as a technician would.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wardlink.model import Observation, RecordKind
from wardlink.model import nomenclature as mdc
from wardlink.model.identity import DeviceIdentity
from wardlink.phi.policy import RedactionPolicy
from wardlink.spool import Spool

POLICY = RedactionPolicy()
DEVICE = DeviceIdentity(device_id="bed-1", model="Sim")
PAGE = 4096


def wardlink_spool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wardlink.cli.main", "spool", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every file and directory under ``directory`` with its bytes (None for directories)."""
    return {
        str(p.relative_to(directory)): None if p.is_dir() else p.read_bytes()
        for p in sorted(directory.rglob("*"))
    }


def filled_spool(path: Path, records: int = 300) -> Spool:
    now = datetime.now(UTC)
    spool = Spool(path)
    for start in range(0, records, 50):
        observations = [
            Observation(device_id="bed-1", metric=mdc.SPO2, value=90 + i % 10, unit="%",
                        measured_at=now)
            for i in range(start, min(records, start + 50))
        ]  # fmt: skip
        spool.append_sealed(POLICY.redact_observations(observations, DEVICE), RecordKind.TELEMETRY)
    return spool


@pytest.fixture
def closed_spool(tmp_path: Path) -> Path:
    path = tmp_path / "spool" / "wardlink.sqlite3"
    filled_spool(path).close()
    assert not Path(f"{path}-wal").exists()
    return path


def test_stats_and_peek_on_a_closed_spool_add_and_change_nothing(closed_spool: Path) -> None:
    before = snapshot(closed_spool.parent)
    stats = wardlink_spool("stats", "--path", str(closed_spool))
    peek = wardlink_spool("peek", "--path", str(closed_spool), "--limit", "3")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["depth"] == 300
    assert peek.returncode == 0, peek.stderr
    assert [json.loads(line)["seq"] for line in peek.stdout.splitlines()] == [1, 2, 3]
    assert snapshot(closed_spool.parent) == before


def test_stats_on_a_live_spool_reads_the_wal_and_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "wardlink.sqlite3"
    live = filled_spool(path, records=120)  # open, as in a running component
    try:
        names = {p.name for p in path.parent.iterdir()}
        assert f"{path.name}-wal" in names
        data = (path.read_bytes(), Path(f"{path}-wal").read_bytes())
        stats = wardlink_spool("stats", "--path", str(path))
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["depth"] == 120
        assert {p.name for p in path.parent.iterdir()} == names
        assert (path.read_bytes(), Path(f"{path}-wal").read_bytes()) == data
    finally:
        live.close()


def _garbage_header(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 100)


def _damaged_page(path: Path) -> None:
    """A real SQLite header, then a b-tree page of records overwritten."""
    with path.open("r+b") as handle:
        handle.seek(PAGE * 3)
        handle.write(b"\xa5" * PAGE)


@pytest.mark.parametrize("damage", [_garbage_header, _damaged_page], ids=["header", "page"])
@pytest.mark.parametrize("command", ["stats", "peek"])
def test_a_corrupt_spool_is_an_error_and_is_left_exactly_as_it_was(
    closed_spool: Path,
    damage,
    command: str,  # type: ignore[no-untyped-def]
) -> None:
    damage(closed_spool)
    before = snapshot(closed_spool.parent)
    result = wardlink_spool(command, "--path", str(closed_spool))
    assert result.returncode == 3
    assert "damaged" in result.stderr and "Nothing was changed" in result.stderr
    assert result.stdout == ""
    assert snapshot(closed_spool.parent) == before  # no quarantine/, no fresh spool


def test_a_database_that_is_not_a_spool_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    before = snapshot(tmp_path)
    result = wardlink_spool("stats", "--path", str(path))
    assert result.returncode == 3 and "not a Wardlink spool" in result.stderr
    assert snapshot(tmp_path) == before


def test_a_missing_spool_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "wardlink.sqlite3"
    for command in ("stats", "peek"):
        result = wardlink_spool(command, "--path", str(path))
        assert result.returncode == 2 and "no spool at" in result.stderr
    assert list(tmp_path.iterdir()) == []
