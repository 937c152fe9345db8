"""Outside Greengrass, each component connects to the broker with a client id of its own.

A broker keeps one session per client id: when a second connection presents an id
already connected, the broker closes the first ("already connected, closing old
connection"), the first reconnects and closes the second, and so on. The DeviceProxy
and the Uplink used to connect as ``<gateway>-direct`` both, and knocked each other
off the broker every few hundred milliseconds.

Here both run as ``wardlink run proxy|uplink --config FILE``, as on a gateway
without Greengrass, against a real Mosquitto configured like IoT Core (mutual TLS).
The broker's log says who connected and whether anyone was taken over; each
component's log says whether its connection dropped. A second test checks that the
ids are ones the gateway's IoT policy lets a gateway connect with.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.mosquitto import Mosquitto
from wardlink.runtime.runner import mqtt_client_id

pytestmark = pytest.mark.integration

GATEWAY = "ward-7-gw"
COMPONENTS = {"proxy": "com.wardlink.DeviceProxy", "uplink": "com.wardlink.Uplink"}
TIMEOUT = 20.0
TAKEOVER = "already connected, closing old connection"


def _config(directory: Path, broker: Mosquitto) -> Path:
    pki = broker.pki
    assert pki is not None
    config = {
        "gatewayId": GATEWAY,
        "spool": {"path": str(directory / "spool" / "wardlink.sqlite3")},
        "uplink": {"heartbeatSeconds": 1.0, "drainTimeoutSeconds": 1},
        "broker": {
            "url": broker.url,
            "cert": str(pki.client_cert),
            "key": str(pki.client_key),
            "ca": str(pki.ca_cert),
        },
        "devices": [],
    }
    path = directory / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """Mosquitto with mutual TLS that also logs every connect and disconnect."""
    server = Mosquitto(tmp_path / "mosquitto", tls=True)
    conf = server.directory / "mosquitto.conf"
    conf.write_text(conf.read_text() + "log_type information\nconnection_messages true\n")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _component_log(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def _messages(path: Path, text: str) -> int:
    return sum(1 for r in _component_log(path) if r.get("message") == text)


def test_proxy_and_uplink_stay_connected_side_by_side(broker: Mosquitto, tmp_path: Path) -> None:
    config = _config(tmp_path, broker)
    logs = {name: tmp_path / f"{name}.log" for name in COMPONENTS}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    expected = {mqtt_client_id(GATEWAY, component) for component in COMPONENTS.values()}
    try:
        for name in COMPONENTS:
            with logs[name].open("wb") as sink:
                processes[name] = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "wardlink.cli.main",
                        "run",
                        name,
                        "--config",
                        str(config),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=sink,
                    env={**os.environ, "WARDLINK_LOG_LEVEL": "INFO"},
                )
        # Both connected, as the broker saw it (bounded wait).
        connected: set[str] = set()
        deadline = time.monotonic() + TIMEOUT
        while not expected <= connected:
            for name, process in processes.items():
                assert process.poll() is None, logs[name].read_text()[-3000:]
            assert time.monotonic() < deadline, broker.log()[-3000:]
            connected = set(re.findall(r"New client connected from \S+ as (\S+)", broker.log()))
            time.sleep(0.05)
        for name in COMPONENTS:
            while _messages(logs[name], "uplink connected") < 1:
                assert time.monotonic() < deadline, logs[name].read_text()[-3000:]
                time.sleep(0.05)

        # A takeover happens the moment a second connection presents a connected id;
        # with distinct ids there is none, and neither component ever lost its link.
        assert connected == expected
        assert TAKEOVER not in broker.log()
        for name in COMPONENTS:
            assert _messages(logs[name], "uplink connected") == 1, logs[name].read_text()
            assert _messages(logs[name], "uplink disconnected") == 0, logs[name].read_text()
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(TIMEOUT)


def _iot_connect_resources() -> list[str]:
    """The client-id patterns of the IoT policy the cloud attaches to gateway certificates."""
    cloud = Path(__file__).resolve().parents[2] / "cloud"
    if str(cloud) not in sys.path:
        sys.path.append(str(cloud))
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk
    from wardlink_infra.gateway_identity import gateway_policy_document

    stack = cdk.Stack(cdk.App(), "PolicyProbe")
    document = gateway_policy_document(stack, "arn:aws:iot:eu-west-1:111122223333:rolealias/x")
    (connect,) = [s for s in document["Statement"] if s["Action"] == "iot:Connect"]
    return [resource.split(":client/", 1)[1] for resource in connect["Resource"]]


def _allowed(client_id: str, thing: str, pattern: str) -> bool:
    """IoT policy matching: the thing variable resolved, ``*`` any run, ``?`` one character."""
    resolved = pattern.replace("${iot:Connection.Thing.ThingName}", thing)
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resolved)
    return re.fullmatch(regex, client_id) is not None


def test_the_client_ids_are_distinct_and_allowed_by_the_gateway_iot_policy() -> None:
    ids = [mqtt_client_id(GATEWAY, component) for component in COMPONENTS.values()]
    assert ids == [f"{GATEWAY}#deviceproxy", f"{GATEWAY}#uplink"]
    patterns = _iot_connect_resources()
    for client_id in ids:
        assert any(_allowed(client_id, GATEWAY, p) for p in patterns), (client_id, patterns)
        assert not any(_allowed(client_id, "other-gw", p) for p in patterns)


def test_a_client_id_longer_than_iot_core_allows_is_refused() -> None:
    from wardlink.bus.mqtt_direct import MqttEndpoint

    gateway = "g" * 120  # a valid gateway id, too long once "#deviceproxy" is added
    with pytest.raises(ValueError, match=r"AWS IoT Core accepts 1\.\.128"):
        MqttEndpoint("mqtt://127.0.0.1:1883", mqtt_client_id(gateway, COMPONENTS["proxy"]))
