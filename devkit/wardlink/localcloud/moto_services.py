"""S3 and Timestream (write) for the local cloud, from moto in server mode.

Server mode (not ``mock_aws``) so nothing in the process is patched: DynamoDB
traffic goes to the real DynamoDB Local, other components embedding the local
cloud keep real botocore, and presigned upload URLs point at a real local HTTP
endpoint a client can PUT to.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

from wardlink.model.errors import WardlinkError


class MotoUnavailableError(WardlinkError):
    """moto's server extra (flask) is not installed."""


class MotoServer:
    def __init__(self) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MotoUnavailableError("install moto[server] for the local cloud") from exc
        self._server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint: str | None = None

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        with contextlib.redirect_stdout(io.StringIO()):
            self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        if self.endpoint is not None:
            self._server.stop()
            self.endpoint = None


def create_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` in the client's region (S3 wants the region named outside us-east-1)."""
    request: dict[str, Any] = {"Bucket": bucket}
    region = s3.meta.region_name
    if region and region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(**request)


def create_timestream_table(client: Any, database: str, table: str) -> None:
    with contextlib.suppress(client.exceptions.ConflictException):
        client.create_database(DatabaseName=database)
    with contextlib.suppress(client.exceptions.ConflictException):
        client.create_table(
            DatabaseName=database,
            TableName=table,
            RetentionProperties={
                "MemoryStoreRetentionPeriodInHours": 24,
                "MagneticStoreRetentionPeriodInDays": 2557,
            },
        )
