"""Both client backends against the real signed API: the local cloud verifies every signature.

``WardlinkApiClient`` signs and sends through botocore over urllib3 (CLIs, tests) or
through awscrt (what a gateway's Uplink uses, ``for_gateway``). Each test here runs
the same calls with both and expects the same results:

* a gateway's whole use of the API - registration, lookup, search, upload, the
  ``seq`` anchor - with identifiers that need percent-encoding in the path and query,
  every signature checked by the local cloud (none rejected), refusals mapped alike;
* credentials as Greengrass gives them: a token exchange service served on loopback
  (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` + ``AWS_CONTAINER_AUTHORIZATION_TOKEN``),
  and a clear ``NoCredentialsError`` when there are none or the service refuses;
* HTTPS: through a TLS front with a test CA's certificate, trusted with ``ca_file``;
  the system trust store refuses it, as does a name the certificate does not carry,
  and then nothing reaches the API;
* and the Uplink, with an API configured, registering and anchoring in a fresh
  interpreter that loads neither botocore, urllib3 nor OpenSSL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from tests.support.fleet_api import client_for
from tests.support.tls_front import TlsFront
from wardlink.cloudclient import (
    ApiClientError,
    ApiUnavailableError,
    NoCredentialsError,
    RetryPolicy,
    WardlinkApiClient,
)
from wardlink.cloudclient.transport import BackendName
from wardlink.devtools.pki import make_dev_pki
from wardlink.localcloud import LocalCloud

BACKENDS: list[BackendName] = ["botocore", "crt"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> BackendName:
    name: BackendName = request.param
    return name


def test_a_gateway_s_calls_are_signed_and_answered_alike(
    local_cloud: LocalCloud, backend: BackendName, unique: str, tmp_path: Path
) -> None:
    gateway = f"ward-{unique}"
    client = client_for(local_cloud, local_cloud.gateway_credentials(gateway), backend=backend)
    assert client.backend == backend
    rejected = local_cloud.stats().api_signature_rejections

    device = client.register_device(
        gateway_id=gateway,
        device_id="spo2-1",
        model="Nonin OEM III",
        firmware_version="1.2+b7",  # '+' is percent-encoded in the query
        site_id="site-a",
    )
    assert device.device_uid == f"{gateway}/spo2-1"
    found = client.search_devices(
        gateway_id=gateway, model="Nonin OEM III", firmware_version="1.2+b7", site_id="site-a"
    )
    assert [d.device_uid for d in found.items] == [device.device_uid]
    assert client.get_device(f"{gateway}/absent") is None
    data = tmp_path / "trace-1.csv"
    data.write_text("t,spo2\n0,97\n")
    ticket = client.upload_file(device.device_uid, data, "text/csv", procedure_id="p-1")
    stored = client.get_device(device.device_uid)
    assert stored is not None and [f.key for f in stored.data_files] == [ticket.key]
    assert client.last_acknowledged_seq(gateway) == 0
    assert local_cloud.stats().api_signature_rejections == rejected  # every signature verified

    with pytest.raises(ApiClientError) as other:
        client.register_device(gateway_id=f"other-{unique}", device_id="d", model="M")
    assert (other.value.status, other.value.code) == (403, "HttpError")
    assert other.value.message == "User is not authorized to access this resource"
    with pytest.raises(ApiClientError) as malformed:
        client.send("POST", f"/gateways/{gateway}/devices", b'{"gateway_id": ')
    assert (malformed.value.status, malformed.value.code) == (400, "ValidationError")


# -- credentials as Greengrass gives them ----------------------------------------------------


class _TokenExchangeService(BaseHTTPRequestHandler):
    """Greengrass's TES on loopback: role credentials for the component's bearer token."""

    token = ""
    document: dict[str, str] = {}
    asked: list[str] = []

    def do_GET(self) -> None:
        self.asked.append(self.headers.get("Authorization", ""))
        ok = self.headers.get("Authorization") == self.token
        body = json.dumps(self.document if ok else {"message": "denied"}).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing but what a test sets: no keys, profiles or instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def token_exchange(
    local_cloud: LocalCloud, unique: str, no_ambient_credentials: None
) -> Iterator[type[_TokenExchangeService]]:
    role = local_cloud.gateway_credentials(f"gw-tes-{unique}")
    expires = datetime.now(UTC) + timedelta(hours=1)
    handler = type("TES", (_TokenExchangeService,), {
        "token": f"tes-token-{unique}",
        "asked": [],
        "document": {
            "AccessKeyId": role.access_key,
            "SecretAccessKey": role.secret_key,
            "Token": role.session_token or "",
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    })  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.url = f"http://localhost:{server.server_address[1]}/2016-11-01/credentialprovider/"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_greengrass_token_exchange_credentials_sign_for_the_gateway(
    local_cloud: LocalCloud,
    token_exchange: Any,
    backend: BackendName,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", token_exchange.url)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token_exchange.token)
    api = WardlinkApiClient.for_gateway(local_cloud.endpoint, local_cloud.region, backend=backend)
    assert api.backend == backend
    device = api.register_device(gateway_id=f"gw-tes-{unique}", device_id="tes-1", model="M")
    assert device.device_uid == f"gw-tes-{unique}/tes-1"
    assert api.last_acknowledged_seq(f"gw-tes-{unique}") == 0
    assert set(token_exchange.asked) == {token_exchange.token}


def test_the_gateway_uses_the_crt_backend(
    local_cloud: LocalCloud, token_exchange: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", token_exchange.url)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token_exchange.token)
    assert WardlinkApiClient.for_gateway(local_cloud.endpoint, local_cloud.region).backend == "crt"


def test_a_refusing_token_service_or_no_credentials_is_a_clear_error(
    local_cloud: LocalCloud,
    token_exchange: Any,
    backend: BackendName,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(NoCredentialsError, match="TokenExchangeService"):
        WardlinkApiClient(local_cloud.endpoint, local_cloud.region, backend=backend)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", token_exchange.url)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-the-token")
    with pytest.raises(NoCredentialsError, match="TokenExchangeService"):
        WardlinkApiClient(local_cloud.endpoint, local_cloud.region, backend=backend)
    assert set(token_exchange.asked) == {"not-the-token"}


# -- HTTPS with a private CA ------------------------------------------------------------------


@pytest.fixture
def https_front(local_cloud: LocalCloud, tmp_path: Path) -> Iterator[tuple[TlsFront, Path]]:
    pki = make_dev_pki(tmp_path / "pki")  # server certificate for localhost and 127.0.0.1
    port = int(local_cloud.endpoint.rsplit(":", 1)[1])
    front = TlsFront(port, pki.server_cert, pki.server_key, hosts=("127.0.0.1", "127.0.0.2"))
    front.start()
    try:
        yield front, pki.ca_cert
    finally:
        front.stop()


def test_https_with_a_private_ca_and_nothing_sent_to_an_untrusted_server(
    local_cloud: LocalCloud, https_front: tuple[TlsFront, Path], backend: BackendName, unique: str
) -> None:
    front, ca = https_front
    gateway = f"gw-tls-{unique}"
    principal = local_cloud.gateway_credentials(gateway)
    credentials = Credentials(principal.access_key, principal.secret_key, principal.session_token)

    def client(host: str, ca_file: Path | None, timeout_s: float = 5) -> WardlinkApiClient:
        return WardlinkApiClient(
            f"https://{host}:{front.port}",
            local_cloud.region,
            credentials,
            backend=backend,
            ca_file=ca_file,
            retry=RetryPolicy(max_attempts=1),
            timeout_s=timeout_s,
        )

    for host, ca_file in (
        ("127.0.0.1", None),  # the system's CAs do not know the test CA
        ("127.0.0.2", ca),  # a name the certificate does not carry
    ):
        # awscrt's TLS (s2n) delays its failure report by seconds on purpose (timing-attack
        # blinding): a short timeout ends the attempt; either way it is a connection error
        refused = client(host, ca_file, timeout_s=1)
        with pytest.raises(ApiUnavailableError, match="connection error"):
            refused.register_device(gateway_id=gateway, device_id="d-1", model="M")
    assert front.relayed == 0

    for host in ("127.0.0.1", "localhost"):
        device = client(host, ca).register_device(
            gateway_id=gateway, device_id=f"d-{host}", model="M"
        )
        assert device.device_uid == f"{gateway}/d-{host}"
    assert front.relayed == 2


# -- the Uplink with an API, in a process of its own ------------------------------------------

UPLINK_CALLS = """
import json, sys
from wardlink.runtime.no_openssl import preload_without_openssl
assert preload_without_openssl()
import awsiot.greengrasscoreipc.clientv2  # what every component has loaded: awscrt
from wardlink.runtime.config import GatewayConfig
from wardlink.uplink.component import last_acknowledged_from, make_registrar
config = GatewayConfig.model_validate(json.loads(sys.argv[1]))
registrar = make_registrar(config)
registrar._register({"gateway_id": config.gateway_id, "device_id": "bed-1", "model": "M",
                     "status": "connected", "site_id": "site-u"})
print(json.dumps({"seq": last_acknowledged_from(config)(), "modules": sorted(sys.modules)}))
"""


def test_the_uplink_calls_the_api_without_botocore_urllib3_or_openssl(
    local_cloud: LocalCloud, token_exchange: Any, unique: str
) -> None:
    gateway = f"gw-tes-{unique}"  # the thing the token service's role is for
    config = {
        "gatewayId": gateway,
        "api": {"url": local_cloud.endpoint, "region": local_cloud.region, "siteId": "site-u"},
    }
    env = {
        **os.environ,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": token_exchange.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": token_exchange.token,
    }
    result = subprocess.run(
        [sys.executable, "-c", UPLINK_CALLS, json.dumps(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["seq"] == 0
    heavy = ("botocore", "boto3", "urllib3", "ssl", "_ssl", "_hashlib", "http.client")
    assert [m for m in report["modules"] if m.split(".")[0] in heavy or m in heavy] == []
    assert "wardlink.cloudclient.backend_crt" in report["modules"]
    device = client_for(local_cloud, local_cloud.gateway_credentials(gateway)).get_device(
        f"{gateway}/bed-1"
    )
    assert device is not None and device.site_id == "site-u"
