"""The AWS clients and settings a handler runs with, built once per Lambda container.

Powertools' guidance is to create SDK clients outside the handler so warm
invocations reuse them. We do that lazily (on first use, not at import) so importing
a handler module never needs credentials, and we let the local cloud and the tests
install their own ``Services`` (DynamoDB Local, moto) with ``use_services``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from wardlink.cloudapi.settings import CloudSettings

_SDK_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10
)
# presigned PUTs of KMS-encrypted objects must be SigV4
_S3_CONFIG = _SDK_CONFIG.merge(Config(signature_version="s3v4"))


@dataclass
class Services:
    """Settings plus lazily created boto3 clients that share one session."""

    settings: CloudSettings
    session: Any = None  # boto3.Session; Any because boto3 ships no type hints
    endpoints: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str) -> Any:
        """A cached boto3 client; ``endpoints`` may point a service somewhere local."""
        with self._lock:
            existing = self._clients.get(service)
            if existing is not None:
                return existing
            session = self.session if self.session is not None else boto3.session.Session()
            created = session.client(
                service,
                endpoint_url=self.endpoints.get(service),
                config=_S3_CONFIG if service == "s3" else _SDK_CONFIG,
            )
            self._clients[service] = created
            return created

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def timestream_write(self) -> Any:
        return self.client("timestream-write")


_current: Services | None = None
_current_lock = threading.Lock()


def get_services() -> Services:
    """The process-wide services; from the Lambda environment unless overridden."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Services(settings=CloudSettings.from_env())
        return _current


def use_services(services: Services | None) -> None:
    """Install ``services`` for every handler in this process (``None`` resets)."""
    global _current
    with _current_lock:
        _current = services
