"""A loopback HTTPS front for a plain-HTTP server: TLS terminated, bytes relayed unchanged.

The local cloud serves http on loopback; the API a gateway reaches is https with a
certificate from a CA. This front presents a test CA's server certificate and relays
each decrypted connection to the local cloud byte for byte, so SigV4 signatures made
for the front's address verify there. ``relayed`` counts the connections that got
past the TLS handshake (a client that refused the certificate sends nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path

from tests.support.ports import free_port


class TlsFront:
    def __init__(self, target_port: int, cert: Path, key: Path, hosts: tuple[str, ...]) -> None:
        self.target_port = target_port
        self.hosts = hosts
        self.port = free_port()
        self.relayed = 0
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context.load_cert_chain(cert, key)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, list(self.hosts), self.port, ssl=self._context
        )

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.relayed += 1
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
