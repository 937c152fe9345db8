"""Greengrass IPC adapter: the nucleus provides the uplink, local bus, config and secrets.

Built on awsiotsdk's ``GreengrassCoreIPCClientV2``; the SDK finds the nucleus
socket and the component's SVCUID token from the environment Greengrass sets
(``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT``, ``SVCUID``), which is
also what ``wardlink gg run`` sets for the local nucleus emulator.

``PublishToIoTCore`` completes once the nucleus has handed the message to its MQTT
client with QoS 1, i.e. after the PUBACK from IoT Core (or, when the nucleus's own
spooler is enabled, once the nucleus accepted it); only then do we delete from our
spool. The SDK calls are blocking/Future based; each is bridged into asyncio.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from wardlink.bus.port import (
    BusError,
    ComponentState,
    ConfigHandler,
    EdgeBus,
    LocalHandler,
    LocalMessage,
    NotConnected,
    Unauthorized,
)

log = logging.getLogger(__name__)


def _translate(exc: BaseException) -> BusError:
    name = type(exc).__name__
    if name == "UnauthorizedError":
        return Unauthorized(str(exc) or name)
    return NotConnected(f"{name}: {exc}")


async def _call(handler: LocalHandler, message: LocalMessage) -> None:
    await handler(message)


class GreengrassIpcBus(EdgeBus):
    """EdgeBus through the Greengrass nucleus."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._operations: list[Any] = []
        self._connected = False

    @property
    def ipc_client(self) -> Any | None:
        """The underlying ``GreengrassCoreIPCClientV2`` (for synchronous helpers)."""
        return self._client

    @property
    def uplink_connected(self) -> bool:
        # The nucleus owns the IoT Core connection and spools on its own; from here we
        # only learn about failures when a publish fails.
        return self._connected

    async def start(self) -> None:
        from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

        self._loop = asyncio.get_running_loop()
        if self._client is None:
            self._client = await asyncio.to_thread(GreengrassCoreIPCClientV2)
        self._connected = True

    async def close(self) -> None:
        for operation in self._operations:
            try:
                operation.close()
            except Exception:  # noqa: S110 - closing a stream that is already gone
                pass
        self._operations.clear()
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None

    def _require(self) -> Any:
        if self._client is None:
            raise NotConnected("IPC client not started")
        return self._client

    async def publish_to_iot_core(self, topic: str, payload: bytes, timeout: float = 30.0) -> None:
        client = self._require()
        future = client.publish_to_iot_core_async(topic_name=topic, qos="1", payload=payload)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), timeout=timeout)
        except TimeoutError as exc:
            self._mark(False)
            raise NotConnected(f"PublishToIoTCore not acknowledged within {timeout} s") from exc
        except Exception as exc:
            translated = _translate(exc)
            if isinstance(translated, NotConnected):
                self._mark(False)
            raise translated from exc
        self._mark(True)

    def _mark(self, connected: bool) -> None:
        if connected != self._connected:
            self._connected = connected
            self._notify_connection(connected)

    async def publish_local(self, topic: str, payload: bytes) -> None:
        from awsiot.greengrasscoreipc.model import BinaryMessage, PublishMessage

        client = self._require()
        message = PublishMessage(binary_message=BinaryMessage(message=payload))
        try:
            await asyncio.wrap_future(
                client.publish_to_topic_async(topic=topic, publish_message=message)
            )
        except Exception as exc:
            raise _translate(exc) from exc

    async def subscribe_local(self, topic: str, handler: LocalHandler) -> None:
        client = self._require()
        loop = asyncio.get_running_loop()

        def on_event(event: Any) -> None:
            binary = getattr(event, "binary_message", None)
            json_msg = getattr(event, "json_message", None)
            if binary is not None:
                payload = bytes(binary.message or b"")
                source = getattr(getattr(binary, "context", None), "topic", None) or topic
            elif json_msg is not None:
                payload = json.dumps(json_msg.message).encode()
                source = getattr(getattr(json_msg, "context", None), "topic", None) or topic
            else:
                return
            asyncio.run_coroutine_threadsafe(_call(handler, LocalMessage(source, payload)), loop)

        def on_error(exc: Exception) -> bool:
            log.error("local subscription stream error", extra={"topic": topic, "error": str(exc)})
            return False

        try:
            _, operation = await asyncio.to_thread(
                client.subscribe_to_topic,
                topic=topic,
                on_stream_event=on_event,
                on_stream_error=on_error,
            )
        except Exception as exc:
            raise _translate(exc) from exc
        self._operations.append(operation)

    async def get_configuration(self) -> dict[str, Any]:
        client = self._require()
        try:
            response = await asyncio.wrap_future(client.get_configuration_async(key_path=[]))
        except Exception as exc:
            raise _translate(exc) from exc
        return dict(response.value or {})

    async def watch_configuration(self, handler: ConfigHandler) -> None:
        client = self._require()
        loop = asyncio.get_running_loop()

        def on_event(_event: Any) -> None:
            async def refresh() -> None:
                await handler(await self.get_configuration())

            asyncio.run_coroutine_threadsafe(refresh(), loop)

        _, operation = await asyncio.to_thread(
            client.subscribe_to_configuration_update, key_path=[], on_stream_event=on_event
        )
        self._operations.append(operation)

    async def update_state(self, state: ComponentState) -> None:
        client = self._require()
        try:
            await asyncio.wrap_future(client.update_state_async(state=state.value))
        except Exception as exc:
            log.warning("UpdateState failed", extra={"error": str(exc)})

    async def get_secret(self, secret_id: str) -> bytes:
        client = self._require()
        try:
            response = await asyncio.wrap_future(client.get_secret_value_async(secret_id=secret_id))
        except Exception as exc:
            raise _translate(exc) from exc
        value = response.secret_value
        if value.secret_binary is not None:
            return bytes(value.secret_binary)
        return str(value.secret_string or "").encode()
