"""The edge client's retries: 429/5xx, connection errors and timeouts retried, 4xx not, re-signed.

Each test runs with both backends (botocore over urllib3, and awscrt): what the client
does with a response must not depend on which one carried it.
"""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from wardlink.cloudclient import ApiClientError, ApiUnavailableError, RetryPolicy, WardlinkApiClient
from wardlink.cloudclient.transport import BackendName

DEVICE = {
    "device_uid": "gw/d", "device_id": "d", "gateway_id": "gw", "model": "m",
    "last_seen": "2026-11-21T00:00:00+00:00", "registered_at": "2026-11-21T00:00:00+00:00",
}  # fmt: skip


class _Scripted(BaseHTTPRequestHandler):
    """Answers from a script of (status, headers) and records what it received."""

    script: list[tuple[int, dict[str, str]]] = []
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()} | {":path": self.path})
        status, headers = self.script.pop(0) if self.script else (200, {})
        body = json.dumps(DEVICE if status == 200 else {"error": "E", "message": "m"}).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def scripted() -> Iterator[type[_Scripted]]:
    handler = type("Scripted", (_Scripted,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["botocore", "crt"])
def backend(request: pytest.FixtureRequest) -> BackendName:
    name: BackendName = request.param
    return name


def _client(
    url: str, sleeps: list[float], backend: BackendName, attempts: int = 4, timeout_s: float = 5
) -> WardlinkApiClient:
    return WardlinkApiClient(
        url, "us-east-1", Credentials("AKIA", "secret"),
        retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.5, max_delay_s=4,
                          rng=random.Random(7)),
        sleep=sleeps.append, timeout_s=timeout_s, backend=backend,
    )  # fmt: skip


def test_throttling_and_server_errors_are_retried_with_backoff(
    scripted: Any, backend: BackendName
) -> None:
    scripted.script.extend([(429, {"Retry-After": "2"}), (503, {}), (502, {})])
    sleeps: list[float] = []
    device = _client(scripted.url, sleeps, backend).get_device("gw/d")
    assert device is not None and device.device_uid == "gw/d"
    assert len(scripted.seen) == 4
    assert len(sleeps) == 3
    assert sleeps[0] >= 2  # Retry-After honoured
    assert all(0 <= s <= 4 for s in sleeps)
    # each attempt is signed afresh
    assert all(h["authorization"].startswith("AWS4-HMAC-SHA256 ") for h in scripted.seen)


def test_client_errors_are_not_retried(scripted: Any, backend: BackendName) -> None:
    scripted.script.append((400, {}))
    sleeps: list[float] = []
    with pytest.raises(ApiClientError) as error:
        _client(scripted.url, sleeps, backend).search_devices(gateway_id="gw")
    assert (error.value.status, error.value.code, error.value.message) == (400, "E", "m")
    assert (len(scripted.seen), sleeps) == (1, [])
    assert scripted.seen[0][":path"] == "/gateways/gw/devices?limit=50"


def test_redirects_are_not_followed(scripted: Any, backend: BackendName) -> None:
    scripted.script.append((307, {"Location": "http://192.0.2.10/elsewhere"}))
    sleeps: list[float] = []
    with pytest.raises(ApiClientError) as error:
        _client(scripted.url, sleeps, backend).get_device("gw/d")
    assert error.value.status == 307
    assert (len(scripted.seen), sleeps) == (1, [])


def test_retries_run_out(scripted: Any, backend: BackendName) -> None:
    scripted.script.extend([(500, {})] * 5)
    sleeps: list[float] = []
    with pytest.raises(ApiUnavailableError, match="HTTP 500"):
        _client(scripted.url, sleeps, backend, attempts=3).get_device("gw/d")
    assert (len(scripted.seen), len(sleeps)) == (3, 2)


def test_connection_errors_are_retried(backend: BackendName) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    sleeps: list[float] = []
    with pytest.raises(ApiUnavailableError, match="connection error"):
        _client(f"http://127.0.0.1:{port}", sleeps, backend, attempts=3).get_device("gw/d")
    assert len(sleeps) == 2


def test_a_server_that_never_answers_times_out_and_is_retried(backend: BackendName) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (the kernel does), never reads or answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        sleeps: list[float] = []
        with pytest.raises(ApiUnavailableError, match="connection error"):
            _client(url, sleeps, backend, attempts=2, timeout_s=0.3).get_device("gw/d")
    assert len(sleeps) == 1


def test_an_upload_put_is_retried_and_its_refusal_mapped(
    scripted: Any, backend: BackendName, tmp_path: Path
) -> None:
    class Tickets(BaseHTTPRequestHandler):
        """POST .../uploads hands out a ticket; PUT answers from a script."""

        puts: list[int] = [503, 403]
        bodies: list[tuple[str, bytes]] = []

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._answer(200, json.dumps({
                "upload_id": "u-1", "device_uid": "gw/d", "key": "devices/gw/d/u-1/a.bin",
                "url": f"http://127.0.0.1:{server.server_address[1]}/put?X-Amz-Signature=ab%2Fc",
                "headers": {"Content-Type": "application/octet-stream"},
                "expires_at": "2026-11-21T00:00:00+00:00",
            }).encode())  # fmt: skip

        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.bodies.append((self.path, self.rfile.read(length)))
            self._answer(self.puts.pop(0) if self.puts else 200, b"refused")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tickets)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    data = tmp_path / "a.bin"
    data.write_bytes(b"\x00\x01" * 600)
    sleeps: list[float] = []
    try:
        client = _client(f"http://127.0.0.1:{server.server_address[1]}", sleeps, backend)
        with pytest.raises(ApiClientError) as refused:
            client.upload_file("gw/d", data)
        assert (refused.value.status, refused.value.code) == (403, "UploadRefused")
        assert client.upload_file("gw/d", data).upload_id == "u-1"
    finally:
        server.shutdown()
        server.server_close()
    assert Tickets.bodies == [("/put?X-Amz-Signature=ab%2Fc", data.read_bytes())] * 3
    assert len(sleeps) == 1


def test_backoff_ceiling_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5, rng=random.Random(1))
    for attempt, ceiling in ((1, 1), (2, 2), (3, 4), (4, 5), (9, 5)):
        assert all(0 <= policy.delay(attempt) <= ceiling for _ in range(50))
