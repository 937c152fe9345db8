"""Fixtures for the embedded broker tests: a running broker and awscrt clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.devtools.mqtt_peers import CrtClient
from wardlink.devtools.mqtt_broker import EmbeddedBroker


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker() as running:
        yield running


@pytest.fixture
async def crt_client(broker: EmbeddedBroker) -> AsyncIterator[Callable[..., CrtClient]]:
    """Factory of awscrt clients for the ``broker`` fixture; all are stopped afterwards."""
    made: list[CrtClient] = []

    def make(client_id: str, **kwargs: Any) -> CrtClient:
        client = CrtClient("127.0.0.1", broker.port, client_id, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.stop()
