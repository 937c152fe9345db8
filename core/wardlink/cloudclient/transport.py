"""What the API client needs from an HTTP stack: SigV4-sign a request, send one exchange.

``WardlinkApiClient`` keeps everything that must behave the same wherever it runs -
the TLS-only rule, retries and back-off, timeouts, error mapping, the request and
response models - and leaves two things to a backend, the way bleak keeps one
interface with a backend per platform:

* ``sign``: the headers that SigV4-sign one attempt (service ``execute-api``) with
  the backend's current credentials;
* ``exchange``: one HTTP request, no redirects followed, returning the response or
  raising ``ConnectionFailed`` when there is none (refused, reset, TLS, timeout).

Two backends implement it:

* ``"botocore"`` (``wardlink.cloudclient.backend_botocore``): botocore's signer and
  credential providers over urllib3 and Python's ``ssl``. The operators' CLIs, the
  dev kit and the tests use it.
* ``"crt"`` (``wardlink.cloudclient.backend_crt``): the AWS Common Runtime, which every
  gateway component has loaded already for its Greengrass IPC client: its SigV4
  signer, its credential provider chain (Greengrass's token exchange service is a
  container-credentials endpoint) and its HTTP client with its own TLS. The gateway
  uses it (``WardlinkApiClient.for_gateway``), so a component with a cloud API
  configured loads neither botocore nor urllib3 nor OpenSSL.

Both run the same tests (``tests/cloudapi/test_cloud_client_backends.py``,
``test_cloud_client_retry.py``): a backend differs in what it loads, not in what the
client does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

#: The SigV4 service name of API Gateway REST APIs.
SERVICE = "execute-api"

BackendName = Literal["botocore", "crt"]


@dataclass(frozen=True)
class Reply:
    """One HTTP response: status, headers (names lower-cased) and the whole body."""

    status: int
    headers: Mapping[str, str]
    data: bytes


class ConnectionFailed(Exception):
    """No response: the connection was refused, reset or timed out, or TLS failed."""


class Backend(Protocol):
    name: BackendName

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """``headers`` plus what SigV4-signs this request now (date, token, Authorization)."""
        ...

    def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
    ) -> Reply:
        """Send one request to ``url`` as given; ``ConnectionFailed`` if no response came."""
        ...
