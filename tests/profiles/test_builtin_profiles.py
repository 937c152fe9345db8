"""The real device profiles the edge ships, and the dev kit's simulator profiles beside them.

The real ones are read straight from the ``wardlink.profiles.builtin`` package
files, as a gateway installs them; the simulator profiles come from the dev kit
through the ``wardlink.profiles`` entry point group, so a dev install lists both.
"""

from __future__ import annotations

from importlib import resources
from importlib.metadata import entry_points

import pytest

from wardlink.cli.main import main
from wardlink.codecs import all_codecs
from wardlink.codecs._ble_common import CHAR_CURRENT_TIME, CHAR_DATE_TIME, CHAR_RACP
from wardlink.profiles import DeviceProfile, builtin_profiles, normalize_uuid, parse_profile
from wardlink.profiles.loader import BUILTIN_PACKAGE, PROFILES_GROUP

SIM_PACKAGE = "wardlink.sim.profiles"
# Every codec family the edge ships, and the codec a real profile must use for it.
FAMILIES = {
    "serial:nonin-2",
    "serial:astm-e1381",
    "tcp:hl7-mllp",
    "ble:glucose-measurement",
    "ble:blood-pressure-measurement",
    "ble:heart-rate-measurement",
    "ble:temperature-measurement",
    "ble:plx-spot-check",
    "ble:plx-continuous",
    "ble:weight-measurement",
}
SIG_SERVICES = {
    "ble:glucose-measurement": ("1808", {"2A18", "2A52"}),
    "ble:blood-pressure-measurement": ("1810", {"2A35"}),
    "ble:heart-rate-measurement": ("180D", {"2A37"}),
    "ble:temperature-measurement": ("1809", {"2A1C"}),
    "ble:plx-spot-check": ("1822", {"2A5E"}),
    "ble:plx-continuous": ("1822", {"2A5F"}),
    "ble:weight-measurement": ("181D", {"2A9D"}),
}


def _package_files(package: str) -> dict[str, str]:
    files = resources.files(package).iterdir()
    return {f.name: f.read_text(encoding="utf-8") for f in files if f.name.endswith(".yaml")}


def _real() -> dict[str, DeviceProfile]:
    profiles = (parse_profile(text, name) for name, text in _package_files(BUILTIN_PACKAGE).items())
    return {p.name: p for p in profiles}


REAL = _real()


def test_a_real_profile_ships_for_every_codec_family() -> None:
    assert {p.codec for p in REAL.values()} >= FAMILIES


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_profile_validates_and_names_an_existing_codec(name: str) -> None:
    profile = REAL[name]
    assert profile.codec in all_codecs()
    assert profile.codec.split(":")[0] == profile.transport.kind
    assert profile.metrics, "limits for the metrics the device sends"


@pytest.mark.parametrize("file", sorted(_package_files(BUILTIN_PACKAGE)))
def test_real_profile_has_no_simulator_or_tmp_reference(file: str) -> None:
    text = _package_files(BUILTIN_PACKAGE)[file]
    lowered = text.lower()
    assert "/tmp" not in lowered
    assert "sim-" not in lowered and "simulat" not in lowered and "wardlink sim" not in lowered
    profile = parse_profile(text, file)
    assert profile.simulator is None
    assert not profile.name.startswith("sim")
    assert "(simulated)" not in profile.manufacturer.lower()


def test_serial_profiles_leave_the_port_to_the_site() -> None:
    serial = [p for p in REAL.values() if p.transport.kind == "serial"]
    assert {p.codec for p in serial} == {"serial:nonin-2", "serial:astm-e1381"}
    for profile in serial:
        assert profile.transport.kind == "serial"
        assert not profile.transport.names_port, profile.name
        with pytest.raises(ValueError, match="no serial port"):
            profile.transport.settings()
        settings = profile.transport.settings("/dev/ttyUSB3")
        assert (settings.path, settings.baudrate, settings.bytesize, settings.parity) == (
            "/dev/ttyUSB3",
            9600,
            8,
            "N",
        )


def test_pcd01_listener_accepts_only_this_host_until_the_site_says_otherwise() -> None:
    (monitor,) = [p for p in REAL.values() if p.codec == "tcp:hl7-mllp"]
    transport = monitor.transport
    assert transport.kind == "tcp" and transport.role == "listen" and transport.port == 2575
    assert set(transport.allowed_peers) == {"127.0.0.1/32", "::1/128"}


@pytest.mark.parametrize("codec", sorted(SIG_SERVICES))
def test_ble_class_profile_follows_the_sig_service(codec: str) -> None:
    (profile,) = [p for p in REAL.values() if p.codec == codec]
    transport = profile.transport
    assert transport.kind == "ble"
    service, mandatory = SIG_SERVICES[codec]
    assert transport.service_uuid == normalize_uuid(service)
    assert {normalize_uuid(c) for c in mandatory} <= {c.uuid for c in transport.characteristics}
    assert transport.address_allow_list == (), "a class profile: the site names the unit"
    assert transport.bonding is (codec == "ble:glucose-measurement")
    decodes = set(getattr(all_codecs()[codec], "characteristics", ()))
    for characteristic in transport.characteristics:
        if characteristic.role == "time":
            assert characteristic.uuid in {CHAR_CURRENT_TIME, CHAR_DATE_TIME}
        elif characteristic.role == "control-point":
            assert characteristic.uuid == CHAR_RACP
        else:  # everything read or subscribed reaches the codec: it must decode it
            assert characteristic.uuid in decodes, (profile.name, characteristic.uuid)


def test_dev_kit_profiles_are_listed_beside_the_real_ones() -> None:
    groups = {e.value for e in entry_points(group=PROFILES_GROUP)}
    assert {BUILTIN_PACKAGE, SIM_PACKAGE} <= groups
    listed = builtin_profiles()
    sims = {parse_profile(t, n).name for n, t in _package_files(SIM_PACKAGE).items()}
    assert sims and all(name.startswith("sim-") for name in sims)
    assert set(REAL) | sims == set(listed)
    assert not set(REAL) & sims
    for name, profile in REAL.items():
        assert listed[name] == profile  # the real ones are the edge package's files


def test_devices_validate_accepts_every_real_profile(capsys: pytest.CaptureFixture[str]) -> None:
    folder = resources.files(BUILTIN_PACKAGE)
    files = sorted(str(folder / name) for name in _package_files(BUILTIN_PACKAGE))
    assert main(["devices", "validate", *files]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok - ") == len(REAL)
    assert "is not installed" not in out
