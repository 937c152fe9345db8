"""The event-stream codec, and the RPC server under malformed or raw traffic."""

from __future__ import annotations

import json
import socket
import struct
import uuid
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.greengrass.support import TIMEOUT, RunningEmulator, result
from wardlink.nucleus.eventstream import (
    FrameReader,
    FramingError,
    Header,
    HeaderType,
    Message,
    decode,
    encode,
)
from wardlink.nucleus.rpc import MessageFlag, MessageType

_names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20
)
_header = st.one_of(
    st.builds(Header.string, _names, st.text(max_size=40)),
    st.builds(Header.int32, _names, st.integers(-(2**31), 2**31 - 1)),
    st.builds(Header.boolean, _names, st.booleans()),
    st.builds(Header.byte_buf, _names, st.binary(max_size=40)),
    st.builds(
        lambda n, v: Header(n, HeaderType.INT64, v), _names, st.integers(-(2**63), 2**63 - 1)
    ),
    st.builds(lambda n, v: Header(n, HeaderType.BYTE, v), _names, st.integers(-128, 127)),
    st.builds(
        lambda n, v: Header(n, HeaderType.INT16, v), _names, st.integers(-(2**15), 2**15 - 1)
    ),
    st.builds(lambda n, v: Header(n, HeaderType.TIMESTAMP, v), _names, st.integers(0, 2**62)),
    st.builds(lambda n: Header(n, HeaderType.UUID, uuid.UUID(int=7)), _names),
)


@given(st.lists(_header, max_size=8), st.binary(max_size=300), st.integers(1, 64))
def test_roundtrip_through_arbitrary_chunking(
    headers: list[Header], payload: bytes, chunk: int
) -> None:
    message = Message(headers=tuple(headers), payload=payload)
    wire = encode(message) * 2
    reader = FrameReader()
    decoded: list[Message] = []
    for start in range(0, len(wire), chunk):
        decoded.extend(reader.feed(wire[start : start + chunk]))
    assert decoded == [message, message]
    assert reader.pending == 0


def test_known_layout() -> None:
    wire = encode(Message(headers=(Header.string("a", "b"),), payload=b"xy"))
    total, headers_length = struct.unpack(">II", wire[:8])
    assert (total, headers_length) == (len(wire), 1 + 1 + 1 + 2 + 1)
    assert wire[12:18] == b"\x01a\x07\x00\x01b"
    assert struct.unpack(">I", wire[-4:])[0] == zlib.crc32(wire[:-4])


@pytest.mark.parametrize("offset", [9, 14, 20])
def test_corruption_is_detected(offset: int) -> None:
    wire = bytearray(encode(Message(headers=(Header.string("k", "value"),), payload=b"payload")))
    wire[offset] ^= 0xFF
    with pytest.raises(FramingError):
        FrameReader().feed(bytes(wire))


def test_absurd_length_is_rejected_before_buffering() -> None:
    prelude = struct.pack(">II", 2**31, 0)
    with pytest.raises(FramingError):
        FrameReader().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_header_name_limits() -> None:
    with pytest.raises(ValueError, match="header name"):
        encode(Message(headers=(Header.string("x" * 128, "v"),)))
    with pytest.raises(FramingError):
        decode(b"\x00" * 15)


# ------------------------------------------------------------------ raw RPC traffic
def _rpc(
    message_type: MessageType,
    stream_id: int = 0,
    flags: int = 0,
    *extra: Header,
    payload: bytes = b"",
) -> bytes:
    return encode(
        Message(
            headers=(
                Header.int32(":message-type", int(message_type)),
                Header.int32(":message-flags", flags),
                Header.int32(":stream-id", stream_id),
                *extra,
            ),
            payload=payload,
        )
    )


def _read(sock: socket.socket, reader: FrameReader) -> Message | None:
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        messages = reader.feed(chunk)
        if messages:
            return messages[0]


def _raw(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(str(path))
    return sock


def test_raw_connect_ping_and_operation(emulator: RunningEmulator) -> None:
    token = emulator.emulator.tokens["com.example.Tester"]
    with _raw(emulator.socket_path) as sock:
        reader = FrameReader()
        sock.sendall(
            _rpc(
                MessageType.CONNECT,
                0,
                0,
                Header.string(":version", "0.1.0"),
                payload=json.dumps({"authToken": token}).encode(),
            )
        )
        ack = _read(sock, reader)
        assert ack is not None
        assert ack.int32(":message-type") == MessageType.CONNECT_ACK
        assert ack.int32(":message-flags") == MessageFlag.CONNECTION_ACCEPTED
        sock.sendall(_rpc(MessageType.PING, payload=b"hello"))
        pong = _read(sock, reader)
        assert pong is not None and pong.int32(":message-type") == MessageType.PING_RESPONSE
        assert pong.payload == b"hello"
        sock.sendall(
            _rpc(
                MessageType.APPLICATION_MESSAGE,
                1,
                0,
                Header.string("operation", "aws.greengrass#GetConfiguration"),
                Header.string(":content-type", "application/json"),
                payload=b'{"keyPath": ["greeting"]}',
            )
        )
        reply = _read(sock, reader)
        assert reply is not None
        assert reply.int32(":stream-id") == 1
        assert reply.int32(":message-flags") == MessageFlag.TERMINATE_STREAM
        assert reply.string("service-model-type") == "aws.greengrass#GetConfigurationResponse"
        assert json.loads(reply.payload)["value"] == {"greeting": "hello"}
        # a request that is not JSON gets an error on its own stream, not a hang-up
        sock.sendall(
            _rpc(
                MessageType.APPLICATION_MESSAGE,
                2,
                0,
                Header.string("operation", "aws.greengrass#GetConfiguration"),
                payload=b"{nope",
            )
        )
        error = _read(sock, reader)
        assert error is not None and error.int32(":message-type") == MessageType.APPLICATION_ERROR
        assert error.string("service-model-type") == "aws.greengrass#InvalidArgumentsError"


def test_garbage_and_protocol_violations_drop_only_that_connection(
    emulator: RunningEmulator,
) -> None:
    with _raw(emulator.socket_path) as sock:
        sock.sendall(b"\x00\x00\x00\x10" + b"\xff" * 40)
        assert _read(sock, FrameReader()) is None  # closed by the server
    with _raw(emulator.socket_path) as sock:
        reader = FrameReader()
        sock.sendall(_rpc(MessageType.APPLICATION_MESSAGE, 1))  # no CONNECT first
        error = _read(sock, reader)
        assert error is not None and error.int32(":message-type") == MessageType.PROTOCOL_ERROR
        assert _read(sock, reader) is None
    client = emulator.client("com.example.Tester")
    assert result(client.get_configuration_async(key_path=["greeting"])).value == {
        "greeting": "hello"
    }
