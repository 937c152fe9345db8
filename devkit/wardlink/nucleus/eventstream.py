"""The AWS event-stream message encoding, both directions.

Greengrass IPC is event-stream RPC over a Unix socket. awscrt only exposes the
client half, with the framing done in native code, so the emulator carries its
own codec. A message on the wire is::

    prelude   total_length u32 | headers_length u32 | prelude_crc u32
    headers   (name_len u8 | name | type u8 | value)*
    payload   bytes
    trailer   message_crc u32           (CRC32 of everything before it)

All integers are big-endian and the CRCs are plain CRC32 (zlib). ``FrameReader``
is incremental because a socket delivers arbitrary chunks; it raises
``FramingError`` on a corrupt frame, after which the byte stream cannot be
re-synchronised and the connection must be dropped.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

PRELUDE_LENGTH = 12
TRAILER_LENGTH = 4
MIN_MESSAGE_LENGTH = PRELUDE_LENGTH + TRAILER_LENGTH
MAX_MESSAGE_LENGTH = 16 * 1024 * 1024
MAX_HEADERS_LENGTH = 128 * 1024
MAX_HEADER_NAME_LENGTH = 127

_PRELUDE = struct.Struct(">II")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


class FramingError(ValueError):
    """Bytes that are not a valid event-stream message."""


class HeaderType(IntEnum):
    """Wire type tags of header values."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTE_BUF = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


HeaderValue = bool | int | bytes | str | uuid.UUID

_FIXED_INT: dict[HeaderType, struct.Struct] = {
    HeaderType.BYTE: struct.Struct(">b"),
    HeaderType.INT16: struct.Struct(">h"),
    HeaderType.INT32: struct.Struct(">i"),
    HeaderType.INT64: struct.Struct(">q"),
    HeaderType.TIMESTAMP: struct.Struct(">q"),
}


@dataclass(frozen=True)
class Header:
    """One typed header. Build with the ``string``/``int32``/... helpers."""

    name: str
    type: HeaderType
    value: HeaderValue

    @classmethod
    def string(cls, name: str, value: str) -> Header:
        return cls(name, HeaderType.STRING, value)

    @classmethod
    def int32(cls, name: str, value: int) -> Header:
        return cls(name, HeaderType.INT32, value)

    @classmethod
    def boolean(cls, name: str, value: bool) -> Header:
        return cls(name, HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE, value)

    @classmethod
    def byte_buf(cls, name: str, value: bytes) -> Header:
        return cls(name, HeaderType.BYTE_BUF, value)


@dataclass(frozen=True)
class Message:
    """A decoded message: ordered headers and an opaque payload."""

    headers: tuple[Header, ...] = ()
    payload: bytes = b""
    _index: dict[str, Header] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for header in self.headers:
            self._index.setdefault(header.name.lower(), header)

    def header(self, name: str) -> Header | None:
        """First header called ``name`` (names are case-insensitive on the wire)."""
        return self._index.get(name.lower())

    def string(self, name: str) -> str | None:
        found = self.header(name)
        if found is None or found.type is not HeaderType.STRING:
            return None
        return str(found.value)

    def int32(self, name: str) -> int | None:
        found = self.header(name)
        if found is None or found.type is not HeaderType.INT32:
            return None
        value = found.value
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _encode_header(header: Header) -> bytes:
    name = header.name.encode("utf-8")
    if not 0 < len(name) <= MAX_HEADER_NAME_LENGTH:
        raise ValueError(f"header name {header.name!r} must be 1..{MAX_HEADER_NAME_LENGTH} bytes")
    head = bytes((len(name),)) + name + bytes((header.type,))
    kind, value = header.type, header.value
    if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        return head
    if kind in _FIXED_INT:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"header {header.name!r} of type {kind.name} needs an int")
        return head + _FIXED_INT[kind].pack(value)
    if kind is HeaderType.UUID:
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"header {header.name!r} needs a UUID")
        return head + value.bytes
    if kind is HeaderType.STRING:
        if not isinstance(value, str):
            raise TypeError(f"header {header.name!r} needs a str")
        raw = value.encode("utf-8")
    elif isinstance(value, bytes | bytearray):
        raw = bytes(value)
    else:
        raise TypeError(f"header {header.name!r} needs bytes")
    if len(raw) > 0xFFFF:
        raise ValueError(f"header {header.name!r} value is longer than 65535 bytes")
    return head + _U16.pack(len(raw)) + raw


def encode(message: Message) -> bytes:
    """Serialize one message, CRCs included."""
    headers = b"".join(_encode_header(h) for h in message.headers)
    if len(headers) > MAX_HEADERS_LENGTH:
        raise ValueError("headers exceed the 128 KiB event-stream limit")
    total = PRELUDE_LENGTH + len(headers) + len(message.payload) + TRAILER_LENGTH
    if total > MAX_MESSAGE_LENGTH:
        raise ValueError("message exceeds the 16 MiB event-stream limit")
    prelude = _PRELUDE.pack(total, len(headers))
    body = prelude + _U32.pack(zlib.crc32(prelude)) + headers + message.payload
    return body + _U32.pack(zlib.crc32(body))


def _decode_headers(raw: bytes) -> tuple[Header, ...]:
    headers: list[Header] = []
    pos, end = 0, len(raw)

    def take(count: int) -> bytes:
        nonlocal pos
        if pos + count > end:
            raise FramingError("header runs past the header block")
        chunk = raw[pos : pos + count]
        pos += count
        return chunk

    while pos < end:
        name_length = take(1)[0]
        if name_length == 0:
            raise FramingError("empty header name")
        try:
            name = take(name_length).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FramingError("header name is not UTF-8") from exc
        try:
            kind = HeaderType(take(1)[0])
        except ValueError as exc:
            raise FramingError(f"unknown header type in {name!r}") from exc
        value: HeaderValue
        if kind is HeaderType.BOOL_TRUE:
            value = True
        elif kind is HeaderType.BOOL_FALSE:
            value = False
        elif kind in _FIXED_INT:
            codec = _FIXED_INT[kind]
            value = int(codec.unpack(take(codec.size))[0])
        elif kind is HeaderType.UUID:
            value = uuid.UUID(bytes=take(16))
        else:
            size = _U16.unpack(take(2))[0]
            chunk = take(size)
            if kind is HeaderType.STRING:
                try:
                    value = chunk.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise FramingError(f"header {name!r} is not UTF-8") from exc
            else:
                value = chunk
        headers.append(Header(name, kind, value))
    return tuple(headers)


def decode(frame: bytes) -> Message:
    """Parse exactly one complete message, checking both CRCs."""
    if len(frame) < MIN_MESSAGE_LENGTH:
        raise FramingError("frame shorter than the minimum message")
    total, headers_length = _PRELUDE.unpack_from(frame, 0)
    if total != len(frame):
        raise FramingError(f"prelude says {total} bytes, frame has {len(frame)}")
    if _U32.unpack_from(frame, 8)[0] != zlib.crc32(frame[:8]):
        raise FramingError("prelude CRC mismatch")
    if _U32.unpack_from(frame, total - TRAILER_LENGTH)[0] != zlib.crc32(frame[:-TRAILER_LENGTH]):
        raise FramingError("message CRC mismatch")
    if headers_length > total - MIN_MESSAGE_LENGTH:
        raise FramingError("headers longer than the message")
    headers_end = PRELUDE_LENGTH + headers_length
    headers = _decode_headers(frame[PRELUDE_LENGTH:headers_end])
    return Message(headers=headers, payload=bytes(frame[headers_end : total - TRAILER_LENGTH]))


class FrameReader:
    """Cuts a byte stream into messages.

    ``feed`` accepts any chunk and returns the messages it completed; ``push`` and
    ``next_message`` do the same one message at a time, so that a server can change
    the limits between two messages (the IPC server allows a peer only a small
    CONNECT until it has authenticated). The prelude is validated before waiting for
    a body, so a garbage length cannot make the reader buffer 4 GiB, and a length
    above ``max_message_length`` is refused as soon as its prelude arrives: what the
    reader holds is at most one message under the limit plus one chunk.
    """

    def __init__(self, max_message_length: int = MAX_MESSAGE_LENGTH) -> None:
        self._buffer = bytearray()
        self.max_message_length = max_message_length

    def feed(self, chunk: bytes) -> list[Message]:
        self.push(chunk)
        messages: list[Message] = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    def push(self, chunk: bytes) -> None:
        """Buffer ``chunk``; ``next_message`` takes the messages out."""
        self._buffer.extend(chunk)

    def next_message(self) -> Message | None:
        """The next complete message, or None until more bytes arrive.

        Raises ``FramingError`` as soon as the buffered prelude is invalid or
        announces more than ``max_message_length`` bytes.
        """
        if len(self._buffer) < PRELUDE_LENGTH:
            return None
        total, headers_length = _PRELUDE.unpack_from(self._buffer, 0)
        if _U32.unpack_from(self._buffer, 8)[0] != zlib.crc32(bytes(self._buffer[:8])):
            raise FramingError("prelude CRC mismatch")
        if total < MIN_MESSAGE_LENGTH or total > self.max_message_length:
            raise FramingError(f"message length {total} outside 16..{self.max_message_length}")
        if headers_length > min(total - MIN_MESSAGE_LENGTH, MAX_HEADERS_LENGTH):
            raise FramingError("headers length does not fit the message")
        if len(self._buffer) < total:
            return None
        frame = bytes(self._buffer[:total])
        del self._buffer[:total]
        return decode(frame)

    @property
    def pending(self) -> int:
        """Bytes buffered towards an incomplete message."""
        return len(self._buffer)
