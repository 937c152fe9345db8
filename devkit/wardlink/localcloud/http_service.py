"""A loopback HTTP service in a thread: what the local cloud's AWS stand-ins share.

The local cloud serves several AWS endpoints that moto does not (the IoT registration
task, Greengrass v2's control plane, Device Defender's audit reads). Each is a small
``ThreadingHTTPServer`` on an ephemeral loopback port whose requests all go to one
``_serve`` method; this class is that scaffolding once, so each stand-in holds only
its own routes.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


class LoopbackHttpService:
    """``start()`` serves in a daemon thread and returns the endpoint; ``stop()`` joins it."""

    #: The HTTP methods routed to ``_serve``; others get the standard library's 501.
    methods: ClassVar[tuple[str, ...]] = ("GET",)
    #: The serving thread's name (shows in thread dumps).
    thread_name: ClassVar[str] = "wardlink-local-http"

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        def handle(request: BaseHTTPRequestHandler) -> None:
            service._serve(request)

        def quiet(request: BaseHTTPRequestHandler, format: str, *args: Any) -> None:
            return  # the stand-ins report through their callers, not stderr

        namespace: dict[str, Any] = {"protocol_version": "HTTP/1.1", "log_message": quiet}
        namespace.update({f"do_{method}": handle for method in self.methods})
        return type("Handler", (BaseHTTPRequestHandler,), namespace)
