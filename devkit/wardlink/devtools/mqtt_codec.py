"""MQTT 3.1.1 and 5.0 wire format, limited to what the embedded broker needs.

Decoders take the body of one packet (the bytes after the fixed header) and either
return a value or raise :class:`ProtocolViolation` carrying the MQTT 5 reason code
the broker should close the connection with. Nothing here does I/O except
:func:`read_packet`, so the parsing rules can be fuzzed without sockets.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from enum import IntEnum

MQTT_311 = 4
MQTT_5 = 5


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class Reason(IntEnum):
    """MQTT 5 reason codes the broker sends."""

    SUCCESS = 0x00
    GRANTED_QOS_1 = 0x01
    NO_SUBSCRIPTION_EXISTED = 0x11
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    BAD_AUTHENTICATION_METHOD = 0x8C
    SERVER_SHUTTING_DOWN = 0x8B
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    QUOTA_EXCEEDED = 0x97
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1


class ProtocolViolation(Exception):
    """The peer broke the protocol; its connection is closed with ``reason``."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.name}: {detail}")
        self.reason = reason


class UnsupportedVersion(ProtocolViolation):
    """CONNECT named a protocol level other than 4 (3.1.1) or 5."""

    def __init__(self, level: int) -> None:
        super().__init__(Reason.UNSUPPORTED_PROTOCOL_VERSION, f"protocol level {level}")


class Prop(IntEnum):
    """MQTT 5 property identifiers the broker reads or writes."""

    SESSION_EXPIRY_INTERVAL = 0x11
    ASSIGNED_CLIENT_IDENTIFIER = 0x12
    SERVER_KEEP_ALIVE = 0x13
    AUTHENTICATION_METHOD = 0x15
    REASON_STRING = 0x1F
    RECEIVE_MAXIMUM = 0x21
    TOPIC_ALIAS_MAXIMUM = 0x22
    TOPIC_ALIAS = 0x23
    MAXIMUM_QOS = 0x24
    RETAIN_AVAILABLE = 0x25
    USER_PROPERTY = 0x26
    MAXIMUM_PACKET_SIZE = 0x27
    WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
    SHARED_SUBSCRIPTION_AVAILABLE = 0x2A
    SUBSCRIPTION_IDENTIFIER = 0x0B


# Wire type of every property in the MQTT 5 spec (section 2.2.2.2):
# b=byte, h=two-byte int, i=four-byte int, v=variable byte int, s=UTF-8, d=binary, p=pair.
_PROPERTY_TYPES: dict[int, str] = {
    0x01: "b", 0x02: "i", 0x03: "s", 0x08: "s", 0x09: "d", 0x0B: "v", 0x11: "i",
    0x12: "s", 0x13: "h", 0x15: "s", 0x16: "d", 0x17: "b", 0x18: "i", 0x19: "b",
    0x1A: "s", 0x1C: "s", 0x1F: "s", 0x21: "h", 0x22: "h", 0x23: "h", 0x24: "b",
    0x25: "b", 0x26: "p", 0x27: "i", 0x28: "b", 0x29: "b", 0x2A: "b",
}  # fmt: skip
_REPEATABLE = {Prop.USER_PROPERTY, Prop.SUBSCRIPTION_IDENTIFIER}


@dataclass(slots=True)
class Properties:
    """Decoded MQTT 5 properties; ``raw`` keeps the encoded block for forwarding."""

    values: dict[int, int | str | bytes] = field(default_factory=dict)
    user: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes = b""

    def integer(self, prop: Prop) -> int | None:
        value = self.values.get(prop)
        return value if isinstance(value, int) else None


class Reader:
    """Cursor over one packet body; every read past the end is a malformed packet."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ProtocolViolation(Reason.MALFORMED_PACKET, "packet shorter than its fields")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("!I", self._take(4))[0]
        return value

    def varint(self) -> int:
        value = 0
        for shift in (0, 7, 14, 21):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise ProtocolViolation(Reason.MALFORMED_PACKET, "variable byte integer over 4 bytes")

    def binary(self) -> bytes:
        return self._take(self.u16())

    def utf8(self) -> str:
        try:
            text = self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation(Reason.MALFORMED_PACKET, "invalid UTF-8 string") from None
        if "\x00" in text:
            raise ProtocolViolation(Reason.MALFORMED_PACKET, "U+0000 in UTF-8 string")
        return text

    def rest(self) -> bytes:
        return self._take(len(self.data) - self.pos)

    def properties(self) -> Properties:
        length = self.varint()
        start = self.pos
        block = Reader(self._take(length))
        props = Properties(raw=self.data[start : self.pos])
        while not block.at_end():
            ident = block.varint()
            kind = _PROPERTY_TYPES.get(ident)
            if kind is None:
                raise ProtocolViolation(Reason.MALFORMED_PACKET, f"unknown property 0x{ident:02x}")
            if kind == "p":
                props.user.append((block.utf8(), block.utf8()))
                continue
            if ident in props.values and ident not in _REPEATABLE:
                raise ProtocolViolation(Reason.PROTOCOL_ERROR, f"property 0x{ident:02x} twice")
            readers = {"b": block.u8, "h": block.u16, "i": block.u32, "v": block.varint}
            props.values[ident] = (
                block.utf8() if kind == "s" else block.binary() if kind == "d" else readers[kind]()
            )
        return props


def encode_varint(value: int) -> bytes:
    if not 0 <= value <= 268_435_455:
        raise ValueError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_utf8(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def encode_properties(props: dict[Prop, int | str]) -> bytes:
    """Encode a property block (with its length prefix); only scalar and string kinds."""
    out = bytearray()
    for ident, value in props.items():
        out += encode_varint(ident)
        kind = _PROPERTY_TYPES[ident]
        if isinstance(value, str):
            out += encode_utf8(value)
        else:
            out += struct.pack({"b": "!B", "h": "!H", "i": "!I"}[kind], value)
    return encode_varint(len(out)) + bytes(out)


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + encode_varint(len(body)) + body


_FLAGS_0010 = (PacketType.PUBREL, PacketType.SUBSCRIBE, PacketType.UNSUBSCRIBE)


async def read_packet(reader: asyncio.StreamReader, max_size: int) -> tuple[int, int, bytes]:
    """Read one packet; returns (type, flags, body). EOF raises IncompleteReadError."""
    first = (await reader.readexactly(1))[0]
    length = 0
    for shift in (0, 7, 14, 21):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
    else:
        raise ProtocolViolation(Reason.MALFORMED_PACKET, "remaining length over 4 bytes")
    if 1 + len(encode_varint(length)) + length > max_size:
        raise ProtocolViolation(Reason.PACKET_TOO_LARGE, f"{length} byte packet")
    ptype, flags = first >> 4, first & 0x0F
    expected_flags = 0b0010 if ptype in _FLAGS_0010 else 0
    if ptype == 0 or (ptype != PacketType.PUBLISH and flags != expected_flags):
        raise ProtocolViolation(Reason.MALFORMED_PACKET, f"bad fixed header 0x{first:02x}")
    return ptype, flags, await reader.readexactly(length)


@dataclass(slots=True)
class Connect:
    version: int
    client_id: str
    clean_start: bool
    keep_alive: int
    properties: Properties
    username: str | None = None
    will_topic: str | None = None


def decode_connect(body: bytes) -> Connect:
    r = Reader(body)
    name, level = r.utf8(), r.u8()
    if name not in ("MQTT", "MQIsdp"):
        raise ProtocolViolation(Reason.MALFORMED_PACKET, f"protocol name {name!r}")
    if name != "MQTT" or level not in (MQTT_311, MQTT_5):
        raise UnsupportedVersion(level)
    flags, keep_alive = r.u8(), r.u16()
    will, will_qos = bool(flags & 0x04), (flags >> 3) & 0x03
    if flags & 0x01 or will_qos == 3 or (not will and flags & 0x38):
        raise ProtocolViolation(Reason.MALFORMED_PACKET, f"bad connect flags 0x{flags:02x}")
    props = r.properties() if level == MQTT_5 else Properties()
    if Prop.AUTHENTICATION_METHOD in props.values:
        raise ProtocolViolation(Reason.BAD_AUTHENTICATION_METHOD, "enhanced auth unsupported")
    if props.integer(Prop.RECEIVE_MAXIMUM) == 0 or props.integer(Prop.MAXIMUM_PACKET_SIZE) == 0:
        raise ProtocolViolation(Reason.PROTOCOL_ERROR, "zero receive maximum or packet size")
    connect = Connect(level, r.utf8(), bool(flags & 0x02), keep_alive, props)
    if will:  # parsed for correctness; the broker never publishes wills
        if level == MQTT_5:
            r.properties()
        connect.will_topic = r.utf8()
        r.binary()
    if flags & 0x80:
        connect.username = r.utf8()
    if flags & 0x40:
        r.binary()
    if not r.at_end():
        raise ProtocolViolation(Reason.MALFORMED_PACKET, "trailing bytes after CONNECT")
    return connect


@dataclass(slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    packet_id: int
    properties: Properties


def decode_publish(flags: int, body: bytes, version: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolViolation(Reason.MALFORMED_PACKET, "PUBLISH with QoS 3")
    r = Reader(body)
    topic = r.utf8()
    packet_id = r.u16() if qos else 0
    if qos and packet_id == 0:
        raise ProtocolViolation(Reason.MALFORMED_PACKET, "PUBLISH with packet id 0")
    props = r.properties() if version == MQTT_5 else Properties()
    if Prop.TOPIC_ALIAS in props.values:
        raise ProtocolViolation(Reason.TOPIC_ALIAS_INVALID, "topic alias maximum is 0")
    if Prop.SUBSCRIPTION_IDENTIFIER in props.values:
        raise ProtocolViolation(Reason.PROTOCOL_ERROR, "subscription identifier from client")
    return Publish(topic, r.rest(), qos, bool(flags & 0x01), packet_id, props)


def decode_subscribe(body: bytes, version: int) -> tuple[int, Properties, list[tuple[str, int]]]:
    """Returns (packet id, properties, [(filter, options byte)])."""
    r = Reader(body)
    packet_id = r.u16()
    props = r.properties() if version == MQTT_5 else Properties()
    entries: list[tuple[str, int]] = []
    while not r.at_end():
        topic_filter, options = r.utf8(), r.u8()
        reserved = 0xC0 if version == MQTT_5 else 0xFC
        if options & reserved or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise ProtocolViolation(Reason.MALFORMED_PACKET, f"subscription options {options}")
        entries.append((topic_filter, options))
    if not entries:
        raise ProtocolViolation(Reason.PROTOCOL_ERROR, "SUBSCRIBE without topic filters")
    return packet_id, props, entries


def decode_unsubscribe(body: bytes, version: int) -> tuple[int, list[str]]:
    r = Reader(body)
    packet_id = r.u16()
    if version == MQTT_5:
        r.properties()
    filters: list[str] = []
    while not r.at_end():
        filters.append(r.utf8())
    if not filters:
        raise ProtocolViolation(Reason.PROTOCOL_ERROR, "UNSUBSCRIBE without topic filters")
    return packet_id, filters


def decode_puback(body: bytes, version: int) -> int:
    """Returns the packet id; the reason code is only informative for a broker."""
    r = Reader(body)
    packet_id = r.u16()
    if version == MQTT_5 and not r.at_end():
        r.u8()
        if not r.at_end():
            r.properties()
    if not r.at_end():
        raise ProtocolViolation(Reason.MALFORMED_PACKET, "trailing bytes after PUBACK")
    return packet_id


def encode_connack(version: int, reason: int, props: dict[Prop, int | str]) -> bytes:
    if version != MQTT_5:
        return packet(0x20, bytes([0, reason]))
    return packet(0x20, bytes([0, reason]) + encode_properties(props))


def encode_publish_header(
    version: int, topic: str, qos: int, packet_id: int, raw_props: bytes, payload_len: int
) -> bytes:
    """Everything before the payload, so a large payload is never copied to frame it."""
    body = encode_utf8(topic) + (struct.pack("!H", packet_id) if qos else b"")
    if version == MQTT_5:
        body += encode_varint(len(raw_props)) + raw_props
    return bytes([0x30 | qos << 1]) + encode_varint(len(body) + payload_len) + body


def encode_puback(version: int, packet_id: int, reason: int) -> bytes:
    body = struct.pack("!H", packet_id)
    if version == MQTT_5 and reason:
        body += bytes([reason])
    return packet(0x40, body)


def encode_suback(version: int, packet_id: int, codes: list[int]) -> bytes:
    props = b"\x00" if version == MQTT_5 else b""
    return packet(0x90, struct.pack("!H", packet_id) + props + bytes(codes))


def encode_unsuback(version: int, packet_id: int, codes: list[int]) -> bytes:
    if version != MQTT_5:
        return packet(0xB0, struct.pack("!H", packet_id))
    return packet(0xB0, struct.pack("!H", packet_id) + b"\x00" + bytes(codes))


def encode_disconnect(reason: int, detail: str = "") -> bytes:
    props: dict[Prop, int | str] = {Prop.REASON_STRING: detail[:200]} if detail else {}
    return packet(0xE0, bytes([reason]) + encode_properties(props))


PINGRESP = b"\xd0\x00"
