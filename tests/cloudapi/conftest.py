"""One DynamoDB Local and one LocalCloud per test session, shared by the cloud tests.

Starting Java and moto costs seconds, so they are session-scoped; tests stay
independent by using their own gateway, model and alarm ids (``unique``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials

from tests.support.dynamodb_local import running_dynamodb_local
from wardlink.cloudclient import RetryPolicy, WardlinkApiClient
from wardlink.localcloud import LocalCloud


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    with running_dynamodb_local() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def local_cloud(dynamodb_local: str) -> Iterator[LocalCloud]:
    cloud = LocalCloud(dynamodb_endpoint=dynamodb_local, table_prefix="test-", log_level="ERROR")
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def api(local_cloud: LocalCloud) -> WardlinkApiClient:
    """The edge client, signed with the local cloud's gateway credentials."""
    creds = local_cloud.credentials
    return WardlinkApiClient(
        local_cloud.endpoint,
        local_cloud.region,
        Credentials(creds.access_key, creds.secret_key, creds.session_token),
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.01),
    )


@pytest.fixture
def unique() -> str:
    """A short id fragment no other test uses."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def services(local_cloud: LocalCloud) -> Any:
    assert local_cloud.services is not None
    return local_cloud.services


class HandlerCaller:
    """Calls a Lambda handler directly with the API Gateway event for a request."""

    def __init__(self, cloud: LocalCloud) -> None:
        from wardlink.localcloud.invoker import LambdaInvoker

        self.principal = cloud.credentials
        self._invoker = LambdaInvoker(cloud.region, "000000000000")

    def __call__(
        self, method: str, path: str, body: Any = None, query: str = ""
    ) -> tuple[int, Any]:
        import json

        from wardlink.localcloud.apigw import rest_proxy_event
        from wardlink.localcloud.routes import match_route

        match = match_route(method, path)
        assert match is not None, f"no route for {method} {path}"
        raw = (
            body
            if isinstance(body, bytes)
            else (json.dumps(body).encode() if body is not None else b"")
        )
        event = rest_proxy_event(
            method=method,
            raw_path=path,
            raw_query=query,
            headers={"Host": "localhost", "Content-Type": "application/json"},
            body=raw,
            match=match,
            principal=self.principal,
            source_ip="127.0.0.1",
        )
        response = self._invoker.invoke(match.route.handler, event)
        return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def call_handler(local_cloud: LocalCloud) -> HandlerCaller:
    return HandlerCaller(local_cloud)
