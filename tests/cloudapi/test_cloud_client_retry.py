"""The edge client's retries: 429/5xx and connection errors retried, 4xx not, re-signed."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials

from wardlink.cloudclient import ApiClientError, ApiUnavailableError, RetryPolicy, WardlinkApiClient

DEVICE = {
    "device_uid": "gw/d", "device_id": "d", "gateway_id": "gw", "model": "m",
    "last_seen": "2026-11-21T00:00:00+00:00", "registered_at": "2026-11-21T00:00:00+00:00",
}  # fmt: skip


class _Scripted(BaseHTTPRequestHandler):
    """Answers from a script of (status, headers) and records what it received."""

    script: list[tuple[int, dict[str, str]]] = []
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _client(url: str, sleeps: list[float], attempts: int = 4) -> WardlinkApiClient:
    return WardlinkApiClient(
        url, "us-east-1", Credentials("AKIA", "secret"),
        retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.5, max_delay_s=4,
                          rng=random.Random(7)),
        sleep=sleeps.append, timeout_s=5,
    )  # fmt: skip


def test_throttling_and_server_errors_are_retried_with_backoff(scripted: Any) -> None:
    scripted.script.extend([(429, {"Retry-After": "2"}), (503, {}), (502, {})])
    sleeps: list[float] = []
    device = _client(scripted.url, sleeps).get_device("gw/d")
    assert device is not None and device.device_uid == "gw/d"
    assert len(scripted.seen) == 4
    assert len(sleeps) == 3
    assert sleeps[0] >= 2  # Retry-After honoured
    assert all(0 <= s <= 4 for s in sleeps)
    # each attempt is signed afresh
    assert all(h["authorization"].startswith("AWS4-HMAC-SHA256 ") for h in scripted.seen)


def test_client_errors_are_not_retried(scripted: Any) -> None:
    scripted.script.append((400, {}))
    sleeps: list[float] = []
    with pytest.raises(ApiClientError) as error:
        _client(scripted.url, sleeps).search_devices(gateway_id="gw")
    assert error.value.status == 400
    assert (len(scripted.seen), sleeps) == (1, [])


def test_retries_run_out(scripted: Any) -> None:
    scripted.script.extend([(500, {})] * 5)
    sleeps: list[float] = []
    with pytest.raises(ApiUnavailableError, match="HTTP 500"):
        _client(scripted.url, sleeps, attempts=3).get_device("gw/d")
    assert (len(scripted.seen), len(sleeps)) == (3, 2)


def test_connection_errors_are_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    sleeps: list[float] = []
    with pytest.raises(ApiUnavailableError, match="connection error"):
        _client(f"http://127.0.0.1:{port}", sleeps, attempts=3).get_device("gw/d")
    assert len(sleeps) == 2


def test_backoff_ceiling_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5, rng=random.Random(1))
    for attempt, ceiling in ((1, 1), (2, 2), (3, 4), (4, 5), (9, 5)):
        assert all(0 <= policy.delay(attempt) <= ceiling for _ in range(50))
