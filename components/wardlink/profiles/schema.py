"""The device-profile schema: what a device engineer writes to add a device model.

A profile declares one device *model* (not one unit): how to reach it (serial,
TCP or BLE, with the transport's parameters), which codec speaks its protocol,
how its metrics map to IEEE 11073 MDC terms and UCUM units, whether data is
streamed, notified or polled, how often it normally reports (silence detection:
a device quiet for twice ``expected_interval_s`` is reported), and plausible
value limits (a value outside them is kept but marked ``invalid``).

The shape follows the idea of EdgeX device profiles - a declarative description
of the device's resources and how to read them - in far fewer words, since the
protocol details live in the codec. Everything is validated with pydantic; any
mistake is reported with the path of the offending field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wardlink.codecs.base import DecodeContext, utc_now
from wardlink.model import Observation, Quality
from wardlink.transports.serial import SerialSettings

PROFILE_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
CODEC_NAME_PATTERN = r"^(serial|tcp|ble):[a-z0-9][a-z0-9-]*$"
_UUID16 = re.compile(r"^(0x)?[0-9a-fA-F]{4}$")
_UUID128 = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_BT_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
LIMIT_FLAG = "outside-profile-limits"


def normalize_uuid(value: str) -> str:
    """``"2A18"``, ``"0x2a18"`` or a full UUID -> the full lower-case 128-bit form."""
    text = value.strip()
    if _UUID16.match(text):
        return f"0000{text[-4:].lower()}{_BT_BASE_SUFFIX}"
    if _UUID128.match(text):
        return text.lower()
    raise ValueError(f"{value!r} is not a 16-bit (e.g. 2A18) or 128-bit Bluetooth UUID")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricSpec(_Strict):
    """One protocol metric: its MDC term, its UCUM unit and its plausible range."""

    mdc_code: int = Field(ge=0, le=0xFFFFFFFF, description="partition<<16 | term")
    mdc_name: str = Field(pattern=r"^MDC_[A-Z0-9_]+$")
    unit: str = Field(min_length=1, max_length=32, description="UCUM, case-sensitive")
    min: float | None = Field(default=None, description="lowest plausible value")
    max: float | None = Field(default=None, description="highest plausible value")

    @model_validator(mode="after")
    def _range(self) -> MetricSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


def _usb_id(value: Any) -> Any:
    # YAML gives 0x0403 as an int; "0403" or "0x0403" as text means hex, as lsusb prints it.
    if isinstance(value, str):
        text = value.strip().lower().removeprefix("0x")
        if not re.fullmatch(r"[0-9a-f]{1,4}", text):
            raise ValueError(f"{value!r} is not a 16-bit USB id (hex, e.g. 0403)")
        return int(text, 16)
    return value


class UsbSelector(_Strict):
    """A USB-serial adapter by identity, so that it is found again after replugging."""

    vid: int = Field(ge=0, le=0xFFFF)
    pid: int = Field(ge=0, le=0xFFFF)
    serial_number: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("vid", "pid", mode="before")
    @classmethod
    def _hex(cls, value: Any) -> Any:
        return _usb_id(value)


class SerialTransportSpec(_Strict):
    """How a serial device talks, and optionally where it is plugged in.

    A real device model's profile gives the line settings only: where the unit is
    plugged in (``/dev/ttyUSB0``, or a USB adapter's identity) is the site's, in
    the device's ``serial`` configuration, which also wins over a profile that
    names a port (the simulators' profiles do).
    """

    kind: Literal["serial"]
    path: str | None = Field(default=None, min_length=1)
    usb: UsbSelector | None = None
    baudrate: int = Field(default=9600, gt=0, le=4_000_000)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: float = 1

    @field_validator("stopbits")
    @classmethod
    def _stopbits(cls, value: float) -> float:
        if value not in (1, 1.5, 2):
            raise ValueError("stopbits must be 1, 1.5 or 2")
        return value

    @model_validator(mode="after")
    def _one_port(self) -> SerialTransportSpec:
        if self.path is not None and self.usb is not None:
            raise ValueError("give at most one of 'path' or 'usb' (vid, pid, serial_number)")
        return self

    @property
    def names_port(self) -> bool:
        return self.path is not None or self.usb is not None

    def settings(
        self, port: UsbSelector | str | None = None, baudrate: int | None = None
    ) -> SerialSettings:
        """The transport's settings; ``port`` (a path or a USB selector) and
        ``baudrate`` from the site replace the profile's.

        Raises ValueError when neither the site nor the profile says where the
        device is plugged in.
        """
        where = port if port is not None else (self.path or self.usb)
        if where is None:
            raise ValueError(
                "no serial port: the device's configuration must give serial.path"
                " or serial.usbVid and serial.usbPid"
            )
        usb = where if isinstance(where, UsbSelector) else None
        return SerialSettings(
            path=where if isinstance(where, str) else None,
            usb_vid=usb.vid if usb else None,
            usb_pid=usb.pid if usb else None,
            usb_serial_number=usb.serial_number if usb else None,
            baudrate=baudrate or self.baudrate,
            bytesize=self.bytesize,
            parity=self.parity,
            stopbits=self.stopbits,
        )


class TcpTransportSpec(_Strict):
    """``role: listen`` - devices connect to the gateway (MLLP listener); ``role:
    client`` - the gateway connects to the device."""

    kind: Literal["tcp"]
    role: Literal["listen", "client"]
    host: str = Field(
        default="127.0.0.1", min_length=1, description="listen address or device host"
    )
    port: int = Field(ge=0, le=65535, description="0 (listen only): any free port, for tests")
    allowed_peers: tuple[str, ...] = Field(
        default=(), description="listen: addresses/networks allowed to connect; empty = any"
    )

    @field_validator("allowed_peers")
    @classmethod
    def _networks(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or network") from None
        return values

    @model_validator(mode="after")
    def _client_port(self) -> TcpTransportSpec:
        if self.role == "client" and self.port == 0:
            raise ValueError("a tcp client needs the device's port (1-65535)")
        if self.role == "client" and self.allowed_peers:
            raise ValueError("allowed_peers applies to role 'listen' only")
        return self


class BleCharacteristicSpec(_Strict):
    """A characteristic the gateway uses. ``service_uuid`` defaults to the device's
    main service; set it for characteristics of other services (Current Time 0x1805)."""

    uuid: str
    role: Literal["notify", "indicate", "read", "write", "control-point", "time"]
    name: str | None = Field(default=None, max_length=64)
    service_uuid: str | None = None
    codec: str | None = Field(
        default=None, pattern=CODEC_NAME_PATTERN, description="codec for this characteristic"
    )

    @field_validator("uuid", "service_uuid")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return None if value is None else normalize_uuid(value)


class BleTransportSpec(_Strict):
    kind: Literal["ble"]
    service_uuid: str
    address_allow_list: tuple[str, ...] = Field(
        default=(),
        description="MAC addresses to accept; empty = only the address the site configures",
    )
    name_prefix: str | None = Field(default=None, max_length=64)
    characteristics: tuple[BleCharacteristicSpec, ...] = Field(min_length=1)
    bonding: bool = Field(default=False, description="pair and bond before subscribing")

    @field_validator("service_uuid")
    @classmethod
    def _service(cls, value: str) -> str:
        return normalize_uuid(value)

    @field_validator("address_allow_list")
    @classmethod
    def _macs(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for value in values:
            mac = value.strip().upper().replace("-", ":")
            if not _MAC.match(mac):
                raise ValueError(f"{value!r} is not a Bluetooth address (AA:BB:CC:DD:EE:FF)")
            out.append(mac)
        return tuple(out)

    @model_validator(mode="after")
    def _readable(self) -> BleTransportSpec:
        if not any(c.role in {"notify", "indicate", "read"} for c in self.characteristics):
            raise ValueError("at least one characteristic must be notify, indicate or read")
        return self


TransportSpec = Annotated[
    SerialTransportSpec | TcpTransportSpec | BleTransportSpec, Field(discriminator="kind")
]
Scalar = str | int | float | bool


class DeviceProfile(_Strict):
    """One device model, declared."""

    name: str = Field(pattern=PROFILE_NAME_PATTERN, description="profile id, e.g. nonin-oem3")
    manufacturer: str = Field(min_length=1, max_length=128)
    model: str = Field(min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=500)
    codec: str = Field(pattern=CODEC_NAME_PATTERN)
    transport: TransportSpec
    mode: Literal["stream", "notify", "poll"]
    poll_interval_s: float | None = Field(default=None, gt=0)
    expected_interval_s: float = Field(gt=0, description="normal time between messages")
    parameters: dict[str, Scalar] = Field(default_factory=dict)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    simulator: str | None = Field(default=None, description="``wardlink sim`` name, if any")

    @model_validator(mode="after")
    def _consistent(self) -> DeviceProfile:
        family = self.codec.split(":", 1)[0]
        kind = self.transport.kind
        if family != kind:
            raise ValueError(f"codec {self.codec!r} is for {family} devices, transport is {kind}")
        if self.mode == "poll" and self.poll_interval_s is None:
            raise ValueError("mode 'poll' needs poll_interval_s")
        if self.mode != "poll" and self.poll_interval_s is not None:
            raise ValueError("poll_interval_s is only meaningful with mode 'poll'")
        if kind == "ble" and self.mode == "stream":
            raise ValueError("BLE devices notify or are polled; mode 'stream' is for serial/tcp")
        if kind != "ble" and self.mode == "notify":
            raise ValueError("mode 'notify' is for BLE devices")
        if (
            self.mode == "poll"
            and self.poll_interval_s
            and self.expected_interval_s < self.poll_interval_s
        ):
            raise ValueError("expected_interval_s cannot be shorter than poll_interval_s")
        return self

    # -- what the pipeline uses -------------------------------------------------------------

    @property
    def silence_timeout_s(self) -> float:
        """Report the device silent/disconnected after this long without data."""
        return 2 * self.expected_interval_s

    def metric_map(self) -> dict[str, tuple[int, str, str]]:
        return {key: (m.mdc_code, m.mdc_name, m.unit) for key, m in self.metrics.items()}

    def decode_context(
        self, device_id: str, now: Callable[[], datetime] | None = None
    ) -> DecodeContext:
        """The codec's context for one device of this model."""
        return DecodeContext(device_id=device_id, now=now or utc_now, metric_map=self.metric_map())

    def limits_for(self, mdc_code: int) -> MetricSpec | None:
        return next((m for m in self.metrics.values() if m.mdc_code == mdc_code), None)

    def apply_limits(self, observation: Observation) -> Observation:
        """Mark a value outside the profile's limits ``invalid`` (kept, not dropped).

        Limits are in the metric's profile unit; a value the device sent in another
        unit (kPa instead of mm[Hg]) is left alone rather than compared wrongly.
        """
        spec = self.limits_for(observation.metric.mdc_code)
        value = observation.value
        if spec is None or value is None or observation.unit != spec.unit:
            return observation
        low = spec.min if spec.min is not None else float("-inf")
        high = spec.max if spec.max is not None else float("inf")
        if low <= value <= high:
            return observation
        return observation.model_copy(
            update={"quality": Quality.INVALID, "flags": (*observation.flags, LIMIT_FLAG)}
        )


def profile_summary(profile: DeviceProfile) -> Mapping[str, Any]:
    """A short, PHI-free description for listings."""
    return {
        "name": profile.name,
        "manufacturer": profile.manufacturer,
        "model": profile.model,
        "codec": profile.codec,
        "transport": profile.transport.kind,
        "mode": profile.mode,
        "expected_interval_s": profile.expected_interval_s,
        "metrics": sorted(profile.metrics),
        "simulator": profile.simulator,
    }
