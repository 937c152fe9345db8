"""Diagnostics on request, from either side: support asks and downloads, a gateway answers.

Thin functions over ``WardlinkApiClient`` (one signed request each, the client's
retries and TLS rule), kept apart from the client so the flow reads in one
place; the models and the flow are ``wardlink.contract.diagnostics``.
"""

from __future__ import annotations

from urllib.parse import quote

from wardlink.cloudclient.client import WardlinkApiClient
from wardlink.cloudclient.errors import ApiClientError
from wardlink.contract.diagnostics import (
    DiagnosticsDecision,
    DiagnosticsDecisionBody,
    DiagnosticsPage,
    DiagnosticsRequest,
    DiagnosticsRequestBody,
    DiagnosticsState,
    diagnostics_path,
)


def _segment(identifier: str) -> str:
    return quote(identifier, safe="")


def request_diagnostics(
    client: WardlinkApiClient, gateway_id: str, reason: str
) -> DiagnosticsRequest:
    """Support: ask ``gateway_id`` for its diagnostics bundle."""
    body = DiagnosticsRequestBody(reason=reason).model_dump_json().encode()
    _, data = client.send("POST", diagnostics_path(_segment(gateway_id)), body)
    return DiagnosticsRequest.model_validate_json(data)


def list_diagnostics(
    client: WardlinkApiClient, gateway_id: str, state: DiagnosticsState | None = None
) -> list[DiagnosticsRequest]:
    """The gateway's requests, newest first (a gateway may list only its own)."""
    query = {"state": state.value if state else None}
    _, data = client.send("GET", diagnostics_path(_segment(gateway_id)), b"", query)
    return DiagnosticsPage.model_validate_json(data).items


def get_diagnostics(
    client: WardlinkApiClient, gateway_id: str, request_id: str
) -> DiagnosticsRequest:
    """Support: one request; ``download_url`` is set once the bundle is uploaded."""
    path = diagnostics_path(_segment(gateway_id), _segment(request_id))
    _, data = client.send("GET", path)
    return DiagnosticsRequest.model_validate_json(data)


def download_diagnostics(client: WardlinkApiClient, gateway_id: str, request_id: str) -> bytes:
    """Support: the bundle's bytes; ``ApiClientError`` 409 if it is not uploaded (yet)."""
    request = get_diagnostics(client, gateway_id, request_id)
    if request.download_url is None:
        raise ApiClientError(409, "NotUploaded", f"the request is {request.state.value}")
    return client.presigned("GET", request.download_url, what="diagnostics download")


def answer_diagnostics(
    client: WardlinkApiClient,
    gateway_id: str,
    request_id: str,
    decision: DiagnosticsDecision,
    decided_by: str,
    bundle: bytes | None = None,
) -> DiagnosticsRequest:
    """A gateway: record the technician's decision; on approval, upload ``bundle``."""
    body = DiagnosticsDecisionBody(decided_by=decided_by).model_dump_json().encode()
    path = diagnostics_path(_segment(gateway_id), _segment(request_id), decision.value)
    _, data = client.send("POST", path, body)
    answer = DiagnosticsRequest.model_validate_json(data)
    if decision is DiagnosticsDecision.APPROVE:
        if answer.upload is None or bundle is None:
            raise ValueError("an approval needs a bundle and an upload URL")
        client.presigned(answer.upload.method, answer.upload.url, answer.upload.headers, bundle,
                         what="diagnostics upload")  # fmt: skip
    return answer
