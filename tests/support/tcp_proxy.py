"""A loopback TCP proxy whose connections a test can cut, to fake a network failure.

It relays bytes unchanged (TLS passes through), runs its own event loop in a
thread so it works with code under test in this process or another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.support.ports import free_port


class CuttableProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.refusing = False
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self._writers.update((client_w, server_w))
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        self._writers.difference_update((client_w, server_w))

    def cut(self, refuse: bool = True) -> None:
        """Drop every open connection; optionally refuse new ones until ``restore``."""

        def _cut() -> None:
            self.refusing = refuse
            self.cuts += 1
            for writer in list(self._writers):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(_cut)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "refusing", False)

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
