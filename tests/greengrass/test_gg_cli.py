"""``wardlink gg emulate`` and ``wardlink gg run`` as processes, plus mTLS bridging.

The emulator runs as a real subprocess on the repository recipes; a component
is played by a small script started through ``wardlink gg run``, which must
find the socket and its SVCUID in the environment exactly like a component
under a nucleus.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.greengrass.support import TIMEOUT, BrokerPeer, start_emulator
from tests.support.mosquitto import Mosquitto
from wardlink.devtools.mqtt_observer import MqttObserver

REPO = Path(__file__).resolve().parents[2]
THING = "ward-7-gateway"
UPLINK = "com.wardlink.Uplink"

COMPONENT_SCRIPT = """
import json, os
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import UnauthorizedError
thing = os.environ["AWS_IOT_THING_NAME"]
client = GreengrassCoreIPCClientV2()
def publish(topic, payload):
    client.publish_to_iot_core_async(topic_name=topic, qos="1", payload=payload).result(10)
publish(f"wardlink/v1/{thing}/health", b'{"ok":1}')
try:
    publish("wardlink/v1/someone-else/health", b"x")
    print("ALLOWED")
except UnauthorizedError:
    print("UNAUTHORIZED")
config = client.get_configuration_async(key_path=["uplink"]).result(10).value
client.update_state_async(state="RUNNING").result(10)
print(json.dumps({"maxPublishesPerSecond": config["maxPublishesPerSecond"],
                  "spool": os.environ.get("PYTHONUNBUFFERED")}))
client.close()
"""


def _wardlink(*args: str) -> list[str]:
    return [sys.executable, "-m", "wardlink.cli.main", *args]


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"emulator exited early: {error}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.05)


@pytest.fixture
def emulator_process(
    tmp_path: Path, broker: Mosquitto
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    root = tmp_path / "gg"
    process = subprocess.Popen(
        _wardlink(
            "gg",
            "emulate",
            "--recipes",
            str(REPO / "recipes"),
            "--mqtt",
            broker.url,
            "--mqtt-client-id",
            "cli-emulator",
            "--thing-name",
            THING,
            "--root",
            str(root),
            "--socket",
            str(root / "ipc.sock"),
            "--tokens-out",
            str(root / "tokens.json"),
            "--state-file",
            str(root / "states.json"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(root / "tokens.json", process)
        yield process, root
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(TIMEOUT)
        if process.stderr:
            process.stderr.close()


def test_emulate_and_run_a_component(
    emulator_process: tuple[subprocess.Popen[bytes], Path], peer: BrokerPeer
) -> None:
    process, root = emulator_process
    tokens_file = root / "tokens.json"
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "ipc.sock").stat().st_mode) == 0o600
    tokens = json.loads(tokens_file.read_text())
    assert set(tokens) == {"com.wardlink.DeviceProxy", "com.wardlink.GatewayUI", UPLINK}
    assert len(set(tokens.values())) == 3

    peer.subscribe("wardlink/#")
    common = [
        "--socket",
        str(root / "ipc.sock"),
        "--tokens",
        str(tokens_file),
        "--root",
        str(root),
        "--recipes",
        str(REPO / "recipes"),
        "--thing-name",
        THING,
    ]
    done = subprocess.run(
        _wardlink("gg", "run", UPLINK, *common, "--", sys.executable, "-c", COMPONENT_SCRIPT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "UNAUTHORIZED"
    assert json.loads(lines[1]) == {"maxPublishesPerSecond": 50, "spool": "1"}
    assert peer.next_message() == (f"wardlink/v1/{THING}/health", b'{"ok":1}')
    states = json.loads((root / "states.json").read_text())
    assert states[UPLINK]["state"] == "RUNNING"

    process.send_signal(signal.SIGTERM)
    assert process.wait(TIMEOUT) == 0
    assert not (root / "ipc.sock").exists()
    assert not tokens_file.exists()


def test_run_dry_run_shows_the_nucleus_environment(
    emulator_process: tuple[subprocess.Popen[bytes], Path],
) -> None:
    _, root = emulator_process
    done = subprocess.run(
        _wardlink(
            "gg",
            "run",
            "com.wardlink.DeviceProxy",
            "--dry-run",
            "--socket",
            str(root / "ipc.sock"),
            "--tokens",
            str(root / "tokens.json"),
            "--root",
            str(root),
            "--recipes",
            str(REPO / "recipes"),
            "--thing-name",
            THING,
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    env = dict(
        line.split("=", 1)
        for line in done.stdout.splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"] == str(
        (root / "ipc.sock").resolve()
    )
    assert env["SVCUID"] == "<redacted>"
    assert env["AWS_IOT_THING_NAME"] == THING
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["GGC_VERSION"]
    assert "GG_ROOT_CA_PATH" in env
    assert f"# cwd: {root / 'work' / 'com.wardlink.DeviceProxy'}" in done.stdout
    assert done.stdout.strip().splitlines()[-1].endswith("-m wardlink.cli.main run proxy")


def test_run_without_an_emulator_explains_itself(tmp_path: Path) -> None:
    done = subprocess.run(
        _wardlink(
            "gg",
            "run",
            UPLINK,
            "--tokens",
            str(tmp_path / "absent.json"),
            "--recipes",
            str(REPO / "recipes"),
            "--root",
            str(tmp_path),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "is the emulator running" in done.stderr


def test_emulator_bridges_to_a_mutual_tls_broker(tmp_path: Path) -> None:
    """mqtts:// with a client certificate, the way the nucleus talks to IoT Core."""
    secure = Mosquitto(tmp_path / "mosquitto-tls", tls=True)
    secure.start()
    assert secure.pki is not None
    observer = MqttObserver("127.0.0.1", secure.port, secure.pki, topic_filter="wardlink/#")
    running = None
    try:
        observer.start(TIMEOUT)
        running = start_emulator(
            tmp_path,
            mqtt_url=secure.url,
            thing_name=THING,
            mqtt_ca=secure.pki.ca_cert,
            mqtt_cert=secure.pki.client_cert,
            mqtt_key=secure.pki.client_key,
        )
        client = running.client(UPLINK)
        client.publish_to_iot_core_async(
            topic_name=f"wardlink/v1/{THING}/telemetry", qos="1", payload=b"{}"
        ).result(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while not observer.snapshot() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [m.topic for m in observer.snapshot()] == [f"wardlink/v1/{THING}/telemetry"]
    finally:
        if running is not None:
            running.stop()
        observer.stop()
        secure.stop()
