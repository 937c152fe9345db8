"""Shared fixtures: real peers (Mosquitto with mutual TLS) and canary PHI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto, mosquitto_available


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
