"""The gateway's client for the cloud API: SigV4-signed, retried, typed.

Every request is signed with SigV4 for service ``execute-api`` (the REST API uses
AWS_IAM authorization), with credentials from the Greengrass token exchange service
or the default chain, re-signed on each attempt so a retry never carries a stale
date or expired keys.

Retries: 429, 5xx and connection errors, with exponential backoff and full jitter
(``RetryPolicy``). Device registration is an upsert, so retrying it is safe; an
upload-URL request retried after a lost response may leave one extra *pending*
entry in the device's ``data_files``, which is harmless.

Only TLS leaves the machine: ``https://`` endpoints, and ``http://`` to a loopback
host (the local cloud) and nothing else, checked when the client is made and again
before each request and upload (``wardlink.contract.endpoints``), redirects not
followed. The requests carry SigV4 signatures and device identities, and the
upload PUTs carry device data files.

Signing and sending are a backend's (``wardlink.cloudclient.transport``): botocore
over urllib3 by default, or the AWS Common Runtime the gateway's components have
loaded already (``for_gateway``), which keeps botocore, urllib3 and OpenSSL out of
the Uplink. Everything above - the TLS rule, retries, timeouts, error mapping,
models - is this module's, the same for both. Nothing of either backend is imported
with this module: the Uplink imports it only once it has a device to register, and
a gateway without a cloud API configured never loads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel

from wardlink.cloudclient.errors import ApiClientError, ApiUnavailableError
from wardlink.cloudclient.retry import RetryPolicy
from wardlink.cloudclient.transport import Backend, BackendName, ConnectionFailed
from wardlink.contract.access import gateway_path, sequence_path
from wardlink.contract.audit import AuditFindingPage
from wardlink.contract.endpoints import require_tls
from wardlink.contract.models import (
    Alarm,
    AlarmAction,
    AlarmActionRequest,
    AlarmPage,
    AlarmState,
    AuditPage,
    Device,
    DevicePage,
    DeviceRegistration,
    GatewaySequence,
    UploadRequest,
    UploadTicket,
)

if TYPE_CHECKING:
    import urllib3

M = TypeVar("M", bound=BaseModel)


class WardlinkApiClient:
    """Client for the Wardlink cloud API.

    ``endpoint`` is the API's invoke URL including the stage, e.g.
    ``https://abc123.execute-api.eu-west-1.amazonaws.com/prod`` (or the local
    cloud's ``http://127.0.0.1:PORT``: plain ``http://`` only to a loopback host,
    ``PlaintextEndpointError`` otherwise).

    ``backend`` signs and sends (``wardlink.cloudclient.transport``): ``"botocore"``
    (the default) or ``"crt"``. ``credentials``: for botocore any botocore
    credentials object, for crt an awscrt credentials provider or any object with
    ``get_frozen_credentials()``; by default resolved as the gateway would.
    ``ca_file`` trusts that CA bundle instead of the system's (HTTPS to a private
    CA); ``pool`` is a urllib3 pool for the botocore backend.
    """

    def __init__(
        self,
        endpoint: str,
        region: str,
        credentials: Any | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        pool: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "wardlink-gateway",
        backend: BackendName = "botocore",
        ca_file: str | Path | None = None,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL, not {endpoint!r}")
        _require_tls(endpoint)
        self._base = endpoint.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._user_agent = user_agent
        self._backend = _make_backend(
            backend, region, credentials, pool, Path(ca_file) if ca_file else None
        )

    @classmethod
    def for_gateway(cls, endpoint: str, region: str, **options: Any) -> WardlinkApiClient:
        """The client a gateway component uses: the awscrt backend when awscrt is installed.

        awscrt is already loaded in every component (the Greengrass IPC client), so
        the API costs the Uplink no botocore, urllib3 or OpenSSL. Without awscrt it
        falls back to botocore. ``options`` are the constructor's.
        """
        from importlib.util import find_spec

        backend: BackendName = "crt" if find_spec("awscrt") is not None else "botocore"
        return cls(endpoint, region, backend=options.pop("backend", backend), **options)

    @property
    def backend(self) -> BackendName:
        """Which backend signs and sends: ``"botocore"`` or ``"crt"``."""
        return self._backend.name

    # -- devices ------------------------------------------------------------------

    def register_device(
        self, registration: DeviceRegistration | None = None, **fields: Any
    ) -> Device:
        """Register or update a device (``DeviceRegistration`` or its fields as kwargs)."""
        body = registration or DeviceRegistration(**fields)
        return self._call("POST", gateway_path(_segment(body.gateway_id)), Device, body=body)

    def get_device(self, device_uid: str) -> Device | None:
        """One device by ``"{gateway_id}/{device_id}"``; None if it is not registered."""
        try:
            return self._call("GET", _device_path(device_uid), Device)
        except ApiClientError as exc:
            if exc.status == 404:
                return None
            raise

    def search_devices(
        self,
        *,
        gateway_id: str | None = None,
        site_id: str | None = None,
        model: str | None = None,
        firmware_version: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> DevicePage:
        """One page of a device search.

        With ``gateway_id``: that gateway's own devices (``/gateways/{id}/devices``,
        the only search a gateway may make), optionally narrowed by site, model and
        firmware. Without it: a fleet search by exactly one of site_id or model
        (support only).
        """
        path = gateway_path(_segment(gateway_id)) if gateway_id else "/devices"
        query = {
            "site_id": site_id,
            "model": model,
            "firmware_version": firmware_version,
            "limit": str(limit),
            "next_token": next_token,
        }
        return self._call("GET", path, DevicePage, query=query)

    def iter_devices(self, **selector: Any) -> Iterator[Device]:
        """Every device a fleet search matches, following ``next_token``."""
        token: str | None = None
        while True:
            page = self.search_devices(**selector, next_token=token)
            yield from page.items
            if not page.next_token:
                return
            token = page.next_token

    def request_upload_url(
        self,
        device_uid: str,
        filename: str,
        content_type: str = "application/octet-stream",
        *,
        procedure_id: str | None = None,
        size_bytes: int | None = None,
    ) -> UploadTicket:
        """A presigned PUT URL for a procedure data file, linked to the device."""
        body = UploadRequest(
            filename=filename,
            content_type=content_type,
            procedure_id=procedure_id,
            size_bytes=size_bytes,
        )
        return self._call("POST", _device_path(device_uid) + "/uploads", UploadTicket, body=body)

    def upload_file(
        self,
        device_uid: str,
        path: Path,
        content_type: str = "application/octet-stream",
        *,
        procedure_id: str | None = None,
    ) -> UploadTicket:
        """Request an upload URL for ``path`` and PUT the file to it (with retries)."""
        data = path.read_bytes()
        ticket = self.request_upload_url(
            device_uid, path.name, content_type, procedure_id=procedure_id, size_bytes=len(data)
        )
        what = f"upload of {path.name}"
        self.presigned(ticket.method, ticket.url, ticket.headers, data, what=what)
        return ticket

    def presigned(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: bytes = b"",
        *,
        what: str = "transfer",
    ) -> bytes:
        """Send ``method`` to a presigned S3 URL the API issued (with retries); the body.

        The URL carries its own signature, so nothing is signed here; it came from
        the API, so it is checked for TLS before anything is sent.
        """
        _require_tls(url)
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                reply = self._backend.exchange(method, url, dict(headers or {}), data,
                                               self._timeout_s)  # fmt: skip
            except ConnectionFailed as exc:
                error = f"connection error: {exc}"
            else:
                if reply.status < 300:
                    return reply.data
                if reply.status not in self._retry.retry_statuses:
                    raise ApiClientError(
                        reply.status, "UploadRefused", reply.data[:300].decode(errors="replace")
                    )
                error = f"HTTP {reply.status}"
            if attempt < self._retry.max_attempts:
                self._sleep(self._retry.delay(attempt))
        raise ApiUnavailableError(f"{what} failed: {error}")

    # -- alarms (manufacturer support) ---------------------------------------------

    def list_alarms(
        self, state: AlarmState | None = None, limit: int = 50, next_token: str | None = None
    ) -> AlarmPage:
        query = {
            "state": state.value if state else None,
            "limit": str(limit),
            "next_token": next_token,
        }
        return self._call("GET", "/alarms", AlarmPage, query=query)

    def get_alarm(self, alarm_id: str) -> Alarm:
        return self._call("GET", f"/alarms/{_segment(alarm_id)}", Alarm)

    def act_on_alarm(
        self, alarm_id: str, action: AlarmAction, note: str, snooze_seconds: int | None = None
    ) -> Alarm:
        body = AlarmActionRequest(note=note, snooze_seconds=snooze_seconds)
        return self._call("POST", f"/alarms/{_segment(alarm_id)}/{action.value}", Alarm, body=body)

    def alarm_history(
        self, alarm_id: str, limit: int = 50, next_token: str | None = None
    ) -> AuditPage:
        return self._call(
            "GET",
            f"/alarms/{_segment(alarm_id)}/history",
            AuditPage,
            query={"limit": str(limit), "next_token": next_token},
        )

    # -- Device Defender audit findings (support) ----------------------------------

    def list_audit_findings(
        self, days: int | None = None, task_id: str | None = None, limit: int = 50,
        next_token: str | None = None,
    ) -> AuditFindingPage:
        """The latest audit's non-compliant findings (or ``task_id``'s), one page."""
        query = {"days": str(days) if days else None, "task_id": task_id,
                 "limit": str(limit), "next_token": next_token}  # fmt: skip
        return self._call("GET", "/audit/findings", AuditFindingPage, query=query)

    # -- gateways -------------------------------------------------------------------

    def last_acknowledged_seq(self, gateway_id: str) -> int:
        """The highest ``seq`` the cloud has stored for ``gateway_id`` (0 if none yet)."""
        return self._call(
            "GET", sequence_path(_segment(gateway_id)), GatewaySequence
        ).last_acknowledged_seq

    # -- transport ------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        body: BaseModel | None = None,
        query: Mapping[str, str | None] | None = None,
    ) -> M:
        payload = body.model_dump_json(exclude_none=True).encode() if body is not None else b""
        _, data = self.send(method, path, payload, query)
        return model.model_validate_json(data)

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        query: Mapping[str, str | None] | None = None,
    ) -> tuple[int, bytes]:
        """Send one signed request with retries; returns (status, body) of a 2xx.

        4xx other than 429 raise ``ApiClientError`` at once; retryable failures that
        outlast the policy raise ``ApiUnavailableError``.
        """
        url = _require_tls(self._base + path + canonical_query(query))
        last_error = ""
        for attempt in range(1, self._retry.max_attempts + 1):
            headers = self.signed_headers(method, url, body)
            retry_after: str | None = None
            try:
                reply = self._backend.exchange(method, url, headers, body, self._timeout_s)
            except ConnectionFailed as exc:
                last_error = f"connection error: {exc}"
            else:
                if 200 <= reply.status < 300:
                    return reply.status, reply.data
                if reply.status not in self._retry.retry_statuses:
                    code, message = _error_fields(reply.data)
                    raise ApiClientError(reply.status, code, message)
                retry_after = reply.headers.get("retry-after")
                last_error = f"HTTP {reply.status}"
            if attempt < self._retry.max_attempts:
                self._sleep(self._retry.delay(attempt, retry_after))
        raise ApiUnavailableError(
            f"{method} {path} failed after {self._retry.max_attempts} attempts: {last_error}"
        )

    def signed_headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """Headers for one attempt, SigV4-signed with the current credentials."""
        headers = self._backend.sign(
            method, url, {"Content-Type": "application/json", "Accept": "application/json"}, body
        )
        headers["User-Agent"] = self._user_agent  # not signed (SigV4 leaves it out)
        return headers


def _make_backend(
    name: BackendName,
    region: str,
    credentials: Any | None,
    pool: urllib3.PoolManager | None,
    ca_file: Path | None,
) -> Backend:
    if name == "botocore":
        from wardlink.cloudclient.backend_botocore import BotocoreBackend

        return BotocoreBackend(region, credentials, pool=pool, ca_file=ca_file)
    if name == "crt":
        if pool is not None:
            raise ValueError("pool is a urllib3 pool: the crt backend makes its own connections")
        from wardlink.cloudclient.backend_crt import CrtBackend

        return CrtBackend(region, credentials, ca_file=ca_file)
    raise ValueError(f"backend must be 'botocore' or 'crt', not {name!r}")


def _require_tls(url: str) -> str:
    """``url`` if it is https, or http to a loopback host; PlaintextEndpointError otherwise."""
    scheme = urlsplit(url).scheme
    if scheme not in ("https", "http"):  # the URL itself may hold a signature: not shown
        raise ValueError(f"refusing a {scheme or 'scheme-less'} URL: only https:// is used")
    return require_tls(url, secure="https", plain="http")


def canonical_query(query: Mapping[str, str | None] | None) -> str:
    """``?k=v&...`` already in SigV4 canonical form (sorted, RFC 3986 encoded).

    Sending the canonical form means the string we sign is byte for byte the one
    API Gateway canonicalises on its side, whatever the characters in the values.
    """
    pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in (query or {}).items()
        if v is not None
    )
    return "?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else ""


def _device_path(device_uid: str) -> str:
    """``/gateways/{gateway_id}/devices/{device_id}`` for ``"{gateway_id}/{device_id}"``.

    The gateway is its own path segment so that IAM can match it against the
    caller's thing name; a uid without the ``/`` is refused here rather than sent.
    """
    gateway_id, sep, device_id = device_uid.partition("/")
    if not sep or not gateway_id or not device_id:
        raise ValueError(f"device_uid must be 'gateway_id/device_id', not {device_uid!r}")
    return gateway_path(_segment(gateway_id), _segment(device_id))


def _segment(identifier: str) -> str:
    """Percent-encode an id for one path segment (``/`` -> %2F, ``#`` -> %23)."""
    return quote(identifier, safe="")


def _error_fields(data: bytes) -> tuple[str, str]:
    try:
        document = json.loads(data)
    except ValueError:
        return "HttpError", data[:300].decode(errors="replace")
    if isinstance(document, dict):
        message = str(document.get("message", document))
        details = document.get("details")
        if details:
            message += " " + json.dumps(details)
        return str(document.get("error", "HttpError")), message[:2000]
    return "HttpError", str(document)[:300]
