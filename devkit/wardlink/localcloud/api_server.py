"""The local API Gateway: HTTP on loopback, SigV4 verified, handlers called in-process.

Like the deployed REST API with AWS_IAM authorization, every request must be signed
by a known principal (403 otherwise, before any handler runs), and that principal's
role must allow the method and path, as the deployed IAM policies do: a gateway only
``/gateways/{its thing name}/devices...``, support the fleet search and the alarms
(``wardlink.contract.access``, the table the CDK app builds the policies from). The
refusal names neither the caller's target nor anything in it.

``admin`` serves ``/_local/...`` for the local cloud's own use (minting credentials
for ``wardlink cloud credentials``) after the same signature check. Routing follows the
REST API's resources; the handler gets an API Gateway REST proxy event and its
response is written back as API Gateway would.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from wardlink.contract.access import allows
from wardlink.localcloud.apigw import rest_proxy_event
from wardlink.localcloud.invoker import LambdaInvoker
from wardlink.localcloud.routes import MethodNotAllowed, match_route
from wardlink.localcloud.sigv4 import Principal, SignatureError, SigV4Verifier

log = logging.getLogger(__name__)

MAX_BODY = 6 * 1024 * 1024  # Lambda's synchronous payload limit
ADMIN_PREFIX = "/_local/"
#: API Gateway's answer when IAM denies: it says nothing about the resource.
NOT_AUTHORIZED = "User is not authorized to access this resource"
AdminHandler = Callable[[Principal, str, str, bytes], tuple[int, dict[str, Any]]]


class LocalApiServer:
    def __init__(
        self,
        verifier: SigV4Verifier,
        invoker: LambdaInvoker,
        host: str = "127.0.0.1",
        port: int = 0,
        on_response: Callable[[str, str, int], None] | None = None,
        admin: AdminHandler | None = None,
    ) -> None:
        self._admin = admin
        self._verifier = verifier
        self._invoker = invoker
        self._on_response = on_response
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.rejected_signatures = 0
        self.refused_by_policy = 0

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="wardlink-local-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "wardlink-local-api"
            # headers and body go out as two writes; without TCP_NODELAY a kept-alive
            # connection waits ~40 ms for the client's delayed ACK on every response
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return  # the handlers log; per-request access lines are noise here

            def do_GET(self) -> None:
                server._serve(self)

            def do_POST(self) -> None:
                server._serve(self)

            def do_PUT(self) -> None:
                server._serve(self)

            def do_DELETE(self) -> None:
                server._serve(self)

            def do_PATCH(self) -> None:
                server._serve(self)

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        method = request.command
        raw_path, _, raw_query = request.path.partition("?")
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            self._reply(request, method, raw_path, 400, {"message": "bad Content-Length"})
            return
        if length < 0 or length > MAX_BODY:
            self._reply(request, method, raw_path, 413, {"message": "Request Too Long"})
            return
        body = request.rfile.read(length) if length else b""
        headers = {k: v for k, v in request.headers.items()}
        try:
            principal = self._verifier.verify(method, request.path, headers, body)
        except SignatureError as exc:
            self.rejected_signatures += 1
            self._reply(request, method, raw_path, 403, {"message": str(exc)})
            return
        if raw_path.startswith(ADMIN_PREFIX) and self._admin is not None:
            status, answer = self._admin(principal, method, raw_path, body)
            self._reply(request, method, raw_path, status, answer)
            return
        if not allows(principal.role, principal.thing_name, method, raw_path):
            self.refused_by_policy += 1
            self._reply(request, method, raw_path, 403, {"message": NOT_AUTHORIZED})
            return
        try:
            match = match_route(method, raw_path)
        except MethodNotAllowed:
            self._reply(request, method, raw_path, 405, {"message": "Method Not Allowed"})
            return
        if match is None:
            self._reply(request, method, raw_path, 404, {"message": "Not Found"})
            return
        event = rest_proxy_event(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            match=match,
            principal=principal,
            source_ip=request.client_address[0],
        )
        try:
            response = self._invoker.invoke(match.route.handler, event)
        except Exception:
            # API Gateway answers 502 when the Lambda itself fails (not a handled 500)
            log.exception("handler %s failed", match.route.handler)
            self._reply(request, method, raw_path, 502, {"message": "Internal server error"})
            return
        self._write(request, method, raw_path, response)

    def _write(
        self, request: BaseHTTPRequestHandler, method: str, path: str, response: dict[str, Any]
    ) -> None:
        status = int(response.get("statusCode", 502))
        raw = response.get("body") or ""
        data = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        headers: dict[str, list[str]] = {}
        for key, value in (response.get("headers") or {}).items():
            headers.setdefault(key, []).append(str(value))
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers[key] = [str(v) for v in values]
        request.send_response(status)
        for key, values in headers.items():
            if key.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            for value in values:
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if method != "HEAD":
            request.wfile.write(data)
        if self._on_response:
            self._on_response(method, path, status)

    def _reply(
        self,
        request: BaseHTTPRequestHandler,
        method: str,
        path: str,
        status: int,
        body: dict[str, Any],
    ) -> None:
        self._write(
            request,
            method,
            path,
            {
                "statusCode": status,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps(body),
            },
        )
