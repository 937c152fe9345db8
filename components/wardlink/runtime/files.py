"""The modes of every file and directory the gateway writes, whatever the umask.

Why: the DeviceProxy is the only process that holds raw PHI, and a bug in the
Uplink - the process that talks to the internet - must not be able to reach it.
That is an operating-system promise only if the two run as different users and
the files say so:

* **private** - the pseudonym vault, key files, per-device state: ``0600`` files in
  ``0700`` directories, readable by the component that wrote them and nobody else;
* **shared** - the spool, the one thing the DeviceProxy and the Uplink share, and
  which holds only sealed, redacted records: ``0660`` files in a setgid ``2770``
  directory whose group only those two component users hold. SQLite in WAL mode
  needs both users to write the database, its ``-wal`` and ``-shm`` files and the
  directory; setgid makes every file created in it belong to the directory's group.

The umask cannot be trusted to give these modes (Greengrass starts components with
022, which makes a group-shared file read-only to the group), so modes are set
explicitly after creation. SQLite creates ``-wal`` and ``-shm`` itself, with the
mode of the database file (and, when it runs as root, the database file's owner), so
creating the database file ``0660`` before SQLite opens it is enough for all three;
``tests/spool/test_file_permissions.py`` checks that against the real SQLite.

Directories that already exist are left as they are (a spool path could be put in a
directory that is not ours to change), but a shared directory that every user can
enter is logged. Files this user owns are set to their mode even if they existed
with another one: an earlier release created the spool ``0644``.
"""

from __future__ import annotations

import grp
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SHARED_DIR = 0o2770  # setgid: files created inside belong to the directory's group
SHARED_FILE = 0o660


def resolve_group(group: str | int | None) -> int | None:
    """The gid of a group name or number; None means "the directory's own group".

    A name that does not exist is a configuration error, reported at start-up rather
    than as a spool the other component cannot open.
    """
    if group is None or isinstance(group, int):
        return group
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError(f"group {group!r} does not exist on this machine") from None


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) if needed; a directory created here is 0700.

    Missing parents get the ordinary umask mode: they may be shared with another
    component's directory (``var/`` above ``var/spool``), and closing them would
    lock it out.
    """
    return _make_dir(Path(path), PRIVATE_DIR, None)


def shared_dir(path: str | os.PathLike[str], gid: int | None = None) -> Path:
    """Create the shared (spool) directory if needed: setgid 2770, group ``gid``.

    With ``gid`` None the group is whatever the directory gets on creation (the
    creating process's group, or the parent's when the parent is setgid), which is
    what a directory made by the installer (``install -d -g wardlink -m 2770``) has.
    """
    directory = _make_dir(Path(path), SHARED_DIR, gid)
    try:
        mode = stat.S_IMODE(directory.stat().st_mode)
    except OSError:  # not ours to look into: opening the spool will say more
        return directory
    if mode & 0o007:
        log.warning(
            "spool directory is open to every user; make it 2770 with the spool group",
            extra={"path": str(directory), "mode": oct(mode)},
        )
    return directory


def _make_dir(path: Path, mode: int, gid: int | None) -> Path:
    if path.parent != path and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=mode & 0o777)
    except FileExistsError:
        if not path.is_dir():
            raise
        return path
    if gid is not None:
        _chown_group(path, gid)
    os.chmod(path, mode)  # mkdir ignores the setgid bit and applies the umask
    return path


def open_file(
    path: str | os.PathLike[str], flags: int, mode: int, *, gid: int | None = None
) -> int:
    """``os.open`` with ``O_CREAT`` whose file ends up with exactly ``mode`` (and ``gid``).

    A file owned by this user is given the mode even if it already existed; one owned
    by the other component is left to it. Returns the descriptor; the caller closes it.
    """
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, mode & 0o777)
    try:
        _settle(fd, os.fstat(fd), mode, gid, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def touch(path: str | os.PathLike[str], mode: int, *, gid: int | None = None) -> None:
    """Create ``path`` empty with ``mode`` if it does not exist; fix its mode if it is ours."""
    os.close(open_file(path, os.O_RDONLY, mode, gid=gid))


def fix_mode(path: str | os.PathLike[str], mode: int, *, gid: int | None = None) -> None:
    """Give an existing regular file of ours ``mode``; anything else is left alone."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        return
    if gid is not None and info.st_gid != gid:
        _chown_group(Path(path), gid)
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)


def _settle(fd: int, info: os.stat_result, mode: int, gid: int | None, path: object) -> None:
    if info.st_uid != os.geteuid():
        return
    if gid is not None and info.st_gid != gid:
        try:
            os.fchown(fd, -1, gid)
        except PermissionError as exc:
            raise PermissionError(exc.errno, _not_member(gid), str(path)) from None
    if stat.S_IMODE(info.st_mode) != mode:
        os.fchmod(fd, mode)


def _chown_group(path: Path, gid: int) -> None:
    try:
        os.chown(path, -1, gid, follow_symlinks=False)
    except PermissionError as exc:
        raise PermissionError(exc.errno, _not_member(gid), str(path)) from None


def _not_member(gid: int) -> str:
    try:
        name = grp.getgrgid(gid).gr_name
    except KeyError:
        name = str(gid)
    return f"cannot give the file to group {name!r}: this user is not a member of it"
