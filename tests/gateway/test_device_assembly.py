"""From site configuration to a device's transport, and what each failure to do so means.

Real device profiles name no port: these tests check that the site's settings
complete them, and that each way a device cannot be assembled is diagnosed as
the fault the DeviceProxy reports (cause, reason, retry or not).
"""

from __future__ import annotations

import sys

import pytest

from wardlink.gateway.faults import (
    RUN_RULES,
    SETUP_RULES,
    DeviceSetupError,
    FaultCause,
    diagnose,
)
from wardlink.gateway.proxy import build_transport, describe_device, resolve_device
from wardlink.profiles import ProfileError, find_profile
from wardlink.runtime.config import (
    BleDeviceConfig,
    DeviceConfig,
    SerialTransportConfig,
    TcpTransportConfig,
)
from wardlink.transports import TransportError
from wardlink.transports.serial import SerialTransport
from wardlink.transports.tcp import TcpListenerTransport, parse_networks


def _setup_fault(device: DeviceConfig) -> tuple[FaultCause, bool, str]:
    with pytest.raises(Exception) as caught:
        resolve_device(device)
    fault = diagnose(device.device_id, caught.value, SETUP_RULES)
    return fault.cause, fault.retry, fault.reason


def test_site_port_completes_a_real_serial_profile() -> None:
    device = DeviceConfig(
        device_id="poc-1",
        profile="astm-glucose-meter",
        serial=SerialTransportConfig(path="/dev/ttyUSB4", baudrate=19200),
    )
    transport = build_transport(device, find_profile("astm-glucose-meter"))
    assert isinstance(transport, SerialTransport)
    settings = transport.settings
    assert (settings.path, settings.baudrate, settings.bytesize, settings.parity) == (
        "/dev/ttyUSB4",
        19200,
        8,
        "N",
    )
    by_usb = DeviceConfig(
        device_id="poc-2",
        profile="astm-glucose-meter",
        serial=SerialTransportConfig(usb_vid=0x0403, usb_pid=0x6001, usb_serial_number="FT1"),
    )
    usb = build_transport(by_usb, find_profile("astm-glucose-meter"))
    assert isinstance(usb, SerialTransport)
    assert (usb.settings.usb_vid, usb.settings.usb_pid, usb.settings.path) == (0x0403, 0x6001, None)


def test_site_peers_replace_the_profile_allow_list() -> None:
    device = DeviceConfig(
        device_id="icu-monitors",
        profile="ihe-pcd01-monitor-mllp",
        tcp=TcpTransportConfig(port=0, allowed_peers=("10.20.30.0/24",)),
    )
    transport = build_transport(device, find_profile("ihe-pcd01-monitor-mllp"))
    assert isinstance(transport, TcpListenerTransport)
    assert transport.listener.allowed_peers == tuple(parse_networks(["10.20.30.0/24"]))
    assert transport.listener.port == 0 and transport.listener.host == "0.0.0.0"
    with pytest.raises(ValueError, match="not an IP address or network"):
        TcpTransportConfig(allowed_peers=("ward 4",))


def test_a_device_without_a_port_is_a_configuration_fault() -> None:
    device = DeviceConfig(device_id="oxi-9", profile="nonin-oem3-format2")
    cause, retry, reason = _setup_fault(device)
    assert (cause, retry) == (FaultCause.CONFIGURATION_INVALID, False)
    assert "no serial port" in reason and "serial.path" in reason


def test_a_ble_class_profile_without_an_address_accepts_nobody() -> None:
    device = DeviceConfig(device_id="cuff-9", profile="ble-sig-blood-pressure-monitor")
    cause, retry, reason = _setup_fault(device)
    assert (cause, retry) == (FaultCause.CONFIGURATION_INVALID, False)
    assert "ble.address" in reason


def test_unknown_profile_and_codec_are_permanent_faults() -> None:
    cause, retry, reason = _setup_fault(DeviceConfig(device_id="m-1", profile="no-such"))
    assert (cause, retry) == (FaultCause.PROFILE_ERROR, False)
    assert reason.startswith("unknown profile 'no-such'")
    cause, retry, reason = _setup_fault(
        DeviceConfig(device_id="m-2", profile="nonin-oem3-format2", codec="serial:nope")
    )
    assert (cause, retry) == (FaultCause.CODEC_UNKNOWN, False)
    assert reason == "unknown codec 'serial:nope'"


def test_missing_bleak_is_a_permanent_library_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bleak", None)
    for module in ("wardlink.transports.ble", "wardlink.gateway.ble_link"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    device = DeviceConfig(
        device_id="hr-1",
        profile="ble-sig-heart-rate-sensor",
        ble=BleDeviceConfig(address="C0:DE:00:00:00:07"),
    )
    cause, retry, reason = _setup_fault(device)
    assert (cause, retry) == (FaultCause.LIBRARY_MISSING, False)
    assert reason.startswith("bleak cannot be imported")


def test_a_faulted_device_is_still_described() -> None:
    unknown = describe_device(DeviceConfig(device_id="m-3", profile="no-such"))
    assert (unknown.device_id, unknown.model, unknown.profile) == ("m-3", "unknown", None)
    known = describe_device(
        DeviceConfig(device_id="m-4", profile="nonin-oem3-format2", serial_number="SN-1")
    )
    assert (known.manufacturer, known.profile) == ("Nonin Medical", "nonin-oem3-format2")


@pytest.mark.parametrize(
    ("error", "rules", "cause", "retry"),
    [
        (
            ModuleNotFoundError("No module named 'bleak'", name="bleak"),
            SETUP_RULES,
            FaultCause.LIBRARY_MISSING,
            False,
        ),
        (
            ProfileError("x.yaml: no such profile file"),
            SETUP_RULES,
            FaultCause.PROFILE_ERROR,
            False,
        ),
        (
            TransportError("no USB serial device 0403:6001"),
            SETUP_RULES,
            FaultCause.TRANSPORT_UNAVAILABLE,
            True,
        ),
        (
            OSError(2, "No such file or directory"),
            RUN_RULES,
            FaultCause.TRANSPORT_UNAVAILABLE,
            True,
        ),
        (
            ValueError("BLE settings need an address"),
            SETUP_RULES,
            FaultCause.CONFIGURATION_INVALID,
            False,
        ),
        (
            DeviceSetupError(FaultCause.CODEC_UNKNOWN, "unknown codec 'x:y'"),
            RUN_RULES,
            FaultCause.CODEC_UNKNOWN,
            False,
        ),
        (ValueError("value 'Jane Doe' is not valid"), RUN_RULES, FaultCause.INTERNAL_ERROR, True),
        (RuntimeError("boom"), SETUP_RULES, FaultCause.INTERNAL_ERROR, True),
    ],
)
def test_diagnosis_rules(
    error: Exception, rules: tuple[object, ...], cause: FaultCause, retry: bool
) -> None:
    fault = diagnose("dev-1", error, rules)  # type: ignore[arg-type]
    assert (fault.cause, fault.retry) == (cause, retry)
    assert fault.code == f"device-fault:{cause.value}"
    status = fault.status()
    assert status.connectivity.value == "disconnected"
    assert status.error_codes == ("device-fault", fault.code)


def test_an_unforeseen_error_is_reported_by_its_type_only() -> None:
    fault = diagnose("dev-1", KeyError("MRN 12345678"), RUN_RULES)
    assert "KeyError" in fault.reason and "12345678" not in fault.reason
