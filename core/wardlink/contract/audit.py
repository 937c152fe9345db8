"""The API's view of AWS IoT Device Defender audits: what ``wardlink support audit`` reads.

Device Defender writes its findings into the account; support staff have no IoT
console rights and need none. ``GET /audit/findings`` (support only) answers with the
latest completed audit within a look-back window and that audit's non-compliant,
unsuppressed findings, reduced to what triage needs: which check, how severe, which
resource (certificate, client id, policy version, role alias...) and why. Models only
(pydantic); the handler maps ListAuditFindings' documented response onto them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AUDIT_TASK_ID_PATTERN",
    "DEFAULT_LOOKBACK_DAYS",
    "MAX_LOOKBACK_DAYS",
    "AuditFinding",
    "AuditFindingPage",
    "AuditResource",
    "AuditTask",
]

#: Device Defender task ids (``[a-zA-Z0-9-]+``, at most 40 characters).
AUDIT_TASK_ID_PATTERN = r"^[a-zA-Z0-9-]{1,40}$"
#: A daily audit ran at most a day ago; a week covers a few missed runs.
DEFAULT_LOOKBACK_DAYS = 7
#: Device Defender keeps audit results for 90 days.
MAX_LOOKBACK_DAYS = 90


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AuditResource(_Response):
    """A resource an audit check looked at: its type and its identifiers."""

    resource_type: str
    #: The non-empty identifiers of ``ResourceIdentifier``, flattened to strings
    #: (e.g. ``deviceCertificateId``, ``clientId``, ``policyVersionIdentifier.policyName``).
    identifiers: dict[str, str] = Field(default_factory=dict)
    additional_info: dict[str, str] = Field(default_factory=dict)


class AuditFinding(_Response):
    """One non-compliant result of one check in one audit."""

    finding_id: str
    check_name: str
    severity: str
    finding_time: datetime | None = None
    resource: AuditResource | None = None
    related: list[AuditResource] = Field(default_factory=list)
    reason: str | None = None
    reason_code: str | None = None


class AuditTask(_Response):
    """The audit the findings come from."""

    task_id: str
    task_type: str
    started_at: datetime | None = None
    scheduled_audit_name: str | None = None
    checks_total: int | None = None
    checks_non_compliant: int | None = None
    resources_non_compliant: int | None = None


class AuditFindingPage(_Response):
    """Body of ``GET /audit/findings``: no ``task`` when no audit completed in the window."""

    task: AuditTask | None = None
    items: list[AuditFinding]
    next_token: str | None = None
