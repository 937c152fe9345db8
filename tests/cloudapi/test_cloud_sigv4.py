"""The edge client's SigV4 signatures, verified by the local API as API Gateway would.

Every request is checked server-side with botocore's signer and the principal's
secret; tampering with the signature, the body, the path, the key or the clock is
refused with 403 before any handler runs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import urllib3
from botocore.credentials import Credentials

from wardlink.cloudclient import WardlinkApiClient, resolve_credentials
from wardlink.localcloud import LocalCloud


def _send(
    cloud: LocalCloud, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, Any]:
    response = urllib3.PoolManager().request(
        method, cloud.endpoint + path, body=body or None, headers=headers, retries=False
    )
    return response.status, json.loads(response.data or b"null")


def _signed(
    api: WardlinkApiClient, cloud: LocalCloud, method: str, path: str, body: bytes = b""
) -> dict[str, str]:
    return api.signed_headers(method, cloud.endpoint + path, body)


def test_signed_request_is_accepted(api: WardlinkApiClient, local_cloud: LocalCloud) -> None:
    headers = _signed(api, local_cloud, "GET", "/devices?gateway_id=gw-none")
    status, page = _send(local_cloud, "GET", "/devices?gateway_id=gw-none", headers)
    assert (status, page["items"]) == (200, [])


def test_tampered_signature_is_refused(api: WardlinkApiClient, local_cloud: LocalCloud) -> None:
    headers = _signed(api, local_cloud, "GET", "/devices?gateway_id=gw-none")
    signature = headers["Authorization"][-64:]
    flipped = "0" if signature[-1] != "0" else "1"
    headers["Authorization"] = headers["Authorization"][:-1] + flipped
    before = local_cloud.stats().api_signature_rejections
    status, body = _send(local_cloud, "GET", "/devices?gateway_id=gw-none", headers)
    assert status == 403
    assert "signature" in body["message"]
    assert local_cloud.stats().api_signature_rejections == before + 1


def test_changed_body_path_or_query_is_refused(
    api: WardlinkApiClient, local_cloud: LocalCloud, unique: str
) -> None:
    body = json.dumps({"gateway_id": f"gw-{unique}", "device_id": "d", "model": "m"}).encode()
    headers = _signed(api, local_cloud, "POST", "/devices", body)
    forged = body.replace(b'"m"', b'"X"')
    assert _send(local_cloud, "POST", "/devices", headers, forged)[0] == 403

    headers = _signed(api, local_cloud, "GET", "/devices?gateway_id=a")
    assert _send(local_cloud, "GET", "/devices?gateway_id=b", headers)[0] == 403
    assert _send(local_cloud, "GET", "/alarms?gateway_id=a", headers)[0] == 403
    assert _send(local_cloud, "POST", "/devices?gateway_id=a", headers)[0] == 403


def test_unsigned_unknown_key_and_stale_date_are_refused(local_cloud: LocalCloud) -> None:
    assert _send(local_cloud, "GET", "/devices?gateway_id=a", {})[0] == 403

    stranger = WardlinkApiClient(
        local_cloud.endpoint, local_cloud.region, Credentials("AKIAUNKNOWN", "secret")
    )
    status, body = _send(
        local_cloud,
        "GET",
        "/devices?gateway_id=a",
        _signed(stranger, local_cloud, "GET", "/devices?gateway_id=a"),
    )
    assert status == 403 and "token" in body["message"]

    wrong_region = WardlinkApiClient(
        local_cloud.endpoint, "eu-west-1",
        Credentials(local_cloud.credentials.access_key, local_cloud.credentials.secret_key),
    )  # fmt: skip
    headers = _signed(wrong_region, local_cloud, "GET", "/devices?gateway_id=a")
    assert _send(local_cloud, "GET", "/devices?gateway_id=a", headers)[0] == 403


def test_clock_skew_is_refused(local_cloud: LocalCloud) -> None:
    from wardlink.localcloud.sigv4 import SignatureError, SigV4Verifier

    creds = local_cloud.credentials
    api = WardlinkApiClient(
        "http://localhost:1", local_cloud.region, Credentials(creds.access_key, creds.secret_key)
    )
    headers = api.signed_headers("GET", "http://localhost:1/devices", b"")
    headers = {k.lower(): v for k, v in headers.items()} | {"host": "localhost:1"}
    later = SigV4Verifier(
        {creds.access_key: creds},
        local_cloud.region,
        clock=lambda: datetime.now(UTC) + timedelta(minutes=6),
    )
    with pytest.raises(SignatureError, match="expired"):
        later.verify("GET", "/devices", headers, b"")
    now = SigV4Verifier({creds.access_key: creds}, local_cloud.region)
    assert now.verify("GET", "/devices", headers, b"") == creds


class _TokenExchangeService(BaseHTTPRequestHandler):
    """Plays Greengrass' token exchange service: role credentials for a bearer token."""

    token = ""
    credentials: dict[str, str] = {}

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.token:
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps(self.credentials).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def token_exchange(local_cloud: LocalCloud, unique: str) -> Iterator[dict[str, str]]:
    role = local_cloud.gateway_credentials(f"gw-{unique}")  # the TES role, for this thing
    handler = type("TES", (_TokenExchangeService,), {
        "token": f"tes-token-{unique}",
        "credentials": {
            "AccessKeyId": role.access_key,
            "SecretAccessKey": role.secret_key,
            "Token": role.session_token or "",
            "Expiration": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    })  # fmt: skip
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://localhost:{server.server_address[1]}/2016-11-01/credentialprovider/",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": f"tes-token-{unique}",
            "role_arn": role.arn,
            "session_token": role.session_token or "",
        }
    finally:
        server.shutdown()
        server.server_close()


def test_greengrass_token_exchange_credentials_sign_requests(
    local_cloud: LocalCloud, token_exchange: dict[str, str], unique: str
) -> None:
    environ = {k: v for k, v in token_exchange.items() if k.startswith("AWS_")}
    credentials = resolve_credentials(environ)
    assert credentials.method == "container-role"
    assert credentials.get_frozen_credentials().token == token_exchange["session_token"]

    api = WardlinkApiClient(local_cloud.endpoint, local_cloud.region, credentials)
    device = api.register_device(gateway_id=f"gw-{unique}", device_id="tes-1", model="M")
    assert device.device_uid == f"gw-{unique}/tes-1"

    # without the session token the same keys are refused
    frozen = credentials.get_frozen_credentials()
    tokenless = WardlinkApiClient(
        local_cloud.endpoint, local_cloud.region, Credentials(frozen.access_key, frozen.secret_key)
    )
    headers = _signed(tokenless, local_cloud, "GET", "/devices?gateway_id=a")
    assert _send(local_cloud, "GET", "/devices?gateway_id=a", headers)[0] == 403


def test_default_chain_is_the_fallback() -> None:
    credentials = resolve_credentials(
        {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "secret"}
    )
    assert credentials.method == "env"
    assert credentials.get_frozen_credentials().access_key == "AKIAENV"
