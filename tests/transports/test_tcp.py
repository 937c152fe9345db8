"""TCP transports over loopback: client with reconnect, MLLP listener, listen-port transport.

The peers are real: asyncio servers and the HL7 bedside-monitor simulator talking
MLLP; every port is chosen by the OS (port 0).
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.support.waiting import eventually
from wardlink.codecs._mllp import wrap
from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError
from wardlink.codecs.hl7_mllp import Hl7MllpTcpCodec
from wardlink.sim.hl7 import Hl7Simulator
from wardlink.sim.registry import SimOptions
from wardlink.transports.base import Backoff
from wardlink.transports.tcp import (
    TcpClientTransport,
    TcpListener,
    TcpListenerTransport,
    TcpPeer,
    parse_networks,
    serve_stream_codec,
)

FAST = Backoff(initial=0.02, maximum=0.2)
TIMEOUT = 10.0


class EchoDevice:
    """A device that is a TCP server: greets each connection, records what it gets."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(f"hello {self.connections}\n".encode())
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(1024):
                self.received += data

    async def drop_connections(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def stop(self) -> None:
        await self.drop_connections()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_client_reads_writes_and_reconnects_after_drops_and_restarts() -> None:
    device = EchoDevice()
    port = await device.start()
    client = TcpClientTransport("127.0.0.1", port, backoff=FAST)
    received = bytearray()

    async def read() -> None:
        async for chunk in client.chunks():
            assert chunk.source == f"127.0.0.1:{port}"
            received.extend(chunk.data)

    task = asyncio.create_task(read())
    try:
        await eventually(lambda: b"hello 1" in received)
        await client.write(b"ACK")
        await eventually(lambda: b"ACK" in device.received)

        await device.drop_connections()  # the device hangs up
        await eventually(lambda: b"hello 2" in received)
        assert client.reconnects >= 1

        await device.stop()  # the device goes away entirely, then comes back
        await eventually(lambda: not client.connected)
        device = EchoDevice()
        await device.start(port)
        await eventually(lambda: b"hello 1" in received[received.index(b"hello 2") :])
        await client.write(b"again")
        await eventually(lambda: b"again" in device.received)
    finally:
        await client.close()
        await asyncio.wait_for(task, TIMEOUT)
        await device.stop()


async def test_client_close_while_the_device_is_unreachable_returns() -> None:
    listener = TcpListener("127.0.0.1", 0)
    _, port = await listener.start()
    await listener.close()  # nothing listens on this port now
    client = TcpClientTransport("127.0.0.1", port, backoff=Backoff(initial=1, maximum=5))
    task = asyncio.create_task(anext(client.chunks(), None))
    await asyncio.sleep(0.1)
    await client.close()
    assert await asyncio.wait_for(task, 2.0) is None


class Collected:
    def __init__(self) -> None:
        self.events: list[tuple[str, CodecEvent]] = []

    async def __call__(self, peer: TcpPeer, event: CodecEvent) -> None:
        self.events.append((peer.name, event))

    def decoded(self) -> list[Decoded]:
        return [e for _, e in self.events if isinstance(e, Decoded)]


async def test_mllp_listener_decodes_and_acks_the_simulated_monitor() -> None:
    listener = TcpListener("127.0.0.1", 0)
    host, port = await listener.start()
    collected = Collected()
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_stream_codec(
            listener,
            lambda peer: Hl7MllpTcpCodec(DecodeContext(device_id="monitor-1")),
            collected,
            stop,
        )
    )
    sim = Hl7Simulator(SimOptions(connect=(host, port), seed=7, settings={"ack_timeout": "5"}))
    try:
        assert "sending to" in await sim.start()
        for _ in range(3):
            await sim.send_one()
        assert sim.delivered == 3
        assert sim.acks == ["AA", "AA", "AA"]
        decoded = collected.decoded()
        assert len(decoded) == 3
        names = {o.metric.mdc_name for o in decoded[0].observations}
        assert {"MDC_PULS_OXIM_SAT_O2", "MDC_PRESS_BLD_NONINV_SYS", "MDC_TEMP_BODY"} <= names
        patient = decoded[0].patient
        assert patient is not None
        for canary in (sim.patient.mrn, sim.patient.ssn, sim.patient.account_number):
            assert canary in patient.values()
        assert sim.patient.next_of_kin.phone in patient.values()
    finally:
        await sim.close()
        stop.set()
        await asyncio.wait_for(server, TIMEOUT)
        await listener.close()


async def test_each_connection_has_its_own_codec() -> None:
    listener = TcpListener("127.0.0.1", 0)
    host, port = await listener.start()
    collected = Collected()
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_stream_codec(
            listener, lambda peer: Hl7MllpTcpCodec(DecodeContext(device_id="m")), collected, stop
        )
    )
    message = wrap(Hl7Simulator(SimOptions(seed=1)).next_message().encode())
    try:
        r1, w1 = await asyncio.open_connection(host, port)
        r2, w2 = await asyncio.open_connection(host, port)
        w1.write(message[:50])  # the first device is mid-message ...
        await w1.drain()
        w2.write(message)  # ... when the second sends a whole one
        await w2.drain()
        ack2 = await asyncio.wait_for(r2.readuntil(b"\x1c\r"), TIMEOUT)
        assert b"MSA|AA|" in ack2
        w1.write(message[50:])
        await w1.drain()
        ack1 = await asyncio.wait_for(r1.readuntil(b"\x1c\r"), TIMEOUT)
        assert b"MSA|AA|" in ack1
        assert len(collected.decoded()) == 2
        assert not [e for _, e in collected.events if isinstance(e, FrameError)]
        w1.close()
        w2.close()
    finally:
        stop.set()
        await asyncio.wait_for(server, TIMEOUT)
        await listener.close()


async def test_listener_refuses_peers_outside_the_allow_list() -> None:
    listener = TcpListener("127.0.0.1", 0, allowed_peers=parse_networks(["10.20.0.0/16"]))
    host, port = await listener.start()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        assert await asyncio.wait_for(reader.read(10), TIMEOUT) == b""  # closed on us
        writer.close()
        assert listener.rejected == 1
        assert not listener.peers
    finally:
        await listener.close()
    allowed = TcpListener("127.0.0.1", 0, allowed_peers=parse_networks(["127.0.0.1"]))
    host, port = await allowed.start()
    try:
        _reader, writer = await asyncio.open_connection(host, port)
        peer = await asyncio.wait_for(allowed.accept(), TIMEOUT)
        assert peer.name.startswith("127.0.0.1:")
        writer.close()
    finally:
        await allowed.close()


async def test_listen_port_as_one_transport_newest_connection_wins() -> None:
    transport = TcpListenerTransport("127.0.0.1", 0, backoff=FAST)
    codec = Hl7MllpTcpCodec(DecodeContext(device_id="m"))
    decoded: list[Decoded] = []

    async def worker() -> None:  # what a one-codec-per-device pipeline does
        async for chunk in transport.chunks():
            for event in codec.feed(chunk.data):
                if isinstance(event, Decoded):
                    decoded.append(event)
                elif not isinstance(event, FrameError):
                    await transport.write(event.data)

    task = asyncio.create_task(worker())
    try:
        await asyncio.wait_for(transport.started.wait(), TIMEOUT)
        host, port = transport.address
        assert not transport.connected
        message = wrap(Hl7Simulator(SimOptions(seed=3)).next_message().encode())
        old_reader, old_writer = await asyncio.open_connection(host, port)
        old_writer.write(message)
        await old_writer.drain()
        assert b"MSA|AA|" in await asyncio.wait_for(old_reader.readuntil(b"\x1c\r"), TIMEOUT)
        assert transport.connected
        # the device reconnects; its old socket lingers half-open
        new_reader, new_writer = await asyncio.open_connection(host, port)
        assert await asyncio.wait_for(old_reader.read(10), TIMEOUT) == b""  # closed by the gateway
        new_writer.write(message)
        await new_writer.drain()
        assert b"MSA|AA|" in await asyncio.wait_for(new_reader.readuntil(b"\x1c\r"), TIMEOUT)
        assert len(decoded) == 2
        new_writer.close()
        old_writer.close()
        await eventually(lambda: not transport.connected)
    finally:
        await transport.close()
        await asyncio.wait_for(task, TIMEOUT)


async def test_gateway_as_client_of_a_listening_monitor() -> None:
    sim = Hl7Simulator(SimOptions(port=0, seed=5))
    where = await sim.start()
    assert "listening on 127.0.0.1:" in where
    assert sim.listen_port
    client = TcpClientTransport("127.0.0.1", sim.listen_port, backoff=FAST)
    codec = Hl7MllpTcpCodec(DecodeContext(device_id="m"))
    decoded: list[Decoded] = []

    async def worker() -> None:
        async for chunk in client.chunks():
            for event in codec.feed(chunk.data):
                if isinstance(event, Decoded):
                    decoded.append(event)
                elif not isinstance(event, FrameError):
                    await client.write(event.data)

    task = asyncio.create_task(worker())
    try:
        await eventually(lambda: bool(sim._peers))
        await sim.send_one()
        assert sim.delivered == 1
        assert decoded and decoded[0].observations
    finally:
        await client.close()
        await asyncio.wait_for(task, TIMEOUT)
        await sim.close()


def test_parse_networks_accepts_addresses_and_networks() -> None:
    networks = parse_networks(["10.1.0.0/16", "192.168.1.7", "::1"])
    assert [str(n) for n in networks] == ["10.1.0.0/16", "192.168.1.7/32", "::1/128"]
    with pytest.raises(ValueError):
        parse_networks(["not-an-address"])
