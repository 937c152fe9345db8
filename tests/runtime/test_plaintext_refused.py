"""Plain text leaves the gateway for nobody: ``mqtt://`` and ``http://`` only to loopback.

Production configuration used to accept ``mqtt://`` brokers and ``http://`` API
endpoints on any host, so a typo (or a "temporary" test setting) sent telemetry and
signed API requests across the hospital network in the clear. Now:

* the configuration refuses them, naming the host and what to use instead, and
  every component exits at start-up with that message (``wardlink run`` outside
  Greengrass; ERRORED to the nucleus under it), before connecting anywhere;
* the direct MQTT adapter and the cloud API client refuse them again where they
  connect, so code that builds its own endpoint cannot skip the rule;
* loopback (127.0.0.0/8, ``::1``, ``localhost``) stays allowed: local development,
  the local cloud and the demo run there.

Where a test proves that nothing was sent, the refused URL points at a listening
socket on one of this machine's own non-loopback addresses, and the socket is
checked for a connection afterwards.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.credentials import Credentials
from pydantic import ValidationError

from tests.greengrass.support import TIMEOUT, start_emulator
from tests.support.mosquitto import Mosquitto
from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
from wardlink.cloudclient import WardlinkApiClient
from wardlink.contract.endpoints import PlaintextEndpointError, is_loopback_host, require_tls
from wardlink.runtime.config import ApiConfig, BrokerConfig
from wardlink.uplink.component import Uplink

SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address

LOOPBACK_BROKERS = [
    "mqtt://127.0.0.1:1883",
    "mqtt://127.8.9.10:1883",
    "mqtt://localhost:1883",
    "mqtt://LOCALHOST:1883",
    "mqtt://[::1]:1883",
    "mqtt://[::ffff:127.0.0.1]:1883",
]
REMOTE_HOSTS = [
    "192.0.2.10",
    "10.0.0.5",
    "0.0.0.0",
    "iot.hospital.example",
    "localhost.",  # sent to DNS by some resolvers
    "localhost.attacker.example",
    "127.0.0.1.nip.io",
    "[2001:db8::1]",
    "[::]",
]


def _own_non_loopback_address() -> str | None:
    """An IPv4 address of one of this machine's interfaces that is not loopback."""
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                packed = fcntl.ioctl(
                    probe.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15])
                )
            except OSError:
                continue
        address = socket.inet_ntoa(packed[20:24])
        if not is_loopback_host(address):
            return address
    return None


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket on this machine's network address: nothing may connect to it."""
    address = _own_non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to listen on")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen(16)
    server.setblocking(False)
    try:
        yield server
    finally:
        server.close()


def _url(scheme: str, server: socket.socket, path: str = "") -> str:
    host, port = server.getsockname()[:2]
    return f"{scheme}://{host}:{port}{path}"


def _nobody_connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


# -- the rule ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", LOOPBACK_BROKERS)
def test_plain_text_to_loopback_is_allowed(url: str) -> None:
    assert BrokerConfig(url=url).url == url
    api = url.replace("mqtt://", "http://")
    assert ApiConfig(url=api).url == api
    assert MqttEndpoint(url, "dev-client").tls is False


@pytest.mark.parametrize("host", REMOTE_HOSTS)
def test_plain_text_to_any_other_host_is_refused_with_what_to_use(host: str) -> None:
    bare = host.strip("[]")
    with pytest.raises(ValidationError) as broker:
        BrokerConfig(url=f"mqtt://{host}:1883")
    message = str(broker.value)
    assert f"refusing plain-text mqtt:// to {bare}" in message
    assert f"use mqtts://{host}:8883 instead" in message
    with pytest.raises(ValidationError) as api:
        ApiConfig(url=f"http://{host}/prod")
    assert f"refusing plain-text http:// to {bare}" in str(api.value)
    assert f"use https://{host} instead" in str(api.value)


@pytest.mark.parametrize("host", REMOTE_HOSTS)
def test_tls_to_any_host_is_allowed(host: str) -> None:
    assert BrokerConfig(url=f"mqtts://{host}:8883").url == f"mqtts://{host}:8883"
    assert ApiConfig(url=f"https://{host}/prod").url == f"https://{host}/prod"


def test_other_broker_schemes_and_hostless_urls_are_refused() -> None:
    with pytest.raises(ValidationError, match="broker URL must be mqtts://HOST:PORT"):
        BrokerConfig(url="tcp://127.0.0.1:1883")
    with pytest.raises(PlaintextEndpointError, match="names no host"):
        require_tls("mqtt://:1883", secure="mqtts", plain="mqtt")


def test_a_password_in_a_refused_url_is_not_repeated() -> None:
    with pytest.raises(PlaintextEndpointError) as refused:
        require_tls("http://user:hunter2@:80/", secure="https", plain="http")
    assert "hunter2" not in str(refused.value)


# -- at start-up, in every component --------------------------------------------------------


def _run(
    component: str, config: dict[str, Any], directory: Path
) -> subprocess.CompletedProcess[str]:
    path = directory / f"{component}.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "wardlink.cli.main", "run", component, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("component", ["proxy", "uplink"])
def test_a_component_with_a_plain_text_broker_exits_at_start_up(
    component: str, listener: socket.socket, tmp_path: Path
) -> None:
    host = listener.getsockname()[0]
    config = {
        "gatewayId": "ward-7-gw",
        "spool": {"path": str(tmp_path / "spool" / "wardlink.sqlite3")},
        "broker": {"url": _url("mqtt", listener)},
    }
    result = _run(component, config, tmp_path)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot start: invalid configuration" in last
    assert f"broker.url: refusing plain-text mqtt:// to {host}" in last
    assert f"use mqtts://{host}:8883 instead" in last
    assert json.loads(result.stderr.splitlines()[0])["level"] == "ERROR"  # and in the log
    assert _nobody_connected(listener)
    assert not (tmp_path / "spool").exists()  # nothing was started


def test_the_uplink_with_a_plain_text_api_exits_before_connecting_to_the_broker(
    mosquitto_tls: Mosquitto, listener: socket.socket, tmp_path: Path
) -> None:
    pki = mosquitto_tls.pki
    assert pki is not None
    host = listener.getsockname()[0]
    config = {
        "gatewayId": "ward-7-gw",
        "spool": {"path": str(tmp_path / "spool" / "wardlink.sqlite3")},
        "broker": {
            "url": mosquitto_tls.url,
            "cert": str(pki.client_cert),
            "key": str(pki.client_key),
            "ca": str(pki.ca_cert),
        },
        "api": {"url": _url("http", listener, "/prod")},
    }
    result = _run("uplink", config, tmp_path)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"api.url: refusing plain-text http:// to {host}" in last
    assert f"use https://{host} instead" in last
    assert _nobody_connected(listener)
    assert "New client" not in mosquitto_tls.log()


async def test_under_greengrass_a_plain_text_api_reports_errored_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    component = "com.wardlink.Uplink"
    running = start_emulator(tmp_path)
    try:
        admin = running.client(component)
        await asyncio.to_thread(
            lambda: admin.update_configuration_async(
                key_path=[],
                value_to_merge={"api": {"url": "http://192.0.2.10/prod"}},
                timestamp=datetime.now(UTC),
            ).result(TIMEOUT)
        )
        monkeypatch.setenv(
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", str(running.socket_path)
        )
        monkeypatch.setenv("SVCUID", running.emulator.tokens[component])
        from wardlink.runtime.runner import run_component

        with pytest.raises(SystemExit) as exit_:
            await run_component(Uplink(), stop=asyncio.Event())
        assert "refusing plain-text http:// to 192.0.2.10" in str(exit_.value.code)
        assert running.emulator.states[component]["state"] == "ERRORED"
    finally:
        running.stop()


# -- again where the connection is made ----------------------------------------------------


def test_the_mqtt_adapter_refuses_a_plain_text_endpoint_it_is_given(
    listener: socket.socket,
) -> None:
    host = listener.getsockname()[0]
    with pytest.raises(PlaintextEndpointError, match=f"to {host}: only loopback"):
        MqttEndpoint(_url("mqtt", listener), "gw#uplink")
    assert _nobody_connected(listener)


async def test_the_mqtt_adapter_checks_again_when_it_connects(listener: socket.socket) -> None:
    endpoint = MqttEndpoint("mqtt://127.0.0.1:1", "gw#uplink")
    object.__setattr__(endpoint, "url", _url("mqtt", listener))  # past __post_init__
    bus = DirectMqttBus(endpoint)
    with pytest.raises(PlaintextEndpointError):
        await bus.start()
    await bus.close()
    assert _nobody_connected(listener)


def test_the_api_client_refuses_a_plain_text_endpoint(listener: socket.socket) -> None:
    host = listener.getsockname()[0]
    with pytest.raises(PlaintextEndpointError, match=f"use https://{host} instead"):
        WardlinkApiClient(_url("http", listener, "/prod"), "eu-west-1", Credentials("AKIA", "s"))
    assert _nobody_connected(listener)


class _UploadApi(BaseHTTPRequestHandler):
    """A loopback API whose upload tickets point at a plain-text URL elsewhere."""

    upload_url = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps(
            {
                "upload_id": "u-1",
                "device_uid": "gw/d",
                "key": "uploads/gw/d/u-1/log.csv",
                "url": self.upload_url,
                "headers": {"Content-Type": "text/csv"},
                "expires_at": "2026-11-21T00:00:00+00:00",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_the_api_client_refuses_a_plain_text_upload_url_before_sending_the_file(
    listener: socket.socket, tmp_path: Path
) -> None:
    handler = type("UploadApi", (_UploadApi,), {"upload_url": _url("http", listener, "/put")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = WardlinkApiClient(
            f"http://127.0.0.1:{server.server_address[1]}", "eu-west-1", Credentials("AKIA", "s")
        )
        data = tmp_path / "log.csv"
        data.write_text("t,spo2\n0,97\n")
        with pytest.raises(PlaintextEndpointError, match="use https://"):
            api.upload_file("gw/d", data, "text/csv")
    finally:
        server.shutdown()
        server.server_close()
    assert _nobody_connected(listener)


def test_loopback_is_exactly_127_slash_8_the_ipv6_loopback_and_localhost() -> None:
    assert is_loopback_host("127.255.255.254")
    assert not is_loopback_host("128.0.0.1")
    assert is_loopback_host("::1")
    assert not is_loopback_host("::2")
    assert not is_loopback_host("localhost.localdomain")
