"""Peers for the embedded broker tests: the real awscrt MQTT 5 client and a raw socket.

awscrt calls back on its own threads, so every callback hops onto the test's event
loop with ``call_soon_threadsafe``; the broker runs on that loop and must never be
blocked by a waiting test.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from typing import Any

from awscrt import io, mqtt5

from wardlink.devtools.mqtt_codec import encode_utf8, encode_varint, packet

WAIT_S = 10.0


class CrtClient:
    """awscrt.mqtt5.Client with its callbacks turned into asyncio queues."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        tls_ctx: io.ClientTlsContext | None = None,
        keep_alive_s: int = 60,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.received: asyncio.Queue[mqtt5.PublishPacket] = asyncio.Queue()
        options = mqtt5.ClientOptions(
            host_name=host,
            port=port,
            tls_ctx=tls_ctx,
            connect_options=mqtt5.ConnectPacket(
                client_id=client_id, keep_alive_interval_sec=keep_alive_s
            ),
            min_reconnect_delay_ms=5_000,  # no jitter: a reconnect must not race a test
            retry_jitter_mode=mqtt5.ExponentialBackoffJitterMode.NONE,
            max_reconnect_delay_ms=10_000,
            ack_timeout_sec=int(WAIT_S),
            on_publish_callback_fn=lambda data: self._push(self.received, data.publish_packet),
            on_lifecycle_event_connection_success_fn=lambda d: self._event("success", d),
            on_lifecycle_event_connection_failure_fn=lambda d: self._event("failure", d),
            on_lifecycle_event_disconnection_fn=lambda d: self._event("disconnect", d),
            on_lifecycle_event_stopped_fn=lambda d: self._event("stopped", d),
        )
        self.client = mqtt5.Client(options)
        self.running = False

    def _push(self, queue: asyncio.Queue[Any], item: Any) -> None:
        self.loop.call_soon_threadsafe(queue.put_nowait, item)

    def _event(self, kind: str, data: Any) -> None:
        self._push(self.events, (kind, data))

    async def next_event(self, *kinds: str) -> tuple[str, Any]:
        while True:
            kind, data = await asyncio.wait_for(self.events.get(), WAIT_S)
            if kind in kinds:
                return kind, data

    async def start(self) -> tuple[str, Any]:
        """Start and return the first ('success'|'failure', data) event."""
        self.client.start()
        self.running = True
        return await self.next_event("success", "failure")

    async def connect(self) -> mqtt5.LifecycleConnectSuccessData:
        kind, data = await self.start()
        assert kind == "success", data
        return data

    async def publish(
        self, topic: str, payload: bytes, qos: int = 1
    ) -> mqtt5.PublishCompletionData:
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
        future = self.client.publish(packet)
        return await asyncio.wait_for(asyncio.wrap_future(future), WAIT_S)

    async def subscribe(self, topic_filter: str, qos: int = 1) -> mqtt5.SubackPacket:
        packet = mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=topic_filter, qos=mqtt5.QoS(qos))]
        )
        future = self.client.subscribe(packet)
        return await asyncio.wait_for(asyncio.wrap_future(future), WAIT_S)

    async def next_message(self) -> mqtt5.PublishPacket:
        return await asyncio.wait_for(self.received.get(), WAIT_S)

    async def stop(self) -> None:
        if self.running:
            self.running = False
            self.client.stop()
            await self.next_event("stopped")


def connect_packet(
    client_id: str = "raw", version: int = 5, keep_alive: int = 60, properties: bytes = b""
) -> bytes:
    """A minimal CONNECT (clean start, no will, no credentials); ``properties`` unprefixed."""
    body = encode_utf8("MQTT") + bytes([version, 0x02]) + struct.pack("!H", keep_alive)
    if version == 5:
        body += encode_varint(len(properties)) + properties
    return packet(0x10, body + encode_utf8(client_id))


def publish_packet(
    topic: str,
    payload: bytes,
    qos: int = 0,
    packet_id: int = 1,
    flags: int = 0,
    properties: bytes | None = b"",
) -> bytes:
    """A PUBLISH; ``properties=None`` leaves the property block out (MQTT 3.1.1)."""
    body = encode_utf8(topic) + (struct.pack("!H", packet_id) if qos else b"")
    if properties is not None:
        body += encode_varint(len(properties)) + properties
    header = bytes([0x30 | qos << 1 | flags]) + encode_varint(len(body) + len(payload))
    return header + body + payload


class RawClient:
    """Bytes in, bytes out: for what a well-behaved client library would never send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, **kwargs: Any) -> RawClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, **kwargs), WAIT_S
        )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_packet(self) -> tuple[int, bytes]:
        """Returns (first byte, body); raises IncompleteReadError on EOF."""

        async def read() -> tuple[int, bytes]:
            first = (await self.reader.readexactly(1))[0]
            length, shift = 0, 0
            while True:
                byte = (await self.reader.readexactly(1))[0]
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            return first, await self.reader.readexactly(length)

        return await asyncio.wait_for(read(), WAIT_S)

    async def read_eof(self) -> bytes:
        """Everything until the broker closes the connection."""
        return await asyncio.wait_for(self.reader.read(), WAIT_S)

    async def connect(self, client_id: str = "raw", version: int = 5, **kwargs: Any) -> bytes:
        """Send CONNECT and return the CONNACK body, asserting success."""
        await self.send(connect_packet(client_id, version, **kwargs))
        first, body = await self.read_packet()
        assert first == 0x20, (first, body)
        assert body[1] == 0, body
        return body

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def subscribe_packet(packet_id: int, entries: list[tuple[str, int]], version: int = 5) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if version == 5 else b"")
    for topic_filter, options in entries:
        body += encode_utf8(topic_filter) + bytes([options])
    return packet(0x82, body)


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll a condition that becomes true once the broker has processed a close."""
    async with asyncio.timeout(WAIT_S):
        while not predicate():  # noqa: ASYNC110 - the broker has no event for this
            await asyncio.sleep(0.01)


async def expect_disconnect(client: RawClient) -> int:
    """Read up to the broker's DISCONNECT, return its reason code, and expect EOF after it."""
    while True:
        first, body = await client.read_packet()
        if first == 0xE0:
            assert await client.read_eof() == b""
            return body[0]
