"""Device profiles: the shipped ones, the schema's validation messages, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wardlink.codecs import all_codecs
from wardlink.codecs.astm_e1381 import ENQ, EOT, AstmE1381Codec, encode_records
from wardlink.codecs.base import Decoded
from wardlink.model import Metric, Observation, Quality
from wardlink.profiles import (
    DeviceProfile,
    ProfileError,
    builtin_profiles,
    find_profile,
    load_profile,
    load_profiles,
    normalize_uuid,
    parse_profile,
)
from wardlink.profiles.schema import LIMIT_FLAG
from wardlink.sim.registry import all_simulators

ISSUE_CODECS = {
    "serial:nonin-2",
    "serial:astm-e1381",
    "serial:hl7-mllp",
    "tcp:hl7-mllp",
    "ble:glucose-measurement",
    "ble:blood-pressure-measurement",
    "ble:heart-rate-measurement",
    "ble:temperature-measurement",
    "ble:plx-spot-check",
    "ble:plx-continuous",
    "ble:weight-measurement",
}

MINIMAL = """
name: test-device
manufacturer: ACME
model: M1
codec: serial:nonin-2
transport: {kind: serial, path: /dev/ttyUSB0}
mode: stream
expected_interval_s: 1
metrics:
  spo2: {mdc_code: 150456, mdc_name: MDC_PULS_OXIM_SAT_O2, unit: "%", min: 50, max: 100}
"""


def errors_of(text: str) -> str:
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "dev.yaml")
    return str(caught.value)


def _simulator_profiles() -> dict[str, DeviceProfile]:
    """The dev kit's profiles (``wardlink.sim.profiles``), as installed."""
    return {n: p for n, p in builtin_profiles().items() if n.startswith("sim-")}


def test_a_simulated_device_profile_ships_for_every_codec() -> None:
    profiles = _simulator_profiles()
    assert {p.codec for p in profiles.values()} >= ISSUE_CODECS
    for profile in profiles.values():
        assert profile.codec.split(":")[0] == profile.transport.kind
        assert profile.simulator, f"{profile.name} names no simulator"


def test_shipped_profiles_name_installed_codecs_and_simulators() -> None:
    codecs = all_codecs()
    simulators = all_simulators()
    for profile in builtin_profiles().values():
        assert profile.codec in codecs, profile.name
        if profile.simulator is not None and profile.transport.kind != "ble":
            assert profile.simulator in simulators, profile.name


def test_builtin_ble_profiles_use_the_standard_uuids() -> None:
    profiles = builtin_profiles()
    expected = {
        "sim-ble-glucose": ("1808", {"2a18", "2a34", "2a52"}),
        "sim-ble-blood-pressure": ("1810", {"2a35"}),
        "sim-ble-heart-rate": ("180d", {"2a37"}),
        "sim-ble-thermometer": ("1809", {"2a1c"}),
        "sim-ble-plx-spot-check": ("1822", {"2a5e"}),
        "sim-ble-plx-continuous": ("1822", {"2a5f"}),
        "sim-ble-weight-scale": ("181d", {"2a9d"}),
    }
    for name, (service, characteristics) in expected.items():
        transport = profiles[name].transport
        assert transport.kind == "ble"
        assert transport.service_uuid == normalize_uuid(service)
        assert {normalize_uuid(c) for c in characteristics} <= {
            c.uuid for c in transport.characteristics
        }
    glucose = profiles["sim-ble-glucose"].transport
    assert glucose.kind == "ble" and glucose.bonding
    (racp,) = [c for c in glucose.characteristics if c.role == "control-point"]
    assert racp.uuid == normalize_uuid("2A52")
    (clock,) = [c for c in glucose.characteristics if c.role == "time"]
    assert clock.service_uuid == normalize_uuid("1805")


def test_minimal_profile_and_its_helpers() -> None:
    profile = parse_profile(MINIMAL)
    assert profile.silence_timeout_s == 2.0
    assert profile.metric_map() == {"spo2": (150456, "MDC_PULS_OXIM_SAT_O2", "%")}
    ctx = profile.decode_context("oxi-1")
    assert ctx.device_id == "oxi-1" and ctx.metric_map["spo2"][0] == 150456
    assert profile.transport.kind == "serial"
    settings = profile.transport.settings()
    assert (settings.path, settings.baudrate) == ("/dev/ttyUSB0", 9600)


def test_usb_selector_accepts_hex_ids() -> None:
    text = MINIMAL.replace(
        "transport: {kind: serial, path: /dev/ttyUSB0}",
        "transport: {kind: serial, baudrate: 19200,"
        " usb: {vid: '0403', pid: 0x6001, serial_number: FT123}}",
    )
    profile = parse_profile(text)
    assert profile.transport.kind == "serial"
    settings = profile.transport.settings()
    assert (settings.usb_vid, settings.usb_pid, settings.usb_serial_number) == (
        0x0403,
        0x6001,
        "FT123",
    )
    assert settings.path is None and settings.baudrate == 19200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("path: /dev/ttyUSB0}", "path: /dev/ttyUSB0, usb: {vid: 1, pid: 2}}"),
            "at most one of 'path' or 'usb'",
        ),
        (("path: /dev/ttyUSB0}", "usb: {vid: xyz, pid: 2}}"), "transport.serial.usb.vid"),
        (
            ("codec: serial:nonin-2", "codec: ble:heart-rate-measurement"),
            "is for ble devices, transport is serial",
        ),
        (("codec: serial:nonin-2", "codec: Nonin"), "codec: String should match pattern"),
        (("mode: stream", "mode: poll"), "mode 'poll' needs poll_interval_s"),
        (("mode: stream", "mode: notify"), "mode 'notify' is for BLE devices"),
        (("min: 50, max: 100", "min: 100, max: 50"), "min (100.0) is greater than max (50.0)"),
        (
            ("expected_interval_s: 1", "expected_interval_s: 0"),
            "expected_interval_s: Input should be greater than 0",
        ),
        (("model: M1", "model: M1\ncolour: blue"), "colour: Extra inputs are not permitted"),
        (('unit: "%"', 'unit: ""'), "metrics.spo2.unit"),
    ],
)
def test_schema_errors_name_the_field(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in MINIMAL
    assert message in errors_of(MINIMAL.replace(old, new))


def test_ble_and_tcp_validation() -> None:
    ble = """
name: hr
manufacturer: ACME
model: H1
codec: ble:heart-rate-measurement
transport:
  kind: ble
  service_uuid: 180D
  address_allow_list: [aa-bb-cc-dd-ee-ff]
  characteristics: [{uuid: 2A37, role: notify}]
mode: notify
expected_interval_s: 1
"""
    profile = parse_profile(ble)
    assert profile.transport.kind == "ble"
    assert profile.transport.address_allow_list == ("AA:BB:CC:DD:EE:FF",)
    assert "not a Bluetooth address" in errors_of(ble.replace("aa-bb-cc-dd-ee-ff", "nope"))
    assert "128-bit Bluetooth UUID" in errors_of(ble.replace("uuid: 2A37", "uuid: 2A3"))
    assert "must be notify, indicate or read" in errors_of(
        ble.replace("role: notify", "role: write")
    )
    assert "mode 'stream' is for serial/tcp" in errors_of(
        ble.replace("mode: notify", "mode: stream")
    )

    tcp = """
name: mon
manufacturer: ACME
model: T1
codec: tcp:hl7-mllp
transport: {kind: tcp, role: listen, host: 0.0.0.0, port: 2575, allowed_peers: [10.0.0.0/8]}
mode: stream
expected_interval_s: 60
"""
    assert parse_profile(tcp).transport.kind == "tcp"
    assert "not an IP address or network" in errors_of(tcp.replace("10.0.0.0/8", "ten"))
    client = tcp.replace("role: listen", "role: client").replace(
        ", allowed_peers: [10.0.0.0/8]", ""
    )
    assert "needs the device's port" in errors_of(client.replace("port: 2575", "port: 0"))


def test_file_errors_are_profile_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ProfileError, match=r"broken.yaml: not valid YAML \(line"):
        load_profile(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ProfileError, match="must be a YAML mapping"):
        load_profile(listing)
    with pytest.raises(ProfileError, match="unknown profile"):
        find_profile("no-such-profile")


def test_profile_directories_and_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL)
    assert list(load_profiles(tmp_path)) == ["test-device"]
    assert find_profile(str(tmp_path / "a.yaml")).name == "test-device"
    (tmp_path / "b.yaml").write_text(MINIMAL)
    with pytest.raises(ProfileError, match="used twice"):
        load_profiles(tmp_path)


def observation(value: float | None, unit: str = "%") -> Observation:
    return Observation(
        device_id="d",
        metric=Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2"),
        value=value,
        unit=unit,
        measured_at=datetime(2026, 11, 5, tzinfo=UTC),
    )


def test_value_limits_mark_out_of_range_values_invalid() -> None:
    profile: DeviceProfile = parse_profile(MINIMAL)
    inside = profile.apply_limits(observation(97))
    assert inside.quality is Quality.VALID and LIMIT_FLAG not in inside.flags
    outside = profile.apply_limits(observation(30))
    assert outside.quality is Quality.INVALID and outside.value == 30
    assert LIMIT_FLAG in outside.flags
    assert profile.apply_limits(observation(None)).quality is Quality.VALID
    assert profile.apply_limits(observation(30, unit="1")).quality is Quality.VALID  # other unit


def test_profile_metric_map_drives_the_astm_codec() -> None:
    profile = builtin_profiles()["sim-astm-glucose"]  # maps GLU and HBA1C
    codec = AstmE1381Codec(profile.decode_context("poc-1"))
    data = (
        bytes([ENQ])
        + b"".join(encode_records(["H|\\^&", "R|1|^^^HBA1C|6.1|%", "R|2|^^^GLU|99|mg/dL", "L|1"]))
        + bytes([EOT])
    )
    (decoded,) = [e for e in codec.feed(data) if isinstance(e, Decoded)]
    assert [(o.metric.mdc_name, o.value) for o in decoded.observations] == [
        ("MDC_CONC_HBA1C", 6.1),
        ("MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", 99.0),
    ]


def test_normalize_uuid() -> None:
    assert normalize_uuid("2A18") == "00002a18-0000-1000-8000-00805f9b34fb"
    assert normalize_uuid("0x2a18") == normalize_uuid("2a18")
    full = "0AAD7EA0-0D60-11E2-8E3C-0002A5D5C51B"
    assert normalize_uuid(full) == full.lower()
    with pytest.raises(ValueError):
        normalize_uuid("xyz")
