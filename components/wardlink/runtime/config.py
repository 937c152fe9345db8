"""Component configuration: one schema, two sources.

Under Greengrass the configuration is the component's configuration document
(IPC GetConfiguration, updated at run time through SubscribeToConfigurationUpdate).
Outside Greengrass it is a YAML file. Both are validated by the same pydantic
models, so a typo fails at start-up with a clear message rather than at 3 a.m.
Keys are camelCase in Greengrass documents and YAML alike (recipes use camelCase);
snake_case is accepted too.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from wardlink.contract.endpoints import require_tls
from wardlink.model.identity import DEVICE_ID_PATTERN

#: How an error names the secure replacement of a plain-text broker URL.
MQTTS_HINT = " (mutual TLS: give broker.cert, broker.key and broker.ca)"


class _Config(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class SpoolConfig(_Config):
    """The spool both components open; ``group`` is the OS group they share it through.

    Without ``group`` the spool's files take the group of its (setgid) directory,
    which is how the documented installation shares it between the DeviceProxy's
    and the Uplink's users.
    """

    path: Path = Path("var/spool/wardlink.sqlite3")
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024)
    ttl_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    durability: Literal["full", "normal"] = "full"
    group: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_-]{0,31}$")


class BrokerConfig(_Config):
    """Direct MQTT connection (no Greengrass). ``mqtts://`` needs cert, key and ca.

    ``mqtt://`` (plain text) is refused here, at start-up, for any host that is not
    loopback: see ``wardlink.contract.endpoints``.
    """

    url: str = "mqtt://127.0.0.1:1883"
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    @field_validator("url")
    @classmethod
    def _tls_unless_loopback(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"broker URL must be mqtts://HOST:PORT, not {url!r}")
        return require_tls(url, secure="mqtts", plain="mqtt", default_port=8883, hint=MQTTS_HINT)


class UplinkConfig(_Config):
    max_publishes_per_second: float = Field(default=100.0, gt=0, le=100.0)
    max_bytes_per_second: float | None = Field(default=512 * 1024, gt=0)
    max_in_flight: int = Field(default=20, ge=1, le=100)
    heartbeat_seconds: float = Field(default=30.0, gt=0)
    drain_timeout_seconds: float = Field(default=10.0, ge=0)


class SerialTransportConfig(_Config):
    """Where this particular device is plugged in (overrides the profile's port)."""

    path: str | None = None
    usb_vid: int | None = None
    usb_pid: int | None = None
    usb_serial_number: str | None = None
    baudrate: int | None = None


class TcpTransportConfig(_Config):
    """Override of the profile's TCP endpoint (listen port, or the device's host/port).

    ``allowed_peers`` replaces the profile's list of addresses/networks a listener
    accepts: a device model's profile cannot know the site's device network.
    """

    host: str | None = None
    port: int | None = Field(default=None, ge=0, le=65535)
    allowed_peers: tuple[str, ...] | None = None

    @field_validator("allowed_peers")
    @classmethod
    def _networks(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for value in values or ():
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or network") from None
        return values


class BleDeviceConfig(_Config):
    """This unit's Bluetooth address (narrows the profile's allow-list to one device)."""

    address: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


class DeviceConfig(_Config):
    """One device at this site.

    Normally a device names a *profile* (a built-in name such as
    ``nonin-oem3-format2``, or a path to a YAML profile) and only says what is
    particular to this unit: its id, where it is plugged in (``serial``), its
    Bluetooth address (``ble``), its listen port and allowed peers (``tcp``), its
    serial number. Without a profile, ``codec``, ``model`` and a transport must be
    given here.
    """

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    profile: str | None = None
    model: str | None = None
    manufacturer: str | None = None
    codec: str | None = None
    serial: SerialTransportConfig | None = None
    tcp: TcpTransportConfig | None = None
    ble: BleDeviceConfig | None = None
    expected_interval_s: float | None = Field(default=None, gt=0)
    serial_number: str | None = None
    firmware_version: str | None = None

    @model_validator(mode="after")
    def _profile_or_explicit(self) -> DeviceConfig:
        if self.profile is None and not (self.codec and self.model):
            raise ValueError(f"device {self.device_id}: give a profile, or codec and model")
        return self


class ApiConfig(_Config):
    """The cloud API the Uplink registers devices with (SigV4, token-exchange credentials).

    ``http://`` is refused at start-up for any host that is not loopback: the
    requests carry SigV4 signatures and device identities.
    """

    url: str = Field(pattern=r"^https?://")
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    site_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

    @field_validator("url")
    @classmethod
    def _tls_unless_loopback(cls, url: str) -> str:
        return require_tls(url, secure="https", plain="http")


class SyslogConfig(_Config):
    """The site's syslog server that gets a copy of the UI's audit records (RFC 5424 over TLS).

    ``caFile`` is the CA the server's certificate must chain to (the system's
    trust store without it); ``serverName`` is the name checked in that
    certificate (``host`` without it). ``certFile``/``keyFile`` give a client
    certificate when the server asks for one. Plain-text syslog is not offered.
    """

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=6514, ge=1, le=65535)
    ca_file: Path | None = None
    server_name: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    facility: int = Field(default=13, ge=0, le=23)  # 13: log audit (RFC 5424 6.2.1)


class UiConfig(_Config):
    """The technician's gateway UI (``com.wardlink.GatewayUI``; see ``wardlink.ui``).

    Loopback unless ``host`` names the LAN address. ``certFile``/``keyFile`` supply
    the site's certificate; without them a self-signed one is made on first start
    in ``stateDir``. ``commandKeySecret`` names the Greengrass secret holding the
    HMAC key that signs commands to the DeviceProxy. ``syslog`` sends a copy of
    every audit record to the site's syslog server; ``auditQueue`` bounds how many
    copies wait for each destination (cloud, syslog) before new ones are dropped.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    state_dir: Path = Path("var/ui")
    cert_file: Path | None = None
    key_file: Path | None = None
    idle_timeout_s: float = Field(default=900.0, gt=0)
    max_failures: int = Field(default=5, ge=1, le=20)
    lockout_s: float = Field(default=900.0, gt=0)
    command_key_secret: str = "wardlink-ui-command-key"  # noqa: S105 - a secret id, not a value
    log_files: tuple[Path, ...] = ()
    syslog: SyslogConfig | None = None
    audit_queue: int = Field(default=1000, ge=10, le=100_000)


class GatewayConfig(_Config):
    gateway_id: str = Field(default="wardlink-dev-gateway", pattern=r"^[a-zA-Z0-9:_-]{1,128}$")
    log_level: str = "INFO"
    spool: SpoolConfig = SpoolConfig()
    uplink: UplinkConfig = UplinkConfig()
    broker: BrokerConfig | None = None
    api: ApiConfig | None = None
    devices: tuple[DeviceConfig, ...] = ()
    policy_file: Path | None = None
    secrets_file: Path | None = None
    ui: UiConfig = UiConfig()


#: Keys an earlier guide documented, and what to write instead.
_RENAMED = {"tcpListen": "tcp: {port: N}", "tcp_listen": "tcp: {port: N}"}


class ConfigFileError(ValueError):
    """A configuration file that cannot be used; the message names file, line and key."""


def load_config_file(path: Path) -> GatewayConfig:
    """Read and validate a YAML configuration file.

    Raises ``ConfigFileError`` (a ValueError) whose message has one line per problem,
    ``FILE:LINE: KEY.PATH: reason``, and never echoes a value (a configuration
    may hold secrets). pydantic's own ValidationError never escapes from here.
    """
    import yaml  # a file only outside Greengrass; under it the document comes over IPC
    from pydantic import ValidationError

    from wardlink.runtime.yaml_lines import line_of

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc}") from None
    try:
        tree = yaml.compose(text)
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{line}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigFileError(f"{path}:1: configuration must be a mapping of keys")
    try:
        return GatewayConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for item in exc.errors():
            loc = tuple(item["loc"])
            context = dict(item.get("ctx") or {})
            reason = str(context["error"]) if "error" in context else item["msg"]
            key = ".".join(str(p) for p in loc) or "(top level)"
            if item["type"] == "extra_forbidden" and loc:
                reason = f"unknown key{_suggestion(str(loc[-1]))}"
            lines.append(f"{path}:{line_of(tree, loc)}: {key}: {reason}")
        raise ConfigFileError("\n".join(lines)) from None


def config_key_names() -> frozenset[str]:
    """Every key the configuration schema knows, camelCase and snake_case: the words a
    configuration error may name (the log filter keeps them readable)."""
    found: set[str] = set()
    pending: list[type[BaseModel]] = [GatewayConfig]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            found.update(k for k in (name, info.alias) if k)
            pending.extend(_models_in(info.annotation))
    return frozenset(found)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _suggestion(key: str) -> str:
    import difflib

    if key in _RENAMED:
        return f" (write {_RENAMED[key]})"
    close = difflib.get_close_matches(key, sorted(config_key_names()), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def config_from_document(document: dict[str, Any]) -> GatewayConfig:
    """From a Greengrass configuration document (accessControl etc. are ignored)."""
    allowed = set(GatewayConfig.model_fields) | {
        f.alias for f in GatewayConfig.model_fields.values() if f.alias
    }
    return GatewayConfig.model_validate({k: v for k, v in document.items() if k in allowed})
