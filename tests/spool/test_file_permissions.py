"""The modes of every file the gateway writes, under any umask.

The finding: spool files were world-readable (``0644``, SQLite's default), and the
modes of the other files were whatever the umask gave. What the edge writes is now
either private (``0600`` files in ``0700`` directories: vault, keys, device state)
or shared between the DeviceProxy and the Uplink only (the spool: ``0660`` in a
setgid ``2770`` directory). These tests use the real SQLite - which creates ``-wal``
and ``-shm`` itself, with the database file's mode - under three umasks, including
the 022 Greengrass gives components and 000. Which OS users may open what is
``test_two_users.py``.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wardlink.gateway.proxy import build_worker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import Observation, RecordKind
from wardlink.model import nomenclature as mdc
from wardlink.model.identity import DeviceIdentity
from wardlink.phi.keys import FileSecretSource
from wardlink.phi.policy import RedactionPolicy
from wardlink.phi.vault import TokenVault
from wardlink.runtime.config import BleDeviceConfig, DeviceConfig
from wardlink.runtime.files import resolve_group
from wardlink.spool import Spool

POLICY = RedactionPolicy()
DEVICE = DeviceIdentity(device_id="bed-1", model="Sim")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def telemetry(n: int) -> list:  # type: ignore[type-arg]
    now = datetime.now(UTC)
    observations = [
        Observation(device_id="bed-1", metric=mdc.SPO2, value=95, unit="%", measured_at=now)
        for _ in range(n)
    ]
    return POLICY.redact_observations(observations, DEVICE)


@pytest.fixture(params=[0o022, 0o077, 0o000], ids=["umask022", "umask077", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_spool_files_are_0660_in_a_setgid_2770_directory(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "var" / "spool" / "wardlink.sqlite3"
    spool = Spool(path)
    spool.append_sealed(telemetry(3), RecordKind.TELEMETRY)
    names = {p.name for p in path.parent.iterdir()}
    assert {"wardlink.sqlite3", "wardlink.sqlite3-wal", "wardlink.sqlite3-shm"} <= names
    assert "wardlink.sqlite3.hwm" in names
    assert mode(path.parent) == 0o2770
    for name in names:
        assert mode(path.parent / name) == 0o660, name
    spool.close()


def test_a_quarantined_spool_stays_group_only(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "spool" / "wardlink.sqlite3"
    Spool(path).close()
    path.write_bytes(b"not a database" * 100)
    spool = Spool(path)
    [quarantined] = [Path(p) for p in spool.stats().quarantined]
    assert mode(quarantined.parent) == 0o2770
    assert mode(quarantined) == 0o660
    assert mode(path) == 0o660  # the fresh spool
    spool.close()


def test_files_of_an_earlier_release_are_closed_on_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """0644 files in a 0755 directory: the files are ours to fix, the directory is logged."""
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    path = directory / "wardlink.sqlite3"
    spool = Spool(path)
    spool.append_sealed(telemetry(1), RecordKind.TELEMETRY)
    spool.close()
    leftovers = [path, Path(f"{path}-wal"), Path(f"{path}.hwm")]
    Path(f"{path}-wal").write_bytes(b"")  # as a crash leaves it
    for file in leftovers:
        os.chmod(file, 0o644)
    with caplog.at_level(logging.WARNING, logger="wardlink.runtime.files"):
        reopened = Spool(path)
    assert [mode(f) for f in leftovers] == [0o660] * 3
    assert any("open to every user" in r.getMessage() for r in caplog.records)
    assert mode(directory) == 0o755  # not ours to change: the operator is told instead
    reopened.close()


def test_vault_and_key_files_are_0600_in_0700_directories(tmp_path: Path, umask: int) -> None:
    vault_path = tmp_path / "phi" / "vault" / "vault.bin"
    key_path = TokenVault.generate_key_file(tmp_path / "phi" / "keys" / "vault.key")
    TokenVault(vault_path, key_path.read_bytes()).token_for("patient_id", "0012345")
    assert (mode(vault_path), mode(vault_path.parent)) == (0o600, 0o700)
    assert (mode(key_path), mode(key_path.parent)) == (0o600, 0o700)

    secrets = FileSecretSource(tmp_path / "secrets")
    hmac_key = secrets.create("wardlink/phi/hmac/patient_id")
    assert mode(hmac_key) == 0o600
    assert mode(tmp_path / "secrets") == 0o700
    assert mode(hmac_key.parent) == 0o700


def test_an_open_key_file_still_works_but_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = FileSecretSource(tmp_path / "secrets")
    os.chmod(secrets.create("wardlink/phi/hmac/patient_id"), 0o644)
    with caplog.at_level(logging.WARNING, logger="wardlink.phi.keys"):
        assert len(secrets.get_secret("wardlink/phi/hmac/patient_id")) == 32
        secrets.get_secret("wardlink/phi/hmac/patient_id")
    assert [r.getMessage() for r in caplog.records].count(
        "key file is open to other users; make it 0600"
    ) == 1


def test_glucose_sync_state_directory_is_0700(tmp_path: Path, umask: int) -> None:
    """The RACP state directory is made when the DeviceProxy builds a glucose meter."""
    spool = Spool(tmp_path / "spool" / "wardlink.sqlite3")
    device = DeviceConfig(
        device_id="meter-1",
        profile="ble-sig-glucose-meter",
        ble=BleDeviceConfig(address="C0:FF:EE:00:00:01"),
    )
    build_worker(device, POLICY, SpoolWriter(spool), state_dir=tmp_path / "state")
    assert mode(tmp_path / "state") == 0o700
    spool.close()


def test_an_unknown_spool_group_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Spool(tmp_path / "spool" / "wardlink.sqlite3", group="no-such-group-wl")
    assert resolve_group("0") == 0 and resolve_group(None) is None
