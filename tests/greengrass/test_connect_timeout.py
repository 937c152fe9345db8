"""Connections that never authenticate cost the nucleus emulator little, and not for long.

Before a peer has sent its CONNECT (with a component's SVCUID) it is nobody. The
emulator used to keep such a socket open forever and buffer whatever it announced:
a dozen idle sockets, each announcing a 16 MiB message, held about 180 MB. Now a
peer has ``connect_timeout`` seconds to send a CONNECT of at most
``MAX_CONNECT_MESSAGE_LENGTH`` bytes; a longer announcement is refused at its
prelude, before any of its body is buffered.

The attackers are raw Unix sockets: idle ones, one that stalls half-way through a
CONNECT, one that sends garbage, and some that announce 16 MiB messages and push
megabytes after them. The emulator runs in this process, so its buffers are
measured with ``tracemalloc`` (Python-level allocations: where a ``bytearray``
would grow). A real ``awsiotsdk`` IPC client connects and works throughout.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.greengrass.support import TIMEOUT, RunningEmulator, start_emulator
from wardlink.nucleus.eventstream import (
    MAX_MESSAGE_LENGTH,
    FrameReader,
    FramingError,
    Header,
    Message,
    encode,
)
from wardlink.nucleus.rpc import MAX_CONNECT_MESSAGE_LENGTH, MessageType

COMPONENT = "com.wardlink.Uplink"
IDLE = 12
ANNOUNCERS = 4
PUSHED_PER_ANNOUNCER = 8 * 1024 * 1024
#: Far below what the announcers push (32 MiB), far above what the limits allow
#: (17 connections x (one 64 KiB read + one 16 KiB CONNECT) is under 1.5 MiB).
MEMORY_BOUND = 8 * 1024 * 1024


def _prelude(total: int, headers: int = 0) -> bytes:
    prelude = struct.pack(">II", total, headers)
    return prelude + struct.pack(">I", zlib.crc32(prelude))


def _connect_frame(token: str) -> bytes:
    return encode(
        Message(
            headers=(
                Header.int32(":message-type", int(MessageType.CONNECT)),
                Header.int32(":message-flags", 0),
                Header.int32(":stream-id", 0),
                Header.string(":version", "0.1.0"),
            ),
            payload=json.dumps({"authToken": token}).encode(),
        )
    )


def _raw(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(str(path))
    return sock


def _closed_by_peer(sock: socket.socket) -> bool:
    """Wait (bounded) for the emulator to hang up; True if it did."""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _push(sock: socket.socket, data: bytes, outcome: list[str]) -> None:
    try:
        sock.sendall(data)
        outcome.append("sent")
    except OSError:
        outcome.append("refused")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningEmulator]:
    emulator = start_emulator(tmp_path, connect_timeout=1.0)
    try:
        yield emulator
    finally:
        emulator.stop()


def test_unauthenticated_connections_are_dropped_without_buffering_them(
    running: RunningEmulator,
) -> None:
    # Built before tracing starts: the test's own megabytes are not the emulator's.
    announcement = _prelude(MAX_MESSAGE_LENGTH) + b"\0" * PUSHED_PER_ANNOUNCER
    connect = _connect_frame(running.emulator.tokens[COMPONENT])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        idle = [_raw(running.socket_path) for _ in range(IDLE)]
        staller = _raw(running.socket_path)
        staller.sendall(connect[:10])  # half a prelude, then nothing
        garbage = _raw(running.socket_path)
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: nucleus\r\n\r\n")
        announcers = [_raw(running.socket_path) for _ in range(ANNOUNCERS)]
        outcomes: list[str] = []
        pushers = [
            threading.Thread(target=_push, args=(sock, announcement, outcomes))
            for sock in announcers
        ]
        for pusher in pushers:
            pusher.start()

        # A real client authenticates and works while all of them are connected.
        client = running.client(COMPONENT)
        response = client.get_configuration_async(key_path=["uplink"]).result(TIMEOUT)
        assert response.component_name == COMPONENT

        for pusher in pushers:
            pusher.join(TIMEOUT)
        assert outcomes == ["refused"] * ANNOUNCERS  # refused at the prelude, not buffered
        attackers = [*idle, staller, garbage, *announcers]
        assert [_closed_by_peer(sock) for sock in attackers] == [True] * len(attackers)
        peak = tracemalloc.get_traced_memory()[1] - baseline
        assert peak < MEMORY_BOUND, f"the emulator buffered {peak} bytes for nobody"
        for sock in attackers:
            sock.close()

        # The authenticated connection is older than the CONNECT timeout, and lives on.
        again = client.get_configuration_async(key_path=["uplink"]).result(TIMEOUT)
        assert again.value == response.value
    finally:
        tracemalloc.stop()


def test_a_raw_connect_within_the_limit_is_accepted(running: RunningEmulator) -> None:
    with _raw(running.socket_path) as sock:
        sock.sendall(_connect_frame(running.emulator.tokens[COMPONENT]))
        reader = FrameReader()
        ack = None
        while ack is None:
            chunk = sock.recv(65536)
            assert chunk, "the emulator hung up on a valid CONNECT"
            reader.push(chunk)
            ack = reader.next_message()
        assert ack.int32(":message-type") == MessageType.CONNECT_ACK
        assert ack.int32(":message-flags") == 1  # ConnectionAccepted


def test_a_connect_larger_than_the_limit_is_refused_at_its_prelude(
    running: RunningEmulator,
) -> None:
    with _raw(running.socket_path) as sock:
        sock.sendall(_prelude(MAX_CONNECT_MESSAGE_LENGTH + 1))
        assert _closed_by_peer(sock)
    client = running.client(COMPONENT)
    assert client.get_configuration_async(key_path=["uplink"]).result(TIMEOUT).value


def test_the_frame_reader_refuses_an_oversized_message_before_its_body() -> None:
    reader = FrameReader(max_message_length=1024)
    with pytest.raises(FramingError, match=r"outside 16\.\.1024"):
        reader.feed(_prelude(2048))
    assert reader.pending == 12  # the prelude only, never a 2 KiB buffer


def test_the_frame_reader_limit_applies_from_the_next_message() -> None:
    small = encode(Message(headers=(Header.int32(":stream-id", 0),), payload=b"x"))
    large = encode(Message(payload=b"y" * 4096))
    reader = FrameReader(max_message_length=1024)
    reader.push(small + large)
    first = reader.next_message()
    assert first is not None and first.payload == b"x"
    reader.max_message_length = MAX_MESSAGE_LENGTH  # e.g. once the CONNECT is accepted
    second = reader.next_message()
    assert second is not None and second.payload == b"y" * 4096
    assert reader.next_message() is None and reader.pending == 0
