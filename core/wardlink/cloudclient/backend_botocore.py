"""The API client's botocore backend: botocore's SigV4 signer over urllib3.

For the operators' CLIs, the dev kit and the tests - anywhere botocore is loaded
anyway. ``credentials`` is any botocore credentials object (refreshable ones are
asked again for every attempt); by default ``resolve_credentials`` finds them as a
gateway would. urllib3 is botocore's own HTTP client, so this backend needs nothing
beyond botocore. Both are imported when a backend is made, not with this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wardlink.cloudclient.credentials import resolve_credentials
from wardlink.cloudclient.transport import SERVICE, BackendName, ConnectionFailed, Reply

if TYPE_CHECKING:
    import urllib3


class BotocoreBackend:
    name: BackendName = "botocore"

    def __init__(
        self,
        region: str,
        credentials: Any | None = None,
        *,
        pool: urllib3.PoolManager | None = None,
        ca_file: Path | None = None,
    ) -> None:
        import urllib3

        self._region = region
        self._credentials = credentials if credentials is not None else resolve_credentials()
        if pool is not None and ca_file is not None:
            raise ValueError("give the CA to the pool you pass, not both")
        self._pool = pool or urllib3.PoolManager(
            retries=False, maxsize=4, ca_certs=str(ca_file) if ca_file else None
        )

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        frozen = self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, SERVICE, self._region).add_auth(request)
        return {k: str(v) for k, v in request.headers.items()}

    def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
    ) -> Reply:
        import urllib3

        try:
            response = self._pool.request(
                method,
                url,
                body=body or None,
                headers=dict(headers),
                timeout=urllib3.Timeout(total=timeout_s),
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ConnectionFailed(str(exc)) from exc
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.headers.items()},
            bytes(response.data),
        )
