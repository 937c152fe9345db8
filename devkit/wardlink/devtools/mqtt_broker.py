"""An embedded MQTT 5 (and 3.1.1) broker that stands in for AWS IoT Core.

``wardlink demo`` must run a whole site with nothing else installed, so the uplink's
awscrt MQTT 5 client talks to this broker instead of IoT Core. It behaves like IoT
Core where the gateway could notice the difference, and is simpler elsewhere:

* QoS 0 and 1 only (CONNACK Maximum QoS 1): a QoS 2 PUBLISH gets DISCONNECT 0x9B;
  subscriptions are granted min(requested, 1).
* No retained messages (Retain Available 0): a retained PUBLISH gets DISCONNECT 0x9A.
* Bad topic names (over 256 bytes, over 7 slashes, wildcards): a QoS 1 PUBLISH from
  an MQTT 5 client gets PUBACK 0x90 and the connection stays up; a QoS 0 (or MQTT
  3.1.1) one has no ack to carry a reason code, so the connection is closed
  (DISCONNECT 0x90 on MQTT 5).
* Payloads over 128 KiB close the connection with DISCONNECT 0x95 (Packet too large),
  whatever the QoS, as IoT Core does; 0x95 is not a valid PUBACK reason code. So do
  packets over the advertised Maximum Packet Size (146 KiB, like IoT Core).
* No session persistence (Session Present is always 0), wills are parsed but never
  sent, and topic aliases, subscription identifiers, shared subscriptions and AUTH
  are refused with their MQTT 5 reason codes.
* Malformed input closes that one connection; it never reaches the broker itself.

Every accepted PUBLISH is counted and offered to in-process listeners, a tap queue
and an optional JSON-lines recording, so the demo can check what "the cloud" got.
Each subscriber has a bounded outbox: QoS 0 is dropped and a QoS 1 overflow
disconnects the slow consumer, so one stuck client cannot grow memory without bound.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import signal
import ssl
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TextIO

from wardlink.bus.topics import topic_matches
from wardlink.devtools.mqtt_codec import (
    MQTT_5,
    MQTT_311,
    PINGRESP,
    PacketType,
    Prop,
    ProtocolViolation,
    Publish,
    Reason,
    UnsupportedVersion,
    decode_connect,
    decode_puback,
    decode_publish,
    decode_subscribe,
    decode_unsubscribe,
    encode_connack,
    encode_disconnect,
    encode_puback,
    encode_publish_header,
    encode_suback,
    encode_unsuback,
    read_packet,
)
from wardlink.devtools.mqtt_topics import topic_filter_problem, topic_name_problem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    """IoT Core's quotas by default; the outbox bounds are this broker's own."""

    max_payload_bytes: int = 128 * 1024
    max_packet_bytes: int = 146 * 1024
    max_topic_bytes: int = 256
    max_topic_slashes: int = 7
    receive_maximum: int = 100
    max_keep_alive_s: int = 1200
    connect_timeout_s: float = 10.0
    outbox_max_messages: int = 1000
    outbox_max_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One well-formed PUBLISH, as seen by listeners and the tap.

    ``rejected`` is None for accepted messages; listeners registered with
    ``include_rejected=True`` also get refused ones (bad topic, payload too large),
    with the reason here, because those bytes left the gateway all the same.
    """

    topic: str
    payload: bytes
    qos: int
    client_id: str
    rejected: str | None = None


@dataclass(slots=True)
class BrokerStats:
    """Counters since start; ``messages``/``bytes`` count accepted PUBLISH payloads."""

    messages: int = 0
    bytes: int = 0
    rejected: int = 0
    delivered: int = 0
    dropped: int = 0
    slow_consumers_disconnected: int = 0
    tap_dropped: int = 0
    connections: int = 0


Listener = Callable[[ReceivedMessage], None]


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    payload: bytes
    qos: int
    raw_props: bytes


class _Connection:
    """One client connection: a reader loop plus a pump task draining its outbox."""

    def __init__(
        self, broker: EmbeddedBroker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._broker = broker
        self._limits = broker.limits
        self._reader = reader
        self._writer = writer
        self.client_id = ""
        self.version = MQTT_5
        self.connected = False
        self.subscriptions: dict[str, tuple[int, bool]] = {}  # filter -> (qos, no_local)
        self._keep_alive = 0
        self._receive_maximum = 65535
        self._max_packet = 268_435_460
        self._outbox: deque[_Outgoing] = deque()
        self._outbox_bytes = 0
        self._wakeup = asyncio.Event()
        self._inflight: set[int] = set()
        self._last_packet_id = 0
        self._dropping = False
        self._closing = False

    async def serve(self) -> None:
        peer = self._writer.get_extra_info("peername")
        pump: asyncio.Task[None] | None = None
        try:
            await self._handshake()
            pump = asyncio.create_task(self._pump())
            await self._read_loop()
        except ProtocolViolation as exc:
            log.info("closing MQTT client %s: %s", self.client_id or peer, exc)
            self.close(exc.reason, str(exc))
        except TimeoutError:
            log.info("closing MQTT client %s: timed out", self.client_id or peer)
            self.close(Reason.KEEP_ALIVE_TIMEOUT, "no packet within 1.5 x keep alive")
        except (asyncio.IncompleteReadError, OSError) as exc:
            log.debug("MQTT client %s went away: %r", self.client_id or peer, exc)
        except Exception:
            log.exception("MQTT client %s failed; closing it", self.client_id or peer)
        finally:
            self._closing = True
            if pump is not None:
                pump.cancel()
            self._broker._forget(self)
            self._writer.close()

    def close(self, reason: Reason, detail: str = "", *, abort: bool = False) -> None:
        """Say why (MQTT 5 only, once connected) and close; ``abort`` drops unsent data."""
        if self._closing:
            return
        self._closing = True
        if self.connected and self.version == MQTT_5 and not self._writer.is_closing():
            self._writer.write(encode_disconnect(reason, detail))
        if abort:
            self._writer.transport.abort()
        else:
            self._writer.close()

    async def _handshake(self) -> None:
        async with asyncio.timeout(self._limits.connect_timeout_s):
            ptype, _, body = await read_packet(self._reader, self._limits.max_packet_bytes)
        if ptype != PacketType.CONNECT:
            raise ProtocolViolation(Reason.PROTOCOL_ERROR, "first packet is not CONNECT")
        try:
            connect = decode_connect(body)
        except UnsupportedVersion:
            self._writer.write(encode_connack(MQTT_311, 0x01, {}))  # 3.1.1 "bad version"
            raise
        except ProtocolViolation as exc:
            if exc.reason == Reason.BAD_AUTHENTICATION_METHOD:
                self._writer.write(encode_connack(MQTT_5, exc.reason, {}))
            raise
        self.version, self._keep_alive = connect.version, connect.keep_alive
        self.client_id = connect.client_id or f"wardlink-auto-{uuid.uuid4().hex[:12]}"
        props: dict[Prop, int | str] = {
            Prop.RECEIVE_MAXIMUM: self._limits.receive_maximum,
            Prop.MAXIMUM_QOS: 1,
            Prop.RETAIN_AVAILABLE: 0,
            Prop.MAXIMUM_PACKET_SIZE: self._limits.max_packet_bytes,
            Prop.TOPIC_ALIAS_MAXIMUM: 0,
            Prop.WILDCARD_SUBSCRIPTION_AVAILABLE: 1,
            Prop.SUBSCRIPTION_IDENTIFIER_AVAILABLE: 0,
            Prop.SHARED_SUBSCRIPTION_AVAILABLE: 0,
        }
        if not connect.client_id:
            props[Prop.ASSIGNED_CLIENT_IDENTIFIER] = self.client_id
        if self.version == MQTT_5 and not 0 < self._keep_alive <= self._limits.max_keep_alive_s:
            self._keep_alive = self._limits.max_keep_alive_s  # IoT Core caps it the same way
            props[Prop.SERVER_KEEP_ALIVE] = self._keep_alive
        self._receive_maximum = connect.properties.integer(Prop.RECEIVE_MAXIMUM) or 65535
        self._max_packet = connect.properties.integer(Prop.MAXIMUM_PACKET_SIZE) or self._max_packet
        self._writer.write(encode_connack(self.version, 0, props))
        self.connected = True
        self._broker._register(self)

    async def _read_loop(self) -> None:
        timeout = self._keep_alive * 1.5 if self._keep_alive else None
        while not self._closing:  # a closed connection's buffered packets are not processed
            async with asyncio.timeout(timeout):
                ptype, flags, body = await read_packet(self._reader, self._limits.max_packet_bytes)
            if ptype == PacketType.PUBLISH:
                self._on_publish(flags, body)
            elif ptype == PacketType.PUBACK:
                self._inflight.discard(decode_puback(body, self.version))
                self._wakeup.set()
            elif ptype == PacketType.SUBSCRIBE:
                self._on_subscribe(body)
            elif ptype == PacketType.UNSUBSCRIBE:
                packet_id, filters = decode_unsubscribe(body, self.version)
                codes = [0 if self.subscriptions.pop(f, None) else 0x11 for f in filters]
                self._writer.write(encode_unsuback(self.version, packet_id, codes))
            elif ptype == PacketType.PINGREQ:
                self._writer.write(PINGRESP)
            elif ptype == PacketType.DISCONNECT:
                return
            else:
                name = PacketType(ptype).name
                raise ProtocolViolation(Reason.PROTOCOL_ERROR, f"unexpected {name} from client")
            await self._writer.drain()

    def _on_publish(self, flags: int, body: bytes) -> None:
        publish = decode_publish(flags, body, self.version)
        if publish.qos > 1:
            raise ProtocolViolation(Reason.QOS_NOT_SUPPORTED, "QoS 2 is not supported")
        if publish.retain:
            raise ProtocolViolation(Reason.RETAIN_NOT_SUPPORTED, "retained messages unsupported")
        problem = self._broker._publish_problem(publish)
        if problem is not None:
            reason, detail = problem
            self._broker._stats.rejected += 1
            log.warning("rejected PUBLISH from %s: %s", self.client_id, detail)
            self._broker._notify(
                ReceivedMessage(publish.topic, publish.payload, publish.qos, self.client_id, detail)
            )
            if reason == Reason.TOPIC_NAME_INVALID and publish.qos == 1 and self.version == MQTT_5:
                self._writer.write(encode_puback(MQTT_5, publish.packet_id, reason))
                return
            raise ProtocolViolation(reason, detail)
        self._broker._accept(publish, self)
        if publish.qos:
            self._writer.write(encode_puback(self.version, publish.packet_id, Reason.SUCCESS))

    def _on_subscribe(self, body: bytes) -> None:
        packet_id, props, entries = decode_subscribe(body, self.version)
        if Prop.SUBSCRIPTION_IDENTIFIER in props.values:
            raise ProtocolViolation(
                Reason.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, "subscription identifiers"
            )
        v5 = self.version == MQTT_5
        codes: list[int] = []
        for topic_filter, options in entries:
            limits = (self._limits.max_topic_bytes, self._limits.max_topic_slashes)
            if topic_filter.startswith("$share/"):
                codes.append(Reason.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED if v5 else 0x80)
            elif topic_filter_problem(topic_filter, *limits) is not None:
                codes.append(Reason.TOPIC_FILTER_INVALID if v5 else 0x80)
            else:
                qos = min(options & 0x03, 1)
                self.subscriptions[topic_filter] = (qos, bool(options & 0x04))
                codes.append(qos)
        self._writer.write(encode_suback(self.version, packet_id, codes))

    def offer(self, item: _Outgoing) -> None:
        """Queue a message for this subscriber without ever blocking the publisher."""
        if self._closing:
            return
        stats = self._broker._stats
        if (
            len(self._outbox) >= self._limits.outbox_max_messages
            or self._outbox_bytes + len(item.payload) > self._limits.outbox_max_bytes
        ):
            if item.qos == 0:
                stats.dropped += 1
                if not self._dropping:
                    log.warning("MQTT client %s is not keeping up: dropping QoS 0", self.client_id)
                self._dropping = True
                return
            stats.slow_consumers_disconnected += 1
            log.warning(
                "MQTT client %s is not keeping up (%d queued): disconnecting it",
                self.client_id,
                len(self._outbox),
            )
            self.close(Reason.QUOTA_EXCEEDED, "slow consumer", abort=True)
            return
        self._dropping = False
        self._outbox.append(item)
        self._outbox_bytes += len(item.payload)
        self._wakeup.set()

    async def _pump(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._outbox and not (
                    self._outbox[0].qos and len(self._inflight) >= self._receive_maximum
                ):
                    await self._send(self._outbox.popleft())
        except OSError as exc:
            log.debug("MQTT client %s: send failed: %r", self.client_id, exc)
            self._writer.transport.abort()
        except Exception:
            log.exception("MQTT client %s: delivery failed", self.client_id)
            self._writer.transport.abort()

    async def _send(self, item: _Outgoing) -> None:
        self._outbox_bytes -= len(item.payload)
        packet_id = self._allocate_packet_id() if item.qos else 0
        header = encode_publish_header(
            self.version, item.topic, item.qos, packet_id, item.raw_props, len(item.payload)
        )
        if len(header) + len(item.payload) > self._max_packet:  # client's limit: MQTT 5 says drop
            self._inflight.discard(packet_id)
            self._broker._stats.dropped += 1
            return
        self._writer.write(header)
        self._writer.write(item.payload)
        self._broker._stats.delivered += 1
        await self._writer.drain()

    def _allocate_packet_id(self) -> int:
        while True:
            self._last_packet_id = self._last_packet_id % 65535 + 1
            if self._last_packet_id not in self._inflight:
                self._inflight.add(self._last_packet_id)
                return self._last_packet_id


class EmbeddedBroker:
    """In-process MQTT broker; ``async with EmbeddedBroker() as broker`` starts it on a free
    loopback port, or call :meth:`start` for another address, a fixed port or mutual TLS."""

    def __init__(self, limits: BrokerLimits | None = None) -> None:
        self.limits = limits or BrokerLimits()
        self._server: asyncio.Server | None = None
        self._host = ""
        self._port = 0
        self._sessions: dict[str, _Connection] = {}
        self._handlers: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._listeners: list[tuple[Listener, bool]] = []  # (listener, include_rejected)
        self._record: TextIO | None = None
        self._stats = BrokerStats()

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Listen; with ``ssl_context`` (built by the caller, e.g. requiring client certs)."""
        if self._server is not None:
            raise RuntimeError("broker already started")
        self._server = await asyncio.start_server(
            self._on_client, host, port, ssl=ssl_context, limit=2 * self.limits.max_packet_bytes
        )
        self._host, self._port = self._server.sockets[0].getsockname()[:2]
        tls = " (TLS)" if ssl_context else ""
        log.info("embedded MQTT broker listening on %s:%d%s", self._host, self._port, tls)

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the real one when started with port 0)."""
        if self._server is None:
            raise RuntimeError("broker not started")
        return self._port

    @property
    def stats(self) -> BrokerStats:
        """A snapshot of the counters."""
        return replace(self._stats)

    def subscriptions(self) -> dict[str, list[str]]:
        """Connected client ids and their topic filters."""
        return {cid: sorted(conn.subscriptions) for cid, conn in self._sessions.items()}

    def add_listener(
        self, listener: Listener, *, include_rejected: bool = False
    ) -> Callable[[], None]:
        """Call ``listener`` synchronously for every accepted PUBLISH (and every refused
        one too with ``include_rejected``); returns a remover. A listener that raises is
        logged and never affects delivery."""
        entry = (listener, include_rejected)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry) if entry in self._listeners else None

    def tap(
        self, maxsize: int = 0, *, include_rejected: bool = False
    ) -> asyncio.Queue[ReceivedMessage]:
        """A queue receiving what a listener would; when full, ``stats.tap_dropped`` counts."""
        queue: asyncio.Queue[ReceivedMessage] = asyncio.Queue(maxsize)

        def put(message: ReceivedMessage) -> None:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._stats.tap_dropped += 1

        self.add_listener(put, include_rejected=include_rejected)
        return queue

    def record_to(self, path: str | Path) -> None:
        """Append every accepted PUBLISH to ``path`` as a JSON line
        ``{"topic", "payload_b64", "qos", "client_id"}``, flushed per message."""
        if self._record is not None:
            self._record.close()
        self._record = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 - closed in stop()

    async def stop(self) -> None:
        """Disconnect every client (MQTT 5: reason 0x8B) and stop listening."""
        server, self._server = self._server, None
        if server is not None:
            self._stopping = True
            server.close()
            for conn in list(self._sessions.values()):
                conn.close(Reason.SERVER_SHUTTING_DOWN, "broker stopping")
            handlers = list(self._handlers)
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await server.wait_closed()
            log.info("embedded MQTT broker on port %d stopped", self._port)
            self._stopping = False
        if self._record is not None:
            self._record.close()
            self._record = None

    async def __aenter__(self) -> EmbeddedBroker:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._stats.connections += 1
        try:
            await _Connection(self, reader, writer).serve()
        except asyncio.CancelledError:
            # stop() cancels us; ending normally spares Python 3.11's stream callback an error.
            if not self._stopping:
                raise
        finally:
            if task is not None:
                self._handlers.discard(task)

    def _register(self, conn: _Connection) -> None:
        previous = self._sessions.get(conn.client_id)
        if previous is not None:
            log.info(
                "MQTT client id %s connected again: closing the older connection", conn.client_id
            )
            previous.close(Reason.SESSION_TAKEN_OVER, "another connection used this client id")
        self._sessions[conn.client_id] = conn

    def _forget(self, conn: _Connection) -> None:
        if self._sessions.get(conn.client_id) is conn:
            del self._sessions[conn.client_id]

    def _publish_problem(self, publish: Publish) -> tuple[Reason, str] | None:
        limits = self.limits
        problem = topic_name_problem(
            publish.topic, limits.max_topic_bytes, limits.max_topic_slashes
        )
        if problem is not None:
            return Reason.TOPIC_NAME_INVALID, f"{problem}: {publish.topic[:80]!r}"
        if len(publish.payload) > limits.max_payload_bytes:
            size = len(publish.payload)
            return Reason.PACKET_TOO_LARGE, f"payload {size} > {limits.max_payload_bytes} bytes"
        return None

    def _notify(self, message: ReceivedMessage) -> None:
        for listener, include_rejected in tuple(self._listeners):
            if message.rejected is None or include_rejected:
                try:
                    listener(message)
                except Exception:
                    log.exception("broker listener %r failed", listener)

    def _accept(self, publish: Publish, sender: _Connection) -> None:
        message = ReceivedMessage(publish.topic, publish.payload, publish.qos, sender.client_id)
        self._stats.messages += 1
        self._stats.bytes += len(publish.payload)
        if self._record is not None:
            payload_b64 = base64.b64encode(publish.payload).decode("ascii")
            line: dict[str, str | int] = {"topic": publish.topic, "payload_b64": payload_b64}
            line |= {"qos": publish.qos, "client_id": sender.client_id}
            self._record.write(json.dumps(line) + "\n")
            self._record.flush()
        self._notify(message)
        raw_props = publish.properties.raw
        for conn in tuple(self._sessions.values()):
            granted = -1
            for topic_filter, (qos, no_local) in conn.subscriptions.items():
                if not (no_local and conn is sender) and topic_matches(topic_filter, publish.topic):
                    granted = max(granted, qos)
            if granted >= 0:
                item = _Outgoing(
                    publish.topic, publish.payload, min(granted, publish.qos), raw_props
                )
                conn.offer(item)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wardlink.devtools.mqtt_broker``: run the broker until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m wardlink.devtools.mqtt_broker",
        description="Embedded MQTT 5 broker standing in for AWS IoT Core (development only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883, help="0 picks a free port")
    parser.add_argument("--record", type=Path, help="append every PUBLISH to this JSON-lines file")
    parser.add_argument("--tls-ca", type=Path, help="CA that client certificates must chain to")
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    tls_args = (args.tls_ca, args.tls_cert, args.tls_key)
    if any(tls_args) and not all(tls_args):
        parser.error("--tls-ca, --tls-cert and --tls-key go together")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    context = None
    if all(tls_args):
        from wardlink.devtools.pki import mutual_tls_server_context

        context = mutual_tls_server_context(args.tls_ca, args.tls_cert, args.tls_key)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.record, context))
    return 0


async def _serve(host: str, port: int, record: Path | None, context: ssl.SSLContext | None) -> None:
    broker = EmbeddedBroker()
    if record is not None:
        broker.record_to(record)
    await broker.start(host, port, context)
    print(f"listening on {broker.host}:{broker.port}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await broker.stop()
    stats = broker.stats
    print(f"stopped after {stats.messages} messages, {stats.bytes} bytes", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
