"""Diagnostics on request: what support and a gateway exchange through the API.

Support asks a gateway for its diagnostics bundle (``POST
/gateways/{gateway_id}/diagnostics``, support only, with a reason). The gateway
reads its requests with its own credentials (``GET .../diagnostics``, confined
by IAM to its own thing name) and shows them in the technician's UI; nothing
leaves until a technician or an admin approves (``POST
.../diagnostics/{request_id}/approve``: the answer carries a presigned S3 PUT
for the redacted bundle) or declines (``.../decline``: recorded, nothing sent).
Support then fetches the bundle through ``GET .../diagnostics/{request_id}``,
which carries a short-lived presigned GET once the bundle is there.
Standard library and pydantic only: the edge loads this module.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from wardlink.contract.models import GATEWAY_ID_PATTERN

__all__ = [
    "DIAGNOSTICS_REQUEST_ID_PATTERN",
    "DiagnosticsDecision",
    "DiagnosticsDecisionBody",
    "DiagnosticsPage",
    "DiagnosticsRequest",
    "DiagnosticsRequestBody",
    "DiagnosticsState",
    "DiagnosticsUpload",
    "diagnostics_path",
]

DIAGNOSTICS_REQUEST_ID_PATTERN = r"^[0-9a-f]{32}$"
#: Who decided, as the gateway UI knows them (its local account names).
DECIDER_PATTERN = r"^[a-z][a-z0-9._-]{1,31}$"
#: Support's reason: one printable line (shown to the technician, kept with the request).
REASON_PATTERN = r"^[\x20-\x7e]{3,200}$"
BUNDLE_CONTENT_TYPE = "application/zip"


class DiagnosticsState(StrEnum):
    PENDING = "pending"  # asked; waiting for a technician on site
    APPROVED = "approved"  # a technician approved; the upload URL was issued
    DECLINED = "declined"  # a technician declined; nothing was sent
    UPLOADED = "uploaded"  # the bundle is in the bucket, ready for support


class DiagnosticsDecision(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"


class DiagnosticsRequestBody(BaseModel):
    """``POST /gateways/{gateway_id}/diagnostics``: why support needs the bundle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(pattern=REASON_PATTERN)


class DiagnosticsDecisionBody(BaseModel):
    """``POST .../diagnostics/{request_id}/{decision}``: the technician who decided."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decided_by: str = Field(pattern=DECIDER_PATTERN)


class DiagnosticsUpload(BaseModel):
    """Where the approved bundle goes: a presigned S3 PUT with exactly these headers."""

    model_config = ConfigDict(frozen=True)

    url: str
    method: str = "PUT"
    headers: dict[str, str]
    expires_at: str


class DiagnosticsRequest(BaseModel):
    """One request and where it stands."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str = Field(pattern=DIAGNOSTICS_REQUEST_ID_PATTERN)
    gateway_id: str = Field(pattern=GATEWAY_ID_PATTERN)
    state: DiagnosticsState
    reason: str
    requested_by: str
    requested_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    size_bytes: int | None = None
    upload: DiagnosticsUpload | None = None  # in the answer to an approval only
    download_url: str | None = None  # for support, once uploaded


class DiagnosticsPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[DiagnosticsRequest]


def diagnostics_path(gateway_id: str, *rest: str) -> str:
    """``/gateways/{gateway_id}/diagnostics[/...]`` (ids already percent-encoded)."""
    return "/".join(("", "gateways", gateway_id, "diagnostics", *rest))
