"""Diagnostics on request through the local cloud: support asks, only the gateway answers,
an approval uploads to (moto) S3 through a presigned PUT, a decline is recorded."""

from __future__ import annotations

from typing import Any

import pytest

from wardlink.cloudclient import ApiClientError
from wardlink.cloudclient.diagnostics import (
    answer_diagnostics,
    download_diagnostics,
    get_diagnostics,
    list_diagnostics,
    request_diagnostics,
)
from wardlink.contract.diagnostics import DiagnosticsDecision, DiagnosticsState


def test_support_asks_the_gateway_answers_support_downloads(api: Any, unique: str) -> None:
    gateway_id = f"gw-{unique}"
    gateway = api.gateway(gateway_id)
    asked = request_diagnostics(api.support, gateway_id, "ticket 4711: uplink drops at night")
    assert asked.state is DiagnosticsState.PENDING and asked.requested_by
    [pending] = list_diagnostics(gateway, gateway_id, DiagnosticsState.PENDING)
    assert pending.request_id == asked.request_id and pending.reason.startswith("ticket 4711")

    # support cannot answer for the site, another gateway cannot read or answer
    with pytest.raises(ApiClientError) as refused:
        answer_diagnostics(api.support, gateway_id, asked.request_id,
                           DiagnosticsDecision.APPROVE, "tech", b"zip")  # fmt: skip
    assert refused.value.status == 403
    other = api.gateway(f"gw-other-{unique}")
    for call in (
        lambda: list_diagnostics(other, gateway_id),
        lambda: answer_diagnostics(
            other, gateway_id, asked.request_id, DiagnosticsDecision.DECLINE, "tech"
        ),
        lambda: request_diagnostics(gateway, gateway_id, "a gateway asking itself"),
    ):
        with pytest.raises(ApiClientError) as denied:
            call()
        assert denied.value.status == 403

    with pytest.raises(ApiClientError) as early:
        download_diagnostics(api.support, gateway_id, asked.request_id)
    assert early.value.status == 409

    answer = answer_diagnostics(gateway, gateway_id, asked.request_id,
                                DiagnosticsDecision.APPROVE, "tech", b"PK-bundle")  # fmt: skip
    assert answer.state is DiagnosticsState.APPROVED and answer.decided_by == "tech"
    assert download_diagnostics(api.support, gateway_id, asked.request_id) == b"PK-bundle"
    done = get_diagnostics(api.support, gateway_id, asked.request_id)
    assert done.state is DiagnosticsState.UPLOADED and done.size_bytes == len(b"PK-bundle")

    # decided once: a second answer is a conflict
    with pytest.raises(ApiClientError) as again:
        answer_diagnostics(gateway, gateway_id, asked.request_id,
                           DiagnosticsDecision.DECLINE, "tech")  # fmt: skip
    assert again.value.status == 409

    second = request_diagnostics(api.support, gateway_id, "ticket 4712: second look")
    declined = answer_diagnostics(gateway, gateway_id, second.request_id,
                                  DiagnosticsDecision.DECLINE, "tech")  # fmt: skip
    assert declined.state is DiagnosticsState.DECLINED and declined.upload is None
    states = {r.request_id: r.state for r in list_diagnostics(api.support, gateway_id)}
    assert states == {asked.request_id: DiagnosticsState.UPLOADED,
                      second.request_id: DiagnosticsState.DECLINED}  # fmt: skip


def test_bad_requests_are_400(api: Any, unique: str) -> None:
    path = f"/gateways/gw-{unique}/diagnostics"
    for body in (b"{}", b'{"reason": "x"}', b'{"reason": "ok reason", "extra": 1}',
                 b'{"reason": "line\\nbreak"}'):  # fmt: skip
        with pytest.raises(ApiClientError) as bad:
            api.support.send("POST", path, body)
        assert bad.value.status == 400, body
    for query in ({"state": "nonsense"},):
        with pytest.raises(ApiClientError) as bad:
            api.support.send("GET", path, b"", query)
        assert bad.value.status == 400
    with pytest.raises(ApiClientError) as missing:
        api.support.send("GET", path + "/" + "0" * 32)
    assert missing.value.status == 404
