"""A bounded, prioritised, crash-safe spool on SQLite in WAL mode.

Why SQLite/WAL: it is in the Python standard library, survives ``kill -9`` by
construction (a committed transaction is in the WAL before ``commit`` returns),
lets the device-proxy process append while the uplink process reads and deletes,
and gives us transactions for "delete only after PUBACK" for free. A hand-written
append-only log would be faster but would have to re-invent all of that.

Durability (the fsync policy, see docs/uplink.md):

* ``FULL`` (default): ``synchronous=FULL`` - every commit fsyncs the WAL, so an
  acquired batch survives power loss once ``append`` returns. Appends are batched
  by the caller, so this costs one fsync per batch, not per observation.
* ``NORMAL``: ``synchronous=NORMAL`` - survives process crashes; on power loss the
  last few batches since the WAL was last synced may be lost. For SD-card gateways
  where fsync latency is extreme.

Bounds: the total bytes of stored bodies is kept in a one-row table, updated in
the same transaction as every insert and delete, so both processes see the same
number. When an append would go over ``max_bytes``,
the oldest *routine telemetry* is evicted first and counted; alerts and status are
evicted only if nothing else is left. Records older than ``ttl_seconds`` expire.

A full disk (``max_bytes`` set above what the file system holds) is a different
fault, because then SQLite cannot write anything, not even the delete that would
free room or the counter that would record a loss. So:

* Loss is counted in memory first (``count_loss``) and written to the ``losses``
  table inside the next transaction that succeeds; ``stats`` adds what is not yet
  written. A loss therefore needs no free disk at the moment it happens.
* A preallocated *reserve* file (``<spool>.reserve``) holds back room. When the
  disk fills, the reserve is released: that room lets deletes (acks, evictions)
  and the WAL checkpoint that makes freed pages reusable go through. The WAL is
  kept small (``wal_autocheckpoint``, ``journal_size_limit``) so that a
  checkpoint never needs more room than the disk has.
* While the disk is full (``disk_full``), new telemetry is dropped and counted;
  alerts, status and health evict the oldest telemetry to make room, never each
  other. New files use ``auto_vacuum=INCREMENTAL``, so acks on a full disk shrink
  the file; when the reserve can be made again the spool leaves ``disk_full`` by
  itself.
* Every failed transaction is rolled back only if SQLite has not already rolled
  it back itself (it does on ``SQLITE_FULL``); otherwise the rollback raised
  ``cannot rollback - no transaction is active`` and hid the real error.

Ordering: ``seq`` is SQLite's AUTOINCREMENT rowid, so it is gateway-scoped and
strictly increasing even across deletes. A high-water mark is mirrored to a
sidecar file so that a fresh spool, started after a corrupt one was quarantined,
continues above every ``seq`` ever issued.

Who may open it: the DeviceProxy and the Uplink may run as different OS users, so
that a bug in the Uplink cannot reach the DeviceProxy's raw data. The spool is then
the only thing they share: its directory is setgid ``2770`` with a group only those
two users hold, and every file in it (database, ``-wal``, ``-shm``, high-water mark,
quarantined copies) is ``0660`` (``wardlink.runtime.files``). Looking into a spool
without changing it is ``ReadOnlySpool`` (``wardlink.spool.readonly``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from wardlink.model import RecordKind, RedactedDeviceStatus, RedactedObservation, SpooledRecord
from wardlink.model.health import GatewayHealth
from wardlink.model.seal import sealing
from wardlink.runtime.files import (
    SHARED_FILE,
    fix_mode,
    open_file,
    resolve_group,
    shared_dir,
    touch,
)

log = logging.getLogger(__name__)

_PRIORITY: dict[RecordKind, int] = {
    RecordKind.ALERT: 0,
    RecordKind.STATUS: 1,
    RecordKind.HEALTH: 2,
    RecordKind.TELEMETRY: 3,
}
ROUTINE = _PRIORITY[RecordKind.TELEMETRY]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT    NOT NULL,
    priority INTEGER NOT NULL,
    created  REAL    NOT NULL,
    size     INTEGER NOT NULL,
    body     BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_priority ON records (priority, seq);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    bytes INTEGER NOT NULL,
    evicted INTEGER NOT NULL,
    expired INTEGER NOT NULL,
    dropped INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (1, 0, 0, 0, 0);
CREATE TABLE IF NOT EXISTS losses (
    reason TEXT PRIMARY KEY,
    count  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
DROP TRIGGER IF EXISTS records_ins;
DROP TRIGGER IF EXISTS records_del;
"""

_IN_CHUNK = 500  # bound on SQL parameters per statement
_ANCHOR_KEY = "sequence_anchored"  # meta row: 0 while the numbering waits for the cloud
_SIDECARS = ("-wal", "-shm")  # SQLite's own files beside the database in WAL mode
QUARANTINE_DIR = "quarantine"
RESERVE_BYTES = 128 * 1024
"""Room held back for deletes and checkpoints on a full disk (more than one eviction needs)."""
_WAL_PAGES = 32  # checkpoint every ~128 KiB of WAL: a checkpoint must fit on a full disk


class LossReason(StrEnum):
    """Why a record acquired on this gateway will never reach the cloud."""

    DISK_FULL = "disk_full"
    """The file system had no room; the batch was refused."""
    WRITE_ERROR = "write_error"
    """Any other failure to write the spool."""
    QUEUE_OVERFLOW = "queue_overflow"
    """The writer's in-memory queue overflowed while the disk stalled."""
    DAMAGED = "damaged"
    """The spool file was damaged and the record could not be read back."""


def _is_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "full" in text or "no space" in text


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back if SQLite has not already done so (it does itself on SQLITE_FULL)."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def priority_of(kind: RecordKind) -> int:
    return _PRIORITY[kind]


class Durability(StrEnum):
    FULL = "full"
    NORMAL = "normal"


@dataclass(frozen=True)
class AppendResult:
    first_seq: int | None
    last_seq: int | None
    evicted: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class SpoolStats:
    depth: int
    bytes: int
    oldest_age_s: float
    evicted_total: int
    expired_total: int
    dropped_total: int
    quarantined: tuple[str, ...] = ()
    last_seq: int = 0
    depth_by_kind: dict[str, int] = field(default_factory=dict)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    disk_full: bool = False


class Spool:
    """One spool file. Safe to share between a writer process and a reader process.

    Methods are synchronous and short; asyncio callers batch and run them in a
    worker thread. One ``Spool`` object may be used from several threads.

    ``group`` (a name or gid; configuration key ``spool.group``) is the group the
    spool directory and files are given when this process creates them; None keeps
    the directory's own group, which is right for a directory the installer made
    setgid with the spool group. Opening a spool may change it (a corrupt file is
    quarantined, a fresh one created): only the components open it this way.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 256 * 1024 * 1024,
        ttl_seconds: float = 7 * 24 * 3600,
        durability: Durability = Durability.FULL,
        group: str | int | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self.durability = durability
        self._gid = resolve_group(group)
        self._lock = threading.RLock()
        self._evicted_unreported = 0
        self._evict_logged_at = -1e9
        self._unpersisted: dict[str, int] = {}
        self.telemetry_lost: dict[str, int] = {}
        self._evicted_routine = 0
        """Telemetry this process lost (dropped or evicted), by reason: with the
        delivered and still spooled telemetry, it accounts for every observation
        acquired here (the demo's summary checks it). Not stored: per process."""
        self._drop_logged_at = -1e9
        self.disk_full = False
        self._recover_checked_at = -1e9
        shared_dir(self.path.parent, self._gid)
        self._hwm_path = hwm_path(self.path)
        self._reserve_path = self.path.with_suffix(self.path.suffix + ".reserve")
        for existing in (*(Path(str(self.path) + s) for s in _SIDECARS), self._hwm_path):
            fix_mode(existing, SHARED_FILE, gid=self._gid)  # files of an earlier release
        self._db = self._open()
        # Both made now, while there is room: on a full disk they can only be rewritten.
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
        self._write_hwm(max(self._read_hwm(), row[0] if row else 0))
        self._make_reserve()

    # ----------------------------------------------------------------- reserve
    def _make_reserve(self) -> bool:
        """Hold back ``RESERVE_BYTES`` of disk in a file; False if the disk has no room."""
        try:
            if self._reserve_path.stat().st_size >= RESERVE_BYTES:
                return True
        except OSError:
            pass
        try:
            fd = open_file(self._reserve_path, os.O_WRONLY | os.O_TRUNC, SHARED_FILE, gid=self._gid)
            try:
                os.write(fd, b"\0" * RESERVE_BYTES)  # written, not sparse: tmpfs allocates it
            finally:
                os.close(fd)
            return True
        except OSError:
            self._reserve_path.unlink(missing_ok=True)
            return False

    def _release_reserve(self) -> None:
        self._reserve_path.unlink(missing_ok=True)

    def _enter_disk_full(self, exc: BaseException) -> None:
        """Give back the reserve so deletes and checkpoints can run; say so once."""
        self._release_reserve()
        if not self.disk_full:
            self.disk_full = True
            log.error(
                "disk full under the spool: new telemetry is dropped and counted, "
                "alerts and status evict telemetry",
                extra={"error": str(exc)},
            )
        self._shrink()

    def _shrink(self) -> None:
        """Make freed pages reusable and, where the file allows, give them back."""
        for pragma in ("PRAGMA incremental_vacuum", "PRAGMA wal_checkpoint(TRUNCATE)"):
            try:
                self._db.execute(pragma).fetchall()
            except sqlite3.Error:
                pass

    def _try_recover(self, force: bool = False) -> bool:
        """Leave ``disk_full`` once the reserve can be made again.

        Appends check at most once a second (a refused telemetry batch must stay
        cheap); an ack, which is what frees room, checks every time (``force``).
        """
        now = time.monotonic()
        if not force and now - self._recover_checked_at < 1.0:
            return False
        self._recover_checked_at = now
        self._shrink()
        if self._make_reserve():
            self.disk_full = False
            log.warning("disk space is back under the spool; accepting telemetry again")
            return True
        return False

    # ----------------------------------------------------------------- losses
    def count_loss(self, reason: LossReason, count: int, kind: RecordKind | None = None) -> None:
        """Count ``count`` records lost for ``reason``. Needs no disk: kept in memory
        and written with the next transaction that succeeds."""
        if count <= 0:
            return
        with self._lock:
            self._unpersisted[reason.value] = self._unpersisted.get(reason.value, 0) + count
            if kind is RecordKind.TELEMETRY:
                self._telemetry_lost(reason.value, count)

    def _telemetry_lost(self, reason: str, count: int) -> None:
        if count <= 0:
            return
        self.telemetry_lost[reason] = self.telemetry_lost.get(reason, 0) + count

    def _persist_losses(self, db: sqlite3.Connection) -> dict[str, int]:
        """Write the in-memory losses inside the caller's transaction; what was written."""
        taken = dict(self._unpersisted)
        for reason, count in taken.items():
            db.execute(
                "INSERT INTO losses (reason, count) VALUES (?, ?)"
                " ON CONFLICT(reason) DO UPDATE SET count = count + excluded.count",
                (reason, count),
            )
        if taken:
            db.execute(
                "UPDATE totals SET dropped = dropped + ? WHERE id = 1", (sum(taken.values()),)
            )
        return taken

    def _forget_persisted(self, taken: dict[str, int]) -> None:
        for reason, count in taken.items():
            left = self._unpersisted.get(reason, 0) - count
            if left > 0:
                self._unpersisted[reason] = left
            else:
                self._unpersisted.pop(reason, None)

    # ----------------------------------------------------------------- opening
    def _connect(self) -> sqlite3.Connection:
        # Created here, not by SQLite: SQLite would make it 0644, and gives -wal and
        # -shm the database file's mode, so this one line sets all three.
        touch(self.path, SHARED_FILE, gid=self._gid)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        # Only takes effect on a new, empty file: lets acks on a full disk shrink it.
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES}")
        db.execute(f"PRAGMA journal_size_limit={RESERVE_BYTES}")
        db.execute(
            f"PRAGMA synchronous={'FULL' if self.durability is Durability.FULL else 'NORMAL'}"
        )
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def _open(self) -> sqlite3.Connection:
        hwm = self._read_hwm()
        db: sqlite3.Connection | None = None
        try:
            db = self._connect()
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {verdict}")
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            db = self._salvage(str(exc), hwm)
        else:
            self._count_gap(db, hwm)
        self._seed_sequence(db)
        self._note_anchor(db)
        return db

    def _note_anchor(self, db: sqlite3.Connection) -> None:
        """Record, once per file, whether its numbering rests on any history.

        A file that starts with no records, no sequence and no high-water mark is a
        first install or a total loss: the two look alike from here, and only the
        cloud knows which ``seq`` it already holds. Such a file is *unanchored* until
        the Uplink has asked (``anchor_sequence``); any other file is anchored by its
        own history.
        """
        if db.execute("SELECT 1 FROM meta WHERE key=?", (_ANCHOR_KEY,)).fetchone():
            return
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
        history = bool(row and row[0]) or self._read_hwm() > 0
        history = history or db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is not None
        try:
            with db:
                db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                    (_ANCHOR_KEY, int(history)),
                )
        except sqlite3.OperationalError as exc:  # a full disk: nothing can be appended either
            log.warning("could not record the spool's sequence anchor", extra={"error": str(exc)})

    @property
    def sequence_anchored(self) -> bool:
        """False while a spool that started from nothing waits for the cloud's last ``seq``."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (_ANCHOR_KEY,)).fetchone()
        return row is None or bool(row[0])

    def anchor_sequence(self, floor: int) -> int:
        """Number every record above ``floor`` (the cloud's last acknowledged ``seq``).

        Records appended while the spool waited were numbered from 1; they have not
        been published (the Uplink publishes nothing before anchoring), so they are
        renumbered, in order, to follow ``floor``. New records follow them. Returns
        the last ``seq`` issued. Idempotent: a second call only re-marks the file.
        """
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
                current = int(row[0]) if row else 0
                (low,) = db.execute("SELECT min(seq) FROM records").fetchone()
                last = current
                if floor > current:
                    if low is not None:
                        shift = floor - int(low) + 1  # every new number is above floor >= old
                        db.execute("UPDATE records SET seq = seq + ?", (shift,))
                        last = current + shift
                    else:
                        last = floor
                    if row:
                        db.execute("UPDATE sqlite_sequence SET seq=? WHERE name='records'", (last,))
                    else:
                        db.execute(
                            "INSERT INTO sqlite_sequence(name, seq) VALUES ('records', ?)", (last,)
                        )
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, 1)", (_ANCHOR_KEY,))
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            self._write_hwm(max(last, self._read_hwm()))
        log.info(
            "spool sequence anchored",
            extra={"cloud_last_seq": floor, "local_last_seq": current, "last_seq": last},
        )
        return last

    def _count_gap(self, db: sqlite3.Connection, hwm: int) -> None:
        """A sound file that is behind its high-water mark lost its newest records.

        A deleted or damaged WAL, or an emptied main file, leaves a database that
        passes every check but lacks the records numbered above its own sequence.
        The side file says how far numbering had gone: the gap is counted as loss
        (an upper bound: some of it may have been delivered before the damage).
        """
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
        current = int(row[0]) if row else 0
        if hwm > current:
            self.count_loss(LossReason.DAMAGED, hwm - current)
            log.error(
                "spool file is behind its high-water mark: newest records lost and counted",
                extra={"first_lost": current + 1, "last_lost": hwm, "count": hwm - current},
            )

    def _salvage(self, reason: str, hwm: int) -> sqlite3.Connection:
        """Quarantine the damaged file, copy every readable record into a fresh one.

        Records keep their ``seq`` (the cloud deduplicates by it); every seq that
        could not be read, and every seq between the last one the file knew and the
        high-water mark, is counted as loss.
        """
        target = self._quarantine(reason)
        db = self._connect()
        db.executescript(_SCHEMA)
        if target is None:
            self._count_gap(db, hwm)
            return db
        found = salvage_records(target, hwm)
        self.count_loss(LossReason.DAMAGED, found.lost)
        db.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(found.rows), _IN_CHUNK):
                db.executemany(
                    "INSERT INTO records (seq, kind, priority, created, size, body)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    found.rows[start : start + _IN_CHUNK],
                )
            db.execute(
                "UPDATE totals SET bytes = ?, evicted = ?, expired = ? WHERE id = 1",
                (sum(r[4] for r in found.rows), found.evicted, found.expired),
            )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        log.error(
            "salvaged the readable records of a damaged spool file",
            extra={"salvaged": len(found.rows), "lost": found.lost, "quarantine": str(target)},
        )
        return db

    def _quarantine(self, reason: str) -> Path | None:
        """Move the damaged files aside; where they went (None if there were none)."""
        import shutil  # only here: it loads bz2 and lzma, resident for the component's life

        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        qdir = shared_dir(self.path.parent / QUARANTINE_DIR, self._gid)
        target = qdir / f"{self.path.name}.{stamp}.{os.getpid()}"
        moved = False
        for suffix in ("", *_SIDECARS):
            src = Path(str(self.path) + suffix)
            if src.exists():
                shutil.move(src, Path(str(target) + suffix))
                moved = moved or not suffix
        log.error(
            "spool file is corrupt; moved to quarantine and started a fresh spool",
            extra={"reason": reason, "quarantine": str(target)},
        )
        return target if moved else None

    def _read_hwm(self) -> int:
        return read_hwm(self.path)

    def _write_hwm(self, seq: int) -> None:
        """Record ``seq`` in place, in a fixed-width field: no new block, no new file.

        Written in place rather than replaced through a temporary file, because it
        must keep working on a full disk, where a temporary file cannot be made: a
        stale mark is what would let ``seq`` go backwards after a lost database.
        """
        try:
            fd = open_file(self._hwm_path, os.O_WRONLY, SHARED_FILE, gid=self._gid)
            try:
                os.pwrite(fd, f"{seq:020d}\n".encode(), 0)
            finally:
                os.close(fd)
        except OSError as exc:  # a missing hwm only matters after a quarantine
            log.warning("could not record spool high-water mark", extra={"error": str(exc)})

    def _seed_sequence(self, db: sqlite3.Connection) -> None:
        """Continue numbering above every seq issued, even by a quarantined file.

        The same transaction writes the losses counted while opening."""
        hwm = self._read_hwm()
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
        current = row[0] if row else 0
        if hwm <= current and not self._unpersisted:
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            if hwm > current and row:
                db.execute("UPDATE sqlite_sequence SET seq=? WHERE name='records'", (hwm,))
            elif hwm > current:
                db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('records', ?)", (hwm,))
            taken = self._persist_losses(db)
            db.execute("COMMIT")
        except sqlite3.OperationalError:  # a full disk: the numbers stay in memory
            _rollback(db)
            if hwm > current:
                raise
            return
        self._forget_persisted(taken)

    def _reopen_after_corruption(self, exc: sqlite3.DatabaseError) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = self._salvage(str(exc), self._read_hwm())
            self._seed_sequence(self._db)

    # ----------------------------------------------------------------- writing
    def append_sealed(
        self, items: Sequence[RedactedObservation | RedactedDeviceStatus], kind: RecordKind
    ) -> AppendResult:
        """Append outbound items produced by the redaction policy."""
        for item in items:
            if not isinstance(item, RedactedObservation | RedactedDeviceStatus):
                raise TypeError(f"the spool only stores sealed types, not {type(item).__name__}")
        return self._append(kind, [item.to_json_bytes() for item in items])

    def append_health(self, health: GatewayHealth) -> AppendResult:
        """Append a gateway heartbeat (numbers only, so it needs no redaction)."""
        if not isinstance(health, GatewayHealth):
            raise TypeError("append_health takes a GatewayHealth")
        return self._append(RecordKind.HEALTH, [health.to_json_bytes()])

    def _append(self, kind: RecordKind, bodies: list[bytes]) -> AppendResult:
        if not bodies:
            return AppendResult(None, None)
        size = sum(len(b) for b in bodies)
        urgent = _PRIORITY[kind] < ROUTINE
        with self._lock:
            if self.disk_full and not self._try_recover() and not urgent:
                return self._drop(len(bodies), LossReason.DISK_FULL, None, kind)
            for _ in range(3):
                try:
                    return self._append_locked(kind, bodies, size)
                except sqlite3.OperationalError as exc:
                    if not _is_full(exc):
                        return self._drop(len(bodies), LossReason.WRITE_ERROR, exc, kind)
                    self._enter_disk_full(exc)
                    if not urgent:
                        return self._drop(len(bodies), LossReason.DISK_FULL, exc, kind)
                    if not self._evict_for_urgent(size):
                        return self._drop(len(bodies), LossReason.DISK_FULL, exc, kind)
                except sqlite3.DatabaseError as exc:
                    self._reopen_after_corruption(exc)
            return self._drop(len(bodies), LossReason.DISK_FULL, None, kind)

    def _evict_for_urgent(self, size: int) -> bool:
        """On a full disk, evict the oldest telemetry (only telemetry) to fit an urgent batch."""
        try:
            evicted = self._evict_locked(max(2 * size, 16 * 1024), only=ROUTINE)
        except sqlite3.Error as exc:
            _rollback(self._db)
            log.error("could not evict telemetry on a full disk", extra={"error": str(exc)})
            return False
        self._shrink()
        return evicted > 0

    def _drop(
        self, count: int, reason: LossReason, exc: Exception | None, kind: RecordKind
    ) -> AppendResult:
        self.count_loss(reason, count, kind)
        now = time.monotonic()
        if reason is not LossReason.DISK_FULL or now - self._drop_logged_at >= 10.0:
            self._drop_logged_at = now  # one line per 10 s on a full disk, not one per batch
            log.error(
                "spool append failed; batch dropped and counted",
                extra={"count": count, "reason": reason.value, "error": str(exc)},
            )
        return AppendResult(None, None, dropped=count)

    def _append_locked(self, kind: RecordKind, bodies: list[bytes], size: int) -> AppendResult:
        db = self._db
        now = time.time()
        priority = _PRIORITY[kind]
        db.execute("BEGIN IMMEDIATE")
        try:
            (stored,) = db.execute("SELECT bytes FROM totals WHERE id = 1").fetchone()
            evicted = 0
            if stored + size > self.max_bytes:
                evicted = self._evict_locked(stored + size - self.max_bytes, in_txn=True)
            db.executemany(
                "INSERT INTO records (kind, priority, created, size, body) VALUES (?, ?, ?, ?, ?)",
                [(kind.value, priority, now, len(b), b) for b in bodies],
            )
            db.execute("UPDATE totals SET bytes = bytes + ? WHERE id = 1", (size,))
            (last,) = db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
            taken = self._persist_losses(db)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._forget_persisted(taken)
        if evicted:
            self._telemetry_lost("evicted", self._evicted_routine)
        self._write_hwm(last)
        return AppendResult(last - len(bodies) + 1, last, evicted=evicted)

    def _evict_locked(self, need_bytes: int, in_txn: bool = False, only: int | None = None) -> int:
        """Free at least ``need_bytes``, lowest priority and oldest first. Returns rows evicted.

        ``only`` limits eviction to one priority (a full disk evicts only telemetry)."""
        db = self._db
        if not in_txn:
            db.execute("BEGIN IMMEDIATE")
        freed = evicted = routine = 0
        self._evicted_routine = 0  # counted by whoever commits (here or the caller)
        try:
            for priority in sorted(set(_PRIORITY.values()), reverse=True):
                if only is not None and priority != only:
                    continue
                while freed < need_bytes:
                    rows = db.execute(
                        "SELECT seq, size FROM records WHERE priority = ? ORDER BY seq LIMIT 512",
                        (priority,),
                    ).fetchall()
                    if not rows:
                        break
                    chosen: list[int] = []
                    for seq, size in rows:
                        chosen.append(seq)
                        freed += size
                        if freed >= need_bytes:
                            break
                    _delete(db, chosen)
                    evicted += len(chosen)
                    if priority == ROUTINE:
                        routine += len(chosen)
                if freed >= need_bytes:
                    break
            db.execute("UPDATE totals SET evicted = evicted + ? WHERE id = 1", (evicted,))
            if not in_txn:
                db.execute("COMMIT")
                self._telemetry_lost("evicted", routine)
            else:
                self._evicted_routine = routine
        except BaseException:
            if not in_txn:
                _rollback(db)
            raise
        if evicted:
            self._evicted_unreported += evicted
            now = time.monotonic()
            if now - self._evict_logged_at >= 10.0:  # one line per 10 s, not one per batch
                log.warning(
                    "spool full: evicted oldest records",
                    extra={"evicted": self._evicted_unreported},
                )
                self._evicted_unreported = 0
                self._evict_logged_at = now
        return evicted

    # ----------------------------------------------------------------- reading
    def read(
        self,
        *,
        after_seq: dict[int, int] | None = None,
        max_items: int = 500,
        max_bytes: int = 120_000,
    ) -> list[SpooledRecord]:
        """Next records of the most urgent non-empty class, oldest first.

        ``after_seq`` maps priority -> highest seq already in flight, so that the
        uplink can keep several batches outstanding without re-reading them.
        Only one kind is returned per call, so the result fits one envelope.
        """
        with self._lock:
            try:
                return next_records(self._db, after_seq or {}, max_items, max_bytes)
            except sqlite3.DatabaseError as exc:
                self._reopen_after_corruption(exc)
        return []

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete records the broker acknowledged. Returns how many were deleted.

        On a full disk the reserve is released and the delete retried, so acks keep
        working and the file can shrink; the spool then leaves ``disk_full`` by itself
        once the reserve fits again.
        """
        chosen = list(seqs)
        if not chosen:
            return 0
        with self._lock:
            for attempt in range(2):
                db = self._db
                db.execute("BEGIN IMMEDIATE")
                try:
                    deleted = _delete(db, chosen)
                    taken = self._persist_losses(db)
                    db.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    _rollback(db)
                    if not _is_full(exc) or attempt:
                        raise
                    self._enter_disk_full(exc)
                    continue
                except BaseException:
                    _rollback(db)
                    raise
                self._forget_persisted(taken)
                if self.disk_full:
                    self._try_recover(force=True)
                return deleted
        return 0

    def expire(self) -> int:
        """Delete records older than the TTL. Returns how many expired."""
        cutoff = time.time() - self.ttl_seconds
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                (freed,) = db.execute(
                    "SELECT total(size) FROM records WHERE created < ?", (cutoff,)
                ).fetchone()
                expired = db.execute("DELETE FROM records WHERE created < ?", (cutoff,)).rowcount
                db.execute("UPDATE totals SET bytes = bytes - ? WHERE id = 1", (int(freed),))
                if expired:
                    db.execute("UPDATE totals SET expired = expired + ? WHERE id = 1", (expired,))
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
        if expired:
            log.warning("spool records expired before delivery", extra={"expired": expired})
        return int(expired)

    def stats(self) -> SpoolStats:
        """Counters as stored plus the losses not yet written (a full disk may hold them)."""
        with self._lock:
            stored = spool_stats(self._db, self.path)
            pending = dict(self._unpersisted)
            by_reason = dict(stored.dropped_by_reason)
            for reason, count in pending.items():
                by_reason[reason] = by_reason.get(reason, 0) + count
            return replace(
                stored,
                dropped_total=stored.dropped_total + sum(pending.values()),
                dropped_by_reason=by_reason,
                disk_full=self.disk_full,
            )

    def quarantined_files(self) -> tuple[str, ...]:
        """Every spool file ever quarantined here, by this process or another one."""
        return quarantined_files(self.path)

    def close(self) -> None:
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()


# -- queries shared with the read-only view (wardlink.spool.readonly) ------------------------


def hwm_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".hwm")


def read_hwm(path: Path) -> int:
    """The high-water mark beside spool ``path``; 0 when there is none (or it is unreadable)."""
    try:
        text = hwm_path(path).read_text().split()
        return int(text[0]) if text else 0
    except (OSError, ValueError):
        return 0


@dataclass(frozen=True)
class Salvage:
    """What could be read back from a damaged spool file."""

    rows: list[tuple[int, str, int, float, int, bytes]]
    lost: int
    evicted: int = 0
    expired: int = 0


def _scalar(db: sqlite3.Connection, sql: str) -> int | None:
    try:
        row = db.execute(sql).fetchone()
    except sqlite3.DatabaseError:
        return None
    return int(row[0]) if row and row[0] is not None else None


def salvage_records(path: Path, hwm: int) -> Salvage:
    """Read every record of the damaged file ``path`` that can still be read.

    SQLite's ``.recover`` is not in Python's sqlite3, so this reads by ranges of
    ``seq`` with a fresh connection and halves any range that fails, down to single
    rows: a damaged page costs only the records on it.
    """
    rows: list[tuple[int, str, int, float, int, bytes]] = []
    kinds = {k.value for k in RecordKind}
    _pad_cut_file(path)
    try:
        src = sqlite3.connect(path, timeout=5)
    except sqlite3.Error:
        return Salvage([], hwm)
    try:
        known = max(
            _scalar(src, "SELECT seq FROM sqlite_sequence WHERE name='records'") or 0,
            _scalar(src, "SELECT max(seq) FROM records") or 0,
        )
        try:
            (oldest,) = src.execute("SELECT min(seq) FROM records").fetchone()
            low = known + 1 if oldest is None else min(int(oldest), known + 1)  # None: empty
        except sqlite3.DatabaseError:
            low = 1  # unknown: count from the start (an upper bound again)
        high = max(known, hwm)
        pending = [(a, min(a + 511, high)) for a in range(low, high + 1, 512)]
        pending.reverse()
        while pending:
            a, b = pending.pop()
            try:
                found = src.execute(
                    "SELECT seq, kind, priority, created, size, body FROM records"
                    " WHERE seq BETWEEN ? AND ? ORDER BY seq",
                    (a, b),
                ).fetchall()
            except sqlite3.DatabaseError:
                if a < b:  # halve; a single unreadable row is simply not salvaged
                    mid = (a + b) // 2
                    pending += [(mid + 1, b), (a, mid)]
                continue
            for seq, kind, priority, created, size, body in found:
                if (
                    a <= seq <= b
                    and kind in kinds
                    and isinstance(body, bytes)
                    and len(body) == size
                    and _whole(body)
                ):
                    rows.append((int(seq), kind, int(priority), float(created), int(size), body))
        evicted = _scalar(src, "SELECT evicted FROM totals WHERE id = 1") or 0
        expired = _scalar(src, "SELECT expired FROM totals WHERE id = 1") or 0
    finally:
        src.close()
    # Every seq in range that was not read back: unreadable, absent from a damaged page,
    # or above what the file knew. Some absent ones may have been delivered before the
    # damage, so this is an upper bound: loss is never under-counted.
    return Salvage(rows, max(0, high - low + 1 - len(rows)), evicted, expired)


def _whole(body: bytes) -> bool:
    """A record body that still parses: an overflow page cut off and padded with zeros
    (or scribbled on) reads back at the right length with the wrong bytes."""
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _pad_cut_file(path: Path) -> None:
    """Give a cut file back the length its header claims, in zeros.

    SQLite refuses every query on a file shorter than its header says, even for
    pages that are intact; padded, only the pages that were cut off fail to read.
    """
    try:
        with path.open("r+b") as handle:
            header = handle.read(100)
            if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
                return
            page_size = int.from_bytes(header[16:18], "big")
            page_size = 65536 if page_size == 1 else page_size
            claimed = page_size * int.from_bytes(header[28:32], "big")
            size = os.fstat(handle.fileno()).st_size
            if size < claimed <= 1 << 40:
                handle.truncate(claimed)
                log.error("spool file was cut short", extra={"size": size, "claimed": claimed})
    except OSError as exc:
        log.warning("could not pad a cut spool file", extra={"error": str(exc)})


def next_records(
    db: sqlite3.Connection, after: dict[int, int], max_items: int, max_bytes: int
) -> list[SpooledRecord]:
    """The next records of the most urgent non-empty class (see ``Spool.read``)."""
    for priority in sorted(set(_PRIORITY.values())):
        rows = db.execute(
            "SELECT seq, kind, body FROM records WHERE priority = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (priority, after.get(priority, 0), max_items),
        ).fetchall()
        if rows:
            return _restore(rows, max_bytes)
    return []


def _restore(rows: list[tuple[int, str, bytes]], max_bytes: int) -> list[SpooledRecord]:
    """Rebuild sealed records. Our own file held only sealed bytes: no re-validation."""
    out: list[SpooledRecord] = []
    total = 0
    kinds = {k.value: k for k in RecordKind}
    with sealing():
        for seq, kind, body in rows:
            total += len(body) + 16
            if out and total > max_bytes:
                break
            out.append(SpooledRecord.model_construct(seq=seq, kind=kinds[kind], body=body))
    return out


def spool_stats(db: sqlite3.Connection, path: Path) -> SpoolStats:
    """Depth, bytes, age and counters of the spool open as ``db`` at ``path``."""
    bytes_, evicted, expired, dropped = db.execute(
        "SELECT bytes, evicted, expired, dropped FROM totals WHERE id = 1"
    ).fetchone()
    by_kind = dict(db.execute("SELECT kind, count(*) FROM records GROUP BY kind").fetchall())
    oldest = db.execute("SELECT min(created) FROM records").fetchone()[0]
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
    try:
        by_reason = dict(db.execute("SELECT reason, count FROM losses").fetchall())
    except sqlite3.OperationalError:  # a file of an earlier release, opened read-only
        by_reason = {}
    legacy = int(dropped) - sum(by_reason.values())
    if legacy > 0:  # counted before losses had reasons
        by_reason[LossReason.WRITE_ERROR.value] = (
            by_reason.get(LossReason.WRITE_ERROR.value, 0) + legacy
        )
    return SpoolStats(
        depth=sum(by_kind.values()),
        bytes=int(bytes_),
        oldest_age_s=max(0.0, time.time() - oldest) if oldest else 0.0,
        evicted_total=int(evicted),
        expired_total=int(expired),
        dropped_total=int(dropped),
        quarantined=quarantined_files(path),
        last_seq=int(row[0]) if row else 0,
        depth_by_kind={str(k): int(v) for k, v in by_kind.items()},
        dropped_by_reason={str(k): int(v) for k, v in by_reason.items()},
    )


def quarantined_files(path: Path) -> tuple[str, ...]:
    """Every copy of spool ``path`` ever quarantined, by any process."""
    qdir = path.parent / QUARANTINE_DIR
    try:
        names = [p for p in qdir.glob(path.name + ".*") if not p.name.endswith(_SIDECARS)]
    except OSError:
        return ()
    return tuple(sorted(str(p) for p in names))


def _delete(db: sqlite3.Connection, seqs: list[int]) -> int:
    """Delete records by seq inside the caller's transaction, keeping the byte total."""
    deleted = 0
    for start in range(0, len(seqs), _IN_CHUNK):
        chunk = seqs[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        (freed,) = db.execute(
            f"SELECT total(size) FROM records WHERE seq IN ({marks})",  # noqa: S608 - placeholders only
            chunk,
        ).fetchone()
        deleted += db.execute(f"DELETE FROM records WHERE seq IN ({marks})", chunk).rowcount  # noqa: S608
        db.execute("UPDATE totals SET bytes = bytes - ? WHERE id = 1", (int(freed),))
    return deleted
