"""TCP backend: HL7/MLLP and other stream protocols on the LAN.

Two roles, because hospital devices come in both kinds:

* ``TcpClientTransport`` - the gateway connects to the device (or to its
  terminal server) and reconnects with backoff whenever the connection drops.
* ``TcpListener`` - the gateway is the server devices connect to; for HL7 this
  is the usual arrangement: a monitor is configured with the "MLLP listener"
  address of its receiving system. Each accepted connection is a ``TcpPeer``
  (itself a ``Transport``) with its own codec: ``serve_stream_codec`` runs that
  loop and writes the codec's replies (ACKs) back on the same connection.
  ``TcpListenerTransport`` wraps a listen port as one ``Transport`` for pipelines
  that drive one codec per device: the newest connection wins (a device that
  reconnects replaces its half-dead old socket) and replies go to the connection
  that sent the data.

A listener only accepts peers from ``allowed_peers`` when that list is given:
on a hospital LAN anything can connect to an open port, and a gateway that
accepts data from any address would let a stranger inject readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Final

from wardlink.codecs.base import CodecEvent, Reply, StreamCodec
from wardlink.transports.base import (
    Backoff,
    Chunk,
    Transport,
    TransportClosed,
    TransportError,
    sleep_backoff,
)

log = logging.getLogger(__name__)

READ_SIZE: Final = 65536
CONNECT_TIMEOUT_S: Final = 10.0

PeerNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Sequence[str]) -> tuple[PeerNetwork, ...]:
    """``["10.1.2.0/24", "192.168.5.7"]`` -> networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return str(peer)


def _peer_allowed(writer: asyncio.StreamWriter, allowed: Sequence[PeerNetwork]) -> bool:
    if not allowed:
        return True
    peer = writer.get_extra_info("peername")
    try:
        address = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ConnectionError, asyncio.CancelledError):
        await asyncio.wait_for(writer.wait_closed(), timeout=2.0)


async def _write(writer: asyncio.StreamWriter | None, data: bytes, what: str) -> None:
    if writer is None or writer.is_closing():
        raise TransportError(f"{what} is not connected")
    try:
        writer.write(data)
        await writer.drain()
    except (OSError, ConnectionError) as exc:
        raise TransportError(f"{what}: write failed: {exc}") from exc


class TcpClientTransport(Transport):
    """The gateway as TCP client of a device, reconnecting with backoff."""

    def __init__(
        self,
        host: str,
        port: int,
        backoff: Backoff | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.host = host
        self.port = port
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.reconnects = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closing = asyncio.Event()

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def _connect(self) -> bool:
        attempt = 0
        while not self._closing.is_set():
            try:
                self._reader, self._writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.connect_timeout
                )
                log.info("tcp connected", extra={"peer": self.name})
                return True
            except (OSError, TimeoutError) as exc:
                log.warning(
                    "tcp connect failed, retrying", extra={"peer": self.name, "error": str(exc)}
                )
            if not await sleep_backoff(self.backoff, attempt, self._closing):
                return False
            attempt += 1
        return False

    async def chunks(self) -> AsyncIterator[Chunk]:
        while not self._closing.is_set():
            if not await self._connect():
                return
            assert self._reader is not None
            try:
                while not self._closing.is_set():
                    data = await self._reader.read(READ_SIZE)
                    if not data:
                        raise ConnectionResetError("peer closed the connection")
                    yield Chunk(data, source=self.name)
            except (OSError, ConnectionError) as exc:
                if not self._closing.is_set():
                    log.warning(
                        "tcp link lost, reconnecting", extra={"peer": self.name, "error": str(exc)}
                    )
                    self.reconnects += 1
            finally:
                await self._drop()

    async def write(self, data: bytes, target: str = "") -> None:
        await _write(self._writer, data, f"tcp {self.name}")

    async def _drop(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            await _close_writer(writer)

    async def close(self) -> None:
        self._closing.set()
        await self._drop()


class TcpPeer(Transport):
    """One accepted device connection. It ends when the device hangs up: the device,
    not the gateway, reconnects."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.name = _peer_name(writer)
        self._closed = False

    @property
    def connected(self) -> bool:
        return not self._closed and not self.writer.is_closing()

    async def chunks(self) -> AsyncIterator[Chunk]:
        try:
            while not self._closed:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    return
                yield Chunk(data, source=self.name)
        except (OSError, ConnectionError) as exc:
            log.info("tcp peer lost", extra={"peer": self.name, "error": str(exc)})
        finally:
            await self.close()

    async def write(self, data: bytes, target: str = "") -> None:
        await _write(None if self._closed else self.writer, data, f"tcp peer {self.name}")

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await _close_writer(self.writer)


class TcpListener:
    """A listening socket that hands out one ``TcpPeer`` per accepted connection."""

    def __init__(
        self,
        host: str,
        port: int,
        allowed_peers: Sequence[PeerNetwork] = (),
        max_connections: int = 16,
    ) -> None:
        self.host = host
        self.port = port
        self.allowed_peers = tuple(allowed_peers)
        self.max_connections = max_connections
        self.rejected = 0
        self.peers: set[TcpPeer] = set()
        self._server: asyncio.Server | None = None
        self._accepted: asyncio.Queue[TcpPeer | None] = asyncio.Queue()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None or not self._server.sockets:
            raise TransportError("listener is not started")
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def start(self) -> tuple[str, int]:
        """Bind and listen; port 0 picks a free port. Returns the bound address."""
        try:
            self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        except OSError as exc:
            raise TransportError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        host, port = self.address
        log.info("tcp listening", extra={"address": f"{host}:{port}"})
        return self.address

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        name = _peer_name(writer)
        if not _peer_allowed(writer, self.allowed_peers):
            self.rejected += 1
            log.warning("tcp connection refused: peer not allowed", extra={"peer": name})
            await _close_writer(writer)
            return
        if len(self.peers) >= self.max_connections:
            self.rejected += 1
            log.warning("tcp connection refused: too many connections", extra={"peer": name})
            await _close_writer(writer)
            return
        peer = TcpPeer(reader, writer)
        self.peers.add(peer)
        await self._accepted.put(peer)

    def forget(self, peer: TcpPeer) -> None:
        self.peers.discard(peer)

    async def accept(self) -> TcpPeer:
        """The next device connection; raises ``TransportClosed`` once closed."""
        peer = await self._accepted.get()
        if peer is None:
            await self._accepted.put(None)  # wake other waiters too
            raise TransportClosed("listener closed")
        return peer

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for peer in list(self.peers):
            await peer.close()
        self.peers.clear()
        await self._accepted.put(None)


EventHandler = Callable[[TcpPeer, CodecEvent], Awaitable[None]]


async def pump_stream_codec(peer: TcpPeer, codec: StreamCodec, on_event: EventHandler) -> None:
    """Feed one connection's bytes to its codec; write replies back, pass the rest on.

    Events are handled in the order the codec produced them, so data reaches
    ``on_event`` before the acknowledgement that follows it is written.
    """
    async for chunk in peer.chunks():
        for event in codec.feed(chunk.data):
            if isinstance(event, Reply):
                try:
                    await peer.write(event.data)
                except TransportError as exc:
                    log.warning("reply not delivered", extra={"peer": peer.name, "error": str(exc)})
            else:
                await on_event(peer, event)


async def serve_stream_codec(
    listener: TcpListener,
    make_codec: Callable[[TcpPeer], StreamCodec],
    on_event: EventHandler,
    stop: asyncio.Event,
) -> None:
    """Accept device connections until ``stop``; each gets its own codec.

    ``make_codec`` sees the peer (its address), e.g. to pick the device identity.
    A failing connection never affects the others or the listener.
    """
    tasks: set[asyncio.Task[None]] = set()

    async def handle(peer: TcpPeer) -> None:
        try:
            await pump_stream_codec(peer, make_codec(peer), on_event)
        except Exception:  # a bug in one connection's handling must not stop the listener
            log.exception("tcp connection handler failed", extra={"peer": peer.name})
        finally:
            listener.forget(peer)
            await peer.close()

    stopper = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            accepting = asyncio.create_task(listener.accept())
            done, _ = await asyncio.wait({accepting, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if accepting not in done:
                accepting.cancel()
                with contextlib.suppress(asyncio.CancelledError, TransportClosed):
                    await accepting
                break
            try:
                peer = accepting.result()
            except TransportClosed:
                break
            task = asyncio.create_task(handle(peer))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        stopper.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)


class TcpListenerTransport(Transport):
    """A listen port used as one device link (one codec per device pipelines).

    The newest connection wins: when the device reconnects, the previous socket
    (often half-open after a network blip) is closed. ``write`` answers the
    connection the last chunk came from, or ``target`` when given.
    """

    def __init__(
        self,
        host: str,
        port: int,
        allowed_peers: Sequence[PeerNetwork] = (),
        backoff: Backoff | None = None,
    ) -> None:
        self.listener = TcpListener(host, port, allowed_peers, max_connections=4)
        self.backoff = backoff or Backoff()
        self._current: TcpPeer | None = None
        self._queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=256)
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.started = asyncio.Event()

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.address

    @property
    def connected(self) -> bool:
        return self._current is not None and self._current.connected

    async def _start(self) -> bool:
        attempt = 0
        while not self._closing.is_set():
            try:
                await self.listener.start()
                self.started.set()
                return True
            except TransportError as exc:
                log.warning("tcp listen failed, retrying", extra={"error": str(exc)})
            if not await sleep_backoff(self.backoff, attempt, self._closing):
                return False
            attempt += 1
        return False

    async def _accept_loop(self) -> None:
        while True:
            try:
                peer = await self.listener.accept()
            except TransportClosed:
                return
            previous, self._current = self._current, peer
            if previous is not None:
                await previous.close()
            task = asyncio.create_task(self._read_peer(peer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _read_peer(self, peer: TcpPeer) -> None:
        try:
            async for chunk in peer.chunks():
                await self._queue.put(chunk)
        finally:
            self.listener.forget(peer)

    async def chunks(self) -> AsyncIterator[Chunk]:
        if not await self._start():
            return
        acceptor = asyncio.create_task(self._accept_loop())
        self._tasks.add(acceptor)
        closing = asyncio.create_task(self._closing.wait())
        try:
            while not self._closing.is_set():
                getter = asyncio.create_task(self._queue.get())
                done, _ = await asyncio.wait({getter, closing}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return
                chunk = getter.result()
                if chunk is None:
                    return
                yield chunk
        finally:
            closing.cancel()
            await self.close()

    async def write(self, data: bytes, target: str = "") -> None:
        peer = self._current
        if target:
            peer = next((p for p in self.listener.peers if p.name == target), None)
        if peer is None:
            raise TransportError("no device is connected to the listener")
        await peer.write(data)

    async def close(self) -> None:
        if self._closing.is_set() and not self._tasks:
            return
        self._closing.set()
        await self.listener.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
