"""The API client's AWS Common Runtime backend: what a gateway component uses.

Every gateway component has awscrt loaded already: it carries the Greengrass IPC
client. awscrt also holds a SigV4 signer (``awscrt.auth.aws_sign_request``), AWS
credential providers and an HTTP client with its own TLS (s2n and AWS-LC, linked
into awscrt), so signing and sending an API call here loads no botocore, no urllib3
and no OpenSSL: about 12 MB less resident memory in the Uplink than the botocore
backend (56.7 -> 44.8 MB steady, ``benchmarks/bench_component_memory.py --api``).

Credentials, by default, come from awscrt's default provider chain: environment
variables, the shared profile, web identity, then - because a Greengrass component
that depends on ``aws.greengrass.TokenExchangeService`` gets
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (``http://localhost:<port>/2016-11-01/
credentialprovider/``) and ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` - the container
(ECS) provider, which GETs the role credentials from that endpoint with the token as
``Authorization`` and caches them until shortly before they expire. (aws-c-auth's
``credentials_provider_default_chain.c`` / ``credentials_provider_ecs.c``: plain
``http`` is used as given, ``https`` with TLS; in the chain the container provider
replaces the EC2 instance-metadata one.) The chain reads the process environment
itself. Like botocore's ``resolve_credentials``, making the backend without
explicit credentials fetches them once and raises ``NoCredentialsError`` if there
are none; a later failure to refresh them raises it from the call that signs.

``credentials`` may instead be an ``awscrt.auth.AwsCredentialsProvider``, or any
object with botocore's ``get_frozen_credentials()`` (asked again for every
signature), which is how the tests hand over the local cloud's identities.

One connection per request: the Uplink calls the API a few times a day (device
registration, the sequence anchor, uploads), so nothing is kept open between calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from wardlink.cloudclient.errors import NoCredentialsError
from wardlink.cloudclient.transport import SERVICE, BackendName, ConnectionFailed, Reply

if TYPE_CHECKING:
    from awscrt.auth import AwsCredentialsProvider
    from awscrt.http import HttpClientConnection
    from awscrt.io import ClientTlsContext

#: How long making the backend may wait for the first credentials, and a signature for its
#: (cached) credentials.
CREDENTIALS_TIMEOUT_S = 10.0
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class CrtBackend:
    name: BackendName = "crt"

    def __init__(
        self, region: str, credentials: Any | None = None, *, ca_file: Path | None = None
    ) -> None:
        from awscrt.io import ClientBootstrap

        self._region = region
        self._bootstrap = ClientBootstrap.get_or_create_static_default()
        self._provider = self._credentials_provider(credentials)
        self._ca_file = ca_file
        self._tls: ClientTlsContext | None = None
        self._tls_lock = threading.Lock()
        if credentials is None:
            self._first_credentials()

    def _credentials_provider(self, credentials: Any | None) -> AwsCredentialsProvider:
        from awscrt.auth import AwsCredentials, AwsCredentialsProvider

        if credentials is None:
            return AwsCredentialsProvider.new_default_chain(self._bootstrap)
        if isinstance(credentials, AwsCredentialsProvider):
            return credentials
        if not callable(getattr(credentials, "get_frozen_credentials", None)):
            raise TypeError(
                "credentials must be an awscrt AwsCredentialsProvider or have "
                f"get_frozen_credentials(), not {type(credentials).__name__}"
            )

        def current() -> AwsCredentials:
            frozen = credentials.get_frozen_credentials()
            return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None)

        return AwsCredentialsProvider.new_delegate(current)

    def _first_credentials(self) -> None:
        from awscrt.exceptions import AwsCrtError

        try:
            self._provider.get_credentials().result(CREDENTIALS_TIMEOUT_S)
        except (AwsCrtError, TimeoutError) as exc:
            raise NoCredentialsError(
                "no AWS credentials: on Greengrass, depend on aws.greengrass.TokenExchangeService; "
                "elsewhere set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile "
                f"({_reason(exc)})"
            ) from exc

    # -- signing --------------------------------------------------------------------------

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        from awscrt.auth import AwsSigningConfig, aws_sign_request
        from awscrt.exceptions import AwsCrtError

        parts = urlsplit(url)
        request = _request(method, parts, {"Host": _host_header(parts), **headers}, body)
        config = AwsSigningConfig(
            credentials_provider=self._provider, region=self._region, service=SERVICE
        )  # a new config per signature: it carries the signing time
        try:
            aws_sign_request(request, config).result(CREDENTIALS_TIMEOUT_S)
        except (AwsCrtError, TimeoutError) as exc:
            reason = _reason(exc)
            raise NoCredentialsError(f"could not sign with AWS credentials: {reason}") from exc
        return dict(request.headers)

    # -- HTTP -----------------------------------------------------------------------------

    def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
    ) -> Reply:
        from awscrt.exceptions import AwsCrtError

        deadline = time.monotonic() + timeout_s
        parts = urlsplit(url)
        connection = self._connect(parts, timeout_s)
        sent = dict(headers)
        if not any(name.lower() == "host" for name in sent):
            sent["Host"] = _host_header(parts)
        if body or method.upper() in _BODY_METHODS:
            sent["Content-Length"] = str(len(body))
        status: list[int] = []
        received: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        def on_response(status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            status.append(status_code)
            received.extend(headers)

        def on_body(chunk: bytes, **_: Any) -> None:
            chunks.append(bytes(chunk))

        try:
            stream = connection.request(
                _request(method, parts, sent, body), on_response=on_response, on_body=on_body
            )
            stream.activate()
            stream.completion_future.result(max(0.001, deadline - time.monotonic()))
        except TimeoutError as exc:
            raise ConnectionFailed(f"no response within {timeout_s:g} s") from exc
        except AwsCrtError as exc:
            raise ConnectionFailed(_reason(exc)) from exc
        finally:
            connection.close()  # its future fails if the server closed first: nothing to do
        if not status:
            raise ConnectionFailed("the connection ended without a response")
        return Reply(status[0], {k.lower(): v for k, v in received}, b"".join(chunks))

    def _connect(self, parts: SplitResult, timeout_s: float) -> HttpClientConnection:
        from awscrt.exceptions import AwsCrtError
        from awscrt.http import HttpClientConnection
        from awscrt.io import SocketOptions

        if not parts.hostname:
            raise ValueError("the URL names no host")
        tls = parts.scheme == "https"
        tls_options = None
        if tls:
            tls_options = self._tls_context().new_connection_options()
            tls_options.set_server_name(parts.hostname)
        socket_options = SocketOptions()
        socket_options.connect_timeout_ms = max(1, int(timeout_s * 1000))
        future = HttpClientConnection.new(
            host_name=parts.hostname,
            port=parts.port or (443 if tls else 80),
            bootstrap=self._bootstrap,
            socket_options=socket_options,
            tls_connection_options=tls_options,
        )
        try:
            connection: HttpClientConnection = future.result(timeout_s)
        except TimeoutError as exc:
            future.add_done_callback(_close_if_connected)  # it may still come: do not keep it
            raise ConnectionFailed(f"no connection within {timeout_s:g} s") from exc
        except AwsCrtError as exc:
            raise ConnectionFailed(_reason(exc)) from exc
        return connection

    def _tls_context(self) -> ClientTlsContext:
        """The client TLS context (system trust store, or ``ca_file``), made on first use."""
        from awscrt.io import ClientTlsContext, TlsContextOptions

        with self._tls_lock:
            if self._tls is None:
                options = TlsContextOptions()
                if self._ca_file is not None:
                    options.override_default_trust_store_from_path(ca_filepath=str(self._ca_file))
                self._tls = ClientTlsContext(options)
            return self._tls


def _request(method: str, parts: SplitResult, headers: Mapping[str, str], body: bytes) -> Any:
    from awscrt.http import HttpHeaders, HttpRequest

    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return HttpRequest(
        method.upper(),
        target,
        HttpHeaders(list(headers.items())),
        body_stream=BytesIO(body) if body else None,
    )


def _host_header(parts: SplitResult) -> str:
    """``Host`` as botocore and urllib3 write it: the port only when it is not the default."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _close_if_connected(future: Any) -> None:
    if future.exception() is None:
        future.result().close()


def _reason(exc: BaseException) -> str:
    name = getattr(exc, "name", None)
    message = getattr(exc, "message", None)
    if name:
        return f"{name}: {message}" if message else str(name)
    return str(exc) or type(exc).__name__
