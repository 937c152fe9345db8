"""A real syslog-over-TLS receiver for tests (RFC 5425: TLS, octet-counting framing).

An asyncio TLS server that reads ``MSG-LEN SP SYSLOG-MSG`` frames exactly as a
site's collector would, and parses each message's RFC 5424 header. A frame that
is not octet-counted fails the connection (and is remembered in ``errors``).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+)"
    rb" (?P<msgid>\S+) (?P<sd>-|\[.*?\]) (?P<msg>.*)$",
    re.DOTALL,
)


@dataclass
class SyslogMessage:
    pri: int
    time: str
    host: str
    app: str
    procid: str
    msgid: str
    sd: str
    msg: str


@dataclass
class SyslogReceiver:
    cert: Path
    key: Path
    messages: list[SyslogMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self, port: int = 0) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert), str(self.key))
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                length = await reader.readuntil(b" ")
                if not length[:-1].isdigit() or len(length) > 8:
                    self.errors.append(f"not octet-counted: {length!r}")
                    return
                frame = await reader.readexactly(int(length[:-1]))
                self.raw.append(frame)
                match = HEADER.match(frame)
                if match is None:
                    self.errors.append(f"not RFC 5424: {frame[:80]!r}")
                    return
                parts = {k: v.decode() for k, v in match.groupdict().items()}
                self.messages.append(SyslogMessage(pri=int(parts.pop("pri")), **parts))
                self.arrived.set()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return
        finally:
            writer.close()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[SyslogMessage]:
        async def enough() -> None:
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.messages

    async def drop_connections(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self.drop_connections()
            await self._server.wait_closed()
