"""Shared fixtures: real peers (Mosquitto with mutual TLS, InfluxDB) and canary PHI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.influxdb import InfluxDatabase, fresh_database, running_influxdb
from tests.support.mosquitto import Mosquitto, mosquitto_available
from wardlink.localcloud.influxdb_server import InfluxDBServer


@pytest.fixture(scope="session")
def influxdb_server() -> Iterator[InfluxDBServer]:
    """One private influxd (Debian's 1.x) for the whole session."""
    with running_influxdb() as server:
        yield server


@pytest.fixture
def influx_db(influxdb_server: InfluxDBServer) -> InfluxDatabase:
    """A database of its own for one test."""
    return fresh_database(influxdb_server)


@pytest.fixture
def mosquitto_tls(tmp_path: Path) -> Iterator[Mosquitto]:
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed: run the README test command (it installs it)")
    broker = Mosquitto(tmp_path / "mosquitto", tls=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
