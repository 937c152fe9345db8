"""The tests' InfluxDB: one private ``influxd`` per session, one database per test.

Debian's ``influxdb`` (1.x) is the real server here (``.ci/bootstrap`` installs
it). Missing, it fails the tests in CI (``CI=true``), where a skip would hide a
broken install, and skips them on a developer machine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from wardlink.cloudapi.telemetry.influxdb import InfluxHTTP
from wardlink.localcloud.influxdb_server import InfluxDBServer, influxd_path


@dataclass(frozen=True)
class InfluxDatabase:
    """A fresh database on the session's server."""

    url: str
    name: str

    def http(self, token: str | None = None) -> InfluxHTTP:
        return InfluxHTTP(self.url, token=token)


@contextmanager
def running_influxdb() -> Iterator[InfluxDBServer]:
    if influxd_path() is None:
        message = "influxd is not installed: run bash .ci/bootstrap (Debian package influxdb)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = InfluxDBServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fresh_database(server: InfluxDBServer) -> InfluxDatabase:
    assert server.url is not None
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return InfluxDatabase(server.url, name)
