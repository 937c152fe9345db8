"""Fixtures for the Greengrass tests: a plain Mosquitto, test recipes, secrets."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.greengrass.support import BrokerPeer, RunningEmulator, start_emulator
from tests.support.mosquitto import Mosquitto, mosquitto_available
from wardlink.localcloud import LocalCloud

TESTER_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.example.Tester
ComponentVersion: "1.0.0"
ComponentPublisher: Tests
ComponentDependencies:
  com.example.Peer:
    VersionRequirement: ">=1.0.0"
    DependencyType: SOFT
ComponentConfiguration:
  DefaultConfiguration:
    greeting: hello
    nested:
      port: 443
      tags: [a, b]
    peerPort: "{com.example.Peer:configuration:/port}"
    workDir: "{work:path}"
    thing: "{iot:thingName}"
    accessControl:
      aws.greengrass.ipc.mqttproxy:
        "com.example.Tester:mqttproxy:1":
          operations: ["aws.greengrass#PublishToIoTCore"]
          resources: ["devices/{iot:thingName}/out", "fleet/+/status"]
        "com.example.Tester:mqttproxy:2":
          operations: ["aws.greengrass#SubscribeToIoTCore"]
          resources: ["commands/{iot:thingName}/#"]
      aws.greengrass.ipc.pubsub:
        "com.example.Tester:pubsub:1":
          operations: ["*"]
          resources: ["local/chat", "local/sensors/*"]
      aws.greengrass.SecretManager:
        "com.example.Tester:secrets:1":
          operations: ["aws.greengrass#GetSecretValue"]
          resources: ["arn:aws:secretsmanager:us-east-1:111122223333:secret:allowed-*"]
Manifests:
  - Platform:
      os: linux
    Lifecycle:
      Run: echo tester
"""

PEER_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.example.Peer
ComponentVersion: "1.0.0"
ComponentPublisher: Tests
ComponentConfiguration:
  DefaultConfiguration:
    port: 8443
    accessControl:
      aws.greengrass.ipc.pubsub:
        "com.example.Peer:pubsub:1":
          operations: ["aws.greengrass#PublishToTopic", "aws.greengrass#SubscribeToTopic"]
          resources: ["local/*"]
Manifests:
  - Lifecycle:
      Run: echo peer
"""

ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:"
SECRETS = {
    "secrets": [
        {
            "arn": ARN + "allowed-key-AbCdEf",
            "name": "allowed-key",
            "secretString": "current",
            "versionId": "v2",
        },
        {
            "arn": ARN + "allowed-key-AbCdEf",
            "name": "allowed-key",
            "secretString": "previous",
            "versionId": "v1",
            "versionStages": ["AWSPREVIOUS"],
        },
        {
            "arn": ARN + "allowed-bin-XyZ123",
            "secretBinary": base64.b64encode(b"\x00\xffkey").decode(),
        },
        {"arn": ARN + "forbidden-key-QwErTy", "name": "forbidden-key", "secretString": "nope"},
    ]
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed")
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"), tls=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def peer(broker: Mosquitto) -> Iterator[BrokerPeer]:
    client = BrokerPeer(broker.port)
    try:
        yield client
    finally:
        client.stop()


@pytest.fixture
def test_recipes(tmp_path: Path) -> Path:
    directory = tmp_path / "recipes"
    (directory / "tester").mkdir(parents=True)
    (directory / "peer").mkdir()
    (directory / "tester" / "recipe.yaml").write_text(TESTER_RECIPE)
    (directory / "peer" / "recipe.yaml").write_text(PEER_RECIPE)
    return directory


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(SECRETS))
    return path


@pytest.fixture
def emulator(
    tmp_path: Path, broker: Mosquitto, test_recipes: Path, secrets_file: Path
) -> Iterator[RunningEmulator]:
    running = start_emulator(
        tmp_path, recipes=test_recipes, mqtt_url=broker.url, secrets=secrets_file
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """One local cloud (with Greengrass v2's control plane) for the session's tests."""
    from tests.greengrass.local_cloud import running_local_cloud

    with running_local_cloud(tmp_path_factory.mktemp("cloud")) as cloud:
        yield cloud


@pytest.fixture(scope="session")
def gateway_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wardlink components build --all`` of the repository's recipes, once per session."""
    from wardlink.cli.main import main

    out = tmp_path_factory.mktemp("greengrass-build")
    recipes = Path(__file__).resolve().parents[2] / "recipes"
    command = ["components", "build", "--all", "--recipes", str(recipes), "--output", str(out)]
    assert main(command) == 0
    return out


@pytest.fixture
def pty_device() -> Iterator[tuple[int, str]]:
    """A raw pty: the test writes device bytes to the master, the component opens the slave."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    try:
        yield master, os.ttyname(slave)
    finally:
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)
