"""A look into a spool that changes nothing: what ``wardlink spool stats|peek`` use.

Why not ``Spool``: opening a ``Spool`` is what the components do, and it repairs -
a corrupt file is quarantined and a fresh one created, missing directories and the
database file are made. A technician who looks at a damaged spool must find it,
and the evidence, exactly as it was. So this view:

* opens the database through SQLite's URI ``mode=ro`` and never creates anything:
  when the spool is not open in a component (no ``-wal``/``-shm`` beside it) it also
  sets ``immutable=1``, because a read-only connection would otherwise create the
  ``-wal`` and ``-shm`` files and leave them behind; when a component has it open
  those files exist and the connection only reads them;
* checks the file first (``PRAGMA quick_check``) and reports damage as
  ``SpoolDamaged`` instead of quarantining;
* reports a spool the caller may not read (not root, not in the spool group) as
  ``SpoolUnreadable``.

``immutable=1`` tells SQLite that no one changes the file while it is read. A
component that starts during the look writes only to a new ``-wal`` until its first
checkpoint, a thousand pages later, so the snapshot stays consistent in practice;
the worst case is a stale number in a diagnostic print-out.
"""

from __future__ import annotations

import grp
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote

from wardlink.model import SpooledRecord
from wardlink.spool.sqlite_spool import SpoolStats, next_records, spool_stats

T = TypeVar("T")


class SpoolUnavailable(Exception):
    """The spool cannot be looked into; the message says why, for a technician."""


class SpoolMissing(SpoolUnavailable):
    """There is no spool file at the path."""


class SpoolUnreadable(SpoolUnavailable):
    """This user may not read the spool (run as root or a member of its group)."""


class SpoolDamaged(SpoolUnavailable):
    """The spool file is corrupt or not a Wardlink spool. Nothing was changed."""


class ReadOnlySpool:
    """The spool at ``path``, opened read-only. Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            info = self.path.stat()
        except FileNotFoundError:
            raise SpoolMissing(f"no spool at {self.path}") from None
        except PermissionError:  # the directory is closed to this user
            raise SpoolUnreadable(_unreadable(self.path)) from None
        if not stat.S_ISREG(info.st_mode):
            raise SpoolMissing(f"no spool at {self.path} (not a file)")
        if not os.access(self.path, os.R_OK):
            raise SpoolUnreadable(_unreadable(self.path))
        live = all(Path(f"{self.path}{suffix}").exists() for suffix in ("-wal", "-shm"))
        uri = f"file:{quote(str(self.path.absolute()))}?mode=ro{'' if live else '&immutable=1'}"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise SpoolUnreadable(f"cannot open {self.path}: {exc}") from exc
        try:
            self._check()
        except BaseException:
            self._db.close()
            raise

    def _check(self) -> None:
        try:
            rows = self._db.execute("PRAGMA quick_check").fetchall()
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.OperationalError as exc:
            if "unable to open" in str(exc) or "readonly" in str(exc):
                raise SpoolUnreadable(_unreadable(self.path)) from exc
            raise SpoolDamaged(f"{self.path} is damaged: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise SpoolDamaged(f"{self.path} is damaged: {exc}") from exc
        verdict = "; ".join(str(r[0]) for r in rows[:5])
        if verdict != "ok":
            raise SpoolDamaged(f"{self.path} is damaged: {verdict}")
        if not {"records", "totals"} <= tables:
            raise SpoolDamaged(f"{self.path} is not a Wardlink spool")

    def stats(self) -> SpoolStats:
        return self._query(lambda db: spool_stats(db, self.path))

    def peek(self, limit: int = 10, max_bytes: int = 1 << 30) -> list[SpooledRecord]:
        """The next records the Uplink will send (most urgent class first)."""
        return self._query(lambda db: next_records(db, {}, limit, max_bytes))

    def _query(self, query: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return query(self._db)
        except sqlite3.DatabaseError as exc:
            raise SpoolDamaged(f"{self.path} is damaged: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReadOnlySpool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _unreadable(path: Path) -> str:
    """Who may read the spool: the group of the file, or of its directory."""
    group = "the spool group"
    for candidate in (path, path.parent):
        try:
            group = repr(grp.getgrgid(candidate.stat().st_gid).gr_name)
            break
        except (OSError, KeyError):
            continue
    return f"permission denied reading {path}: run as root or as a member of {group}"
