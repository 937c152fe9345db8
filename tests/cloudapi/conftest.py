"""One DynamoDB Local and one LocalCloud per test session, shared by the cloud tests.

Starting Java and moto costs seconds, so they are session-scoped; tests stay
independent by using their own gateway, model and alarm ids (``unique``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.dynamodb_local import running_dynamodb_local
from tests.support.fleet_api import FleetApi
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
def api(local_cloud: LocalCloud) -> Any:
    """Each call signed as its caller: the gateway it names, or support (FleetApi)."""
    return FleetApi(local_cloud)


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

        self._cloud = cloud
        self.principal = cloud.credentials  # support rights: fleet search, alarms
        self._gateways: dict[str, Any] = {}
        self._invoker = LambdaInvoker(cloud.region, "000000000000")

    def _caller(self, path: str) -> Any:
        """The gateway named by a ``/gateways/{id}/...`` path signs for it; support otherwise."""
        parts = path.strip("/").split("/")
        if parts[0] != "gateways" or len(parts) < 2:
            return self.principal
        if parts[1] not in self._gateways:
            self._gateways[parts[1]] = self._cloud.gateway_credentials(parts[1])
        return self._gateways[parts[1]]

    def __call__(
        self, method: str, path: str, body: Any = None, query: str = ""
    ) -> tuple[int, Any]:
        import json

        from wardlink.localcloud.apigw import rest_proxy_event
        from wardlink.localcloud.routes import match_route

        principal = self._caller(path)
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
            principal=principal,
            source_ip="127.0.0.1",
        )
        response = self._invoker.invoke(match.route.handler, event)
        return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def call_handler(local_cloud: LocalCloud) -> HandlerCaller:
    return HandlerCaller(local_cloud)
