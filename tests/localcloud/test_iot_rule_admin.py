"""``POST /_local/iot-rule``: only the operator feeds the local cloud's IoT rule, intact.

The shared-cloud integration test drives it end to end (``wardlink demo --cloud-env``);
here the refusals and the decoding, on a cloud that is not started.
"""

from __future__ import annotations

import base64
import json

import pytest

from wardlink.localcloud import LocalCloud
from wardlink.localcloud.cloud import IOT_RULE_PATH


def _body(*messages: tuple[str, bytes]) -> bytes:
    items = [{"topic": t, "payload_b64": base64.b64encode(p).decode()} for t, p in messages]
    return json.dumps({"messages": items}).encode()


def test_only_the_operator_may_feed_the_rule_and_bad_bodies_change_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cloud = LocalCloud(detectors=False)
    published: list[tuple[str, bytes]] = []

    def publish(topic: str, payload: bytes) -> bool:
        published.append((topic, payload))
        return True

    monkeypatch.setattr(cloud, "publish", publish)
    support = cloud.support_credentials()
    gateway = cloud.gateway_credentials("gw-1")
    body = _body(("wardlink/v1/gw-1/telemetry", b'{"x": 1}'))
    for who in (support, gateway):
        assert cloud._admin(who, "POST", IOT_RULE_PATH, body)[0] == 403
    for bad in (b"{", b'{"messages": [{"topic": "t", "payload_b64": "***"}]}', b'{"m": []}'):
        assert cloud._admin(cloud.credentials, "POST", IOT_RULE_PATH, bad)[0] == 400
    assert published == []
    status, answer = cloud._admin(cloud.credentials, "POST", IOT_RULE_PATH, body)
    assert status == 200 and answer == {"accepted": 1, "ignored": 0}
    assert published == [("wardlink/v1/gw-1/telemetry", b'{"x": 1}')]
