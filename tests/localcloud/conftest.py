"""One DynamoDB Local, one Mosquitto and one LocalCloud (with detectors) per module.

The cloud runs in ``eu-west-1`` on purpose (S3 buckets need a location constraint
outside us-east-1), bridges a plain-TCP Mosquitto, and has its ``heartbeat``
timers shortened to ``HEARTBEAT_S`` so a silent device goes offline within
seconds. Tests stay independent by using their own gateway ids.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awscrt import mqtt5

from tests.detectors_aws.envelopes import Gateway
from tests.support.dynamodb_local import running_dynamodb_local
from tests.support.fleet_api import FleetApi
from tests.support.mosquitto import Mosquitto, mosquitto_available
from wardlink.localcloud import LocalCloud

REGION = "eu-west-1"
HEARTBEAT_S = 2
WAIT_S = 20.0
"""Upper bound for any wait on the cloud (an alert is due after ``HEARTBEAT_S``)."""


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    with running_dynamodb_local() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed")
    server = Mosquitto(tmp_path_factory.mktemp("mqtt"), tls=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cloud(
    dynamodb_local: str, broker: Mosquitto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCloud]:
    unique = uuid.uuid4().hex[:6]
    local = LocalCloud(
        region=REGION,
        dynamodb_endpoint=dynamodb_local,
        table_prefix=f"lc{unique}-",
        bucket=f"wardlink-lc{unique}-data",  # moto's state is process-wide
        mqtt_url=broker.url,
        detector_timers={"heartbeat": HEARTBEAT_S},
        workdir=tmp_path_factory.mktemp("cloud"),
        log_level="ERROR",
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def api(cloud: LocalCloud) -> Any:
    """Each call signed as its caller: the gateway it names, or support (FleetApi)."""
    return FleetApi(cloud)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A simulated gateway (real redaction policy, spool and envelopes), unique per test."""
    gw = Gateway(tmp_path / "spool", f"gw-{uuid.uuid4().hex[:10]}")
    try:
        yield gw
    finally:
        gw.close()


def publish(port: int, messages: list[tuple[str, bytes]], timeout_s: float = 10.0) -> None:
    """Publish with QoS 1 as the uplink does, waiting for every PUBACK."""
    connected = threading.Event()
    options = mqtt5.ClientOptions(host_name="127.0.0.1", port=port)
    options.connect_options = mqtt5.ConnectPacket(client_id=f"test-gw-{uuid.uuid4().hex[:8]}")
    options.on_lifecycle_event_connection_success_fn = lambda _: connected.set()
    client = mqtt5.Client(options)
    client.start()
    try:
        if not connected.wait(timeout_s):
            raise TimeoutError(f"no connection to the broker on port {port}")
        for topic, payload in messages:
            client.publish(
                mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)
            ).result(timeout_s)
    finally:
        client.stop()
