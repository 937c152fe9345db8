"""The edge bus port: everything a component needs from its surroundings.

Under Greengrass these services come from the nucleus over IPC; outside it (a
developer laptop, a gateway without Greengrass, the demo) they come from a direct
MQTT 5 connection and local files. Components depend on this interface only, so
the same component code runs in both places, which is how the demo exercises the
production pipeline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from wardlink.model.errors import WardlinkError


class BusError(WardlinkError):
    """The bus refused or failed an operation."""


class NotConnected(BusError):
    """The uplink is down; the caller keeps its data and retries later."""


class Unauthorized(BusError):
    """The component's access-control policy does not allow this operation."""


class ComponentState(StrEnum):
    """Greengrass component states a component may report (UpdateState)."""

    RUNNING = "RUNNING"
    ERRORED = "ERRORED"


@dataclass(frozen=True)
class LocalMessage:
    topic: str
    payload: bytes


LocalHandler = Callable[[LocalMessage], Awaitable[None]]
ConfigHandler = Callable[[dict[str, Any]], Awaitable[None]]
ConnectionHandler = Callable[[bool], None]


class EdgeBus(ABC):
    """Port to the outside world of one component."""

    @property
    @abstractmethod
    def uplink_connected(self) -> bool:
        """Whether messages to IoT Core can be delivered right now."""

    @abstractmethod
    async def start(self) -> None:
        """Connect. Must not fail if the cloud is unreachable: it keeps retrying."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def publish_to_iot_core(self, topic: str, payload: bytes, timeout: float = 30.0) -> None:
        """Publish with QoS 1 and return only once the broker acknowledged it (PUBACK).

        Raises NotConnected or BusError if it was not acknowledged in time; the caller
        must then keep the data and retry.
        """

    @abstractmethod
    async def publish_local(self, topic: str, payload: bytes) -> None:
        """Publish on the gateway-local bus (Greengrass pub/sub)."""

    @abstractmethod
    async def subscribe_local(self, topic: str, handler: LocalHandler) -> None: ...

    @abstractmethod
    async def get_configuration(self) -> dict[str, Any]:
        """The component's whole configuration."""

    @abstractmethod
    async def watch_configuration(self, handler: ConfigHandler) -> None:
        """Call ``handler`` with the new configuration whenever it changes."""

    @abstractmethod
    async def update_state(self, state: ComponentState) -> None:
        """Report health to the nucleus (Greengrass UpdateState)."""

    @abstractmethod
    async def get_secret(self, secret_id: str) -> bytes:
        """A secret's value (Greengrass SecretManager GetSecretValue)."""

    def on_connection_change(self, handler: ConnectionHandler) -> None:
        """Register a callback for uplink connect/disconnect (optional to support)."""
        self._connection_handlers().append(handler)

    def _connection_handlers(self) -> list[ConnectionHandler]:
        handlers: list[ConnectionHandler] | None = getattr(self, "_conn_handlers", None)
        if handlers is None:
            handlers = []
            self._conn_handlers = handlers
        return handlers

    def _notify_connection(self, connected: bool) -> None:
        for handler in list(self._connection_handlers()):
            handler(connected)
