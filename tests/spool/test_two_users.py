"""The DeviceProxy and the Uplink as two OS users that share only the spool.

The finding: both components had to run as one OS user, so a bug in the Uplink -
the process that talks to the internet - could read whatever the DeviceProxy can,
raw data included. Now the spool is the only thing they share: a setgid ``2770``
directory of a group only the two component users hold, ``0660`` files; everything
else of the DeviceProxy stays ``0600``/``0700``.

This test does what docs/device-engineer-guide.md ("Deploy: users and groups") tells
an installer to do - ``groupadd``, ``useradd``, ``usermod -aG``, ``install -d -m
2770`` - with throw-away names, then runs the real ``Spool`` in WAL mode in two
processes: a DeviceProxy-like writer as one user and an Uplink-like reader/deleter
as the other, both open at once. Records flow and are deleted; a third user outside
the group can neither list, read nor open the spool, and the Uplink's user cannot
read the DeviceProxy's vault.

The child processes start as root, import and warm up everything they will run
(the interpreter of this machine lives under ``/root``, closed to other users),
then drop to the user - ``setgroups``, ``setgid``, ``setuid`` - for every file
operation of the test. Needs root: CI runs as root, so with ``CI=true`` a skip is a
failure.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import selectors
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wardlink.spool import ReadOnlySpool, Spool

CHILD = r"""
import json, os, sys, tempfile, shutil, time
from datetime import UTC, datetime
from pathlib import Path

from wardlink.cli.main import main as wardlink_main
from wardlink.model import GatewayHealth, Observation, RecordKind
from wardlink.model import nomenclature as mdc
from wardlink.model.identity import DeviceIdentity
from wardlink.phi.policy import RedactionPolicy
from wardlink.phi.vault import TokenVault
from wardlink.spool import ReadOnlySpool, Spool, SpoolUnavailable

args = json.loads(sys.argv[1])
POLICY = RedactionPolicy()
KEY = b"k" * 32


def batch(n):
    now = datetime.now(UTC)
    items = [Observation(device_id="bed-1", metric=mdc.SPO2, value=95, unit="%",
                         measured_at=now) for _ in range(n)]
    return POLICY.redact_observations(items, DeviceIdentity(device_id="bed-1", model="Sim"))


def health():
    return GatewayHealth(gateway_id="gw-1", at=datetime.now(UTC), uptime_s=1, spool_depth=0,
                         spool_bytes=0, spool_oldest_age_s=0, delivered_total=0,
                         delivered_per_s=0, evicted_total=0, expired_total=0, dropped_total=0,
                         quarantined_total=0, connected_devices=1, uplink_connected=True,
                         last_seq=0)


def say(**fields):
    print(json.dumps(fields), flush=True)


# Warm up every code path as root, in a private scratch directory: after the drop
# the interpreter's own files under /root are out of reach.
scratch = Path(tempfile.mkdtemp())
warm = Spool(scratch / "spool" / "warm.sqlite3")
warm.append_sealed(batch(2), RecordKind.TELEMETRY)
warm.append_health(health())
warm.ack(r.seq for r in warm.read())
warm.expire(); warm.stats(); warm.close()
with ReadOnlySpool(scratch / "spool" / "warm.sqlite3") as view:
    view.stats(); view.peek()
TokenVault(scratch / "vault.bin", KEY).token_for("patient_id", "1")
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    wardlink_main(["spool", "stats", "--path", str(scratch / "spool" / "warm.sqlite3")])
shutil.rmtree(scratch)

os.setgroups(args["groups"])
os.setgid(args["gid"])
os.setuid(args["uid"])
os.umask(0o022)  # what Greengrass gives a component
role, path = args["role"], Path(args["path"])

if role == "proxy":
    vault = TokenVault(args["vault"], KEY)
    vault.token_for("patient_id", "0012345")
    spool = Spool(path)
    for _ in range(args["batches"]):
        result = spool.append_sealed(batch(args["size"]), RecordKind.TELEMETRY)
    say(last_seq=result.last_seq)
    for command in sys.stdin:
        if command.strip() == "more":
            say(last_seq=spool.append_sealed(batch(args["size"]), RecordKind.TELEMETRY).last_seq)
        else:
            break
    spool.close()
    say(closed=True)

elif role == "uplink":
    spool = Spool(path)
    spool.append_health(health())
    acked = []
    for _ in range(10_000):  # a bound against a hang, not a timing
        records = spool.read(after_seq={})
        if not records:
            if len(acked) >= args["expected"]:
                break
            time.sleep(0.01)
            continue
        spool.ack(r.seq for r in records)
        acked += [r.seq for r in records]
    stats = spool.stats()
    spool.close()
    say(acked=sorted(acked), depth=stats.depth, last_seq=stats.last_seq)

elif role == "try-read":
    outcome = {}
    for target in args["targets"]:
        try:
            if Path(target).is_dir():
                os.listdir(target)
            else:
                Path(target).read_bytes()
            outcome[target] = "read"
        except OSError as exc:
            outcome[target] = type(exc).__name__
    try:
        with ReadOnlySpool(path) as view:
            view.stats()
        outcome["ReadOnlySpool"] = "read"
    except SpoolUnavailable as exc:
        outcome["ReadOnlySpool"] = type(exc).__name__
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer), contextlib.redirect_stdout(io.StringIO()):
        outcome["cli_exit"] = wardlink_main(["spool", "stats", "--path", str(path)])
    outcome["cli_stderr"] = buffer.getvalue()
    say(**outcome)
"""


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    groups: list[int]


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)


def _require_root() -> None:
    missing = [t for t in ("useradd", "groupadd", "usermod", "userdel", "groupdel", "install")
               if shutil.which(t) is None]  # fmt: skip
    if os.geteuid() == 0 and not missing:
        return
    message = f"needs root and {', '.join(missing) or 'shadow-utils'} to create OS users"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI runs as root and must run this test")
    pytest.skip(message)


@pytest.fixture
def accounts() -> Iterator[dict[str, Any]]:
    """A spool group and three users, as the deployment guide creates them; removed after."""
    _require_root()
    tag = secrets.token_hex(3)
    group = f"wlspool{tag}"
    names = {role: f"wl{role}{tag}" for role in ("proxy", "uplink", "other")}
    created: list[str] = []
    try:
        _run("groupadd", "--system", group)
        for role, name in names.items():
            _run("useradd", "--system", "--user-group", "--no-create-home",
                 "--shell", "/usr/sbin/nologin", name)  # fmt: skip
            created.append(name)
            if role != "other":
                _run("usermod", "-aG", group, name)
        users = {}
        for role, name in names.items():
            entry = pwd.getpwnam(name)
            users[role] = User(name, entry.pw_uid, entry.pw_gid,
                               os.getgrouplist(name, entry.pw_gid))  # fmt: skip
        yield {"group": group, "gid": grp.getgrnam(group).gr_gid, **users}
    finally:
        for name in created:
            subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", group], capture_output=True, check=False)


@pytest.fixture
def site() -> Iterator[Path]:
    """A directory every user may enter, like /var/lib/wardlink (pytest's tmp is root-only)."""
    base = Path(tempfile.mkdtemp(prefix="wardlink-two-users-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _start(user: User, **args: Any) -> subprocess.Popen[str]:
    payload = json.dumps({"uid": user.uid, "gid": user.gid, "groups": user.groups, **args})
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, payload],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _line(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The child's next JSON line; a generous bound only guards against a hang."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=120):
            process.kill()
            pytest.fail("child process hung")
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=60)
        assert process.stderr is not None
        pytest.fail(f"child exited {process.returncode}: {process.stderr.read()[-3000:]}")
    result: dict[str, Any] = json.loads(line)
    return result


def _finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    result = _line(process)
    assert process.wait(timeout=60) == 0
    return result


def _owner(path: Path) -> tuple[str, str, int]:
    info = path.stat()
    return (
        pwd.getpwuid(info.st_uid).pw_name,
        grp.getgrgid(info.st_gid).gr_name,
        stat.S_IMODE(info.st_mode),
    )


def test_proxy_and_uplink_as_two_users_share_only_the_spool(
    accounts: dict[str, Any], site: Path
) -> None:
    proxy, uplink, other = accounts["proxy"], accounts["uplink"], accounts["other"]
    group = accounts["group"]
    spool_dir, private = site / "spool", site / "state"
    # The installer's commands (docs/device-engineer-guide.md, Deploy: users and groups)
    _run("install", "-d", "-o", uplink.name, "-g", group, "-m", "2770", str(spool_dir))
    _run("install", "-d", "-o", proxy.name, "-g", proxy.name, "-m", "0700", str(private))
    path = spool_dir / "wardlink.sqlite3"
    vault = private / "vault.bin"

    writer = _start(proxy, role="proxy", path=str(path), vault=str(vault), batches=5, size=10)
    try:
        assert _line(writer) == {"last_seq": 50}
        # Both open at once: the Uplink user reads, deletes and appends its heartbeat.
        reader = _start(uplink, role="uplink", path=str(path), expected=51)
        first = _finish(reader)
        assert first["acked"] == list(range(1, 52)) and first["depth"] == 0

        files = {p.name: _owner(p) for p in spool_dir.iterdir()}
        assert files["wardlink.sqlite3"] == (proxy.name, group, 0o660)
        for name in (
            "wardlink.sqlite3-wal", "wardlink.sqlite3-shm", "wardlink.sqlite3.hwm",
            "wardlink.sqlite3.reserve",  # the room held back for a full disk
        ):  # fmt: skip
            assert files[name][1:] == (group, 0o660), name
        assert set(files) <= {
            "wardlink.sqlite3", "wardlink.sqlite3-wal", "wardlink.sqlite3-shm",
            "wardlink.sqlite3.hwm", "wardlink.sqlite3.reserve",
        }  # fmt: skip
        assert _owner(spool_dir) == (uplink.name, group, 0o2770)
        assert _owner(vault) == (proxy.name, proxy.name, 0o600)

        # The proxy writes again after the other user wrote the WAL and the mark.
        writer.stdin.write("more\n")  # type: ignore[union-attr]
        writer.stdin.flush()  # type: ignore[union-attr]
        assert _line(writer) == {"last_seq": 61}
        second = _finish(_start(uplink, role="uplink", path=str(path), expected=11))
        assert second["acked"] == list(range(52, 63)) and second["depth"] == 0

        # Outside the group: nothing. The Uplink's user: the spool, not the vault.
        targets = [str(spool_dir), str(path), f"{path}-wal", str(vault), str(private)]
        outsider = _finish(_start(other, role="try-read", path=str(path), targets=targets))
        assert {t: outsider[t] for t in targets} == dict.fromkeys(targets, "PermissionError")
        assert outsider["ReadOnlySpool"] == "SpoolUnreadable"
        assert outsider["cli_exit"] == 4 and group in outsider["cli_stderr"]
        member = _finish(_start(uplink, role="try-read", path=str(path), targets=targets))
        assert member[str(path)] == "read" and member["ReadOnlySpool"] == "read"
        assert member["cli_exit"] == 0
        assert member[str(vault)] == member[str(private)] == "PermissionError"

        writer.stdin.write("close\n")  # type: ignore[union-attr]
        writer.stdin.flush()  # type: ignore[union-attr]
        assert _finish(writer) == {"closed": True}
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=60)

    with ReadOnlySpool(path) as view:
        stats = view.stats()
    assert (stats.depth, stats.last_seq) == (0, 62)
    assert not Path(f"{path}-wal").exists()  # the last one to close checkpointed


def test_spool_group_is_given_to_the_directory_and_files_it_creates(
    accounts: dict[str, Any], site: Path
) -> None:
    """``spool.group``: a directory the component creates itself gets the group, setgid."""
    path = site / "made-by-the-component" / "wardlink.sqlite3"
    spool = Spool(path, group=accounts["group"])
    spool.close()
    assert _owner(path.parent) == ("root", accounts["group"], 0o2770)
    assert _owner(path) == ("root", accounts["group"], 0o660)
