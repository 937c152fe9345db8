"""Lambda ``audit``: the latest Device Defender audit's findings, for support only.

Route (API Gateway REST, AWS_IAM auth): ``GET /audit/findings?days=&task_id=&limit=&next_token=``.

Device Defender runs the daily scheduled audit (``wardlink_infra.iot_audit``) and keeps
its results in the account; this handler reads them with the IoT control-plane API:

1. ``ListAuditTasks`` for COMPLETED tasks that started in the last ``days`` days
   (default 7), then ``DescribeAuditTask`` on each to learn when it started (the list
   does not say) and keep the latest; or, with ``task_id`` (from a previous page),
   that task;
2. ``ListAuditFindings`` of that task, suppressed findings left out: every finding is
   a non-compliant resource of one check.

A gateway caller is refused (IAM refuses it first). Findings name certificates, client
ids, IoT policies and roles, never devices' data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi.errors import BadRequest, NotFound
from wardlink.cloudapi.handlers.common import build_resolver, current_caller, logger, tracer
from wardlink.cloudapi.services import get_services
from wardlink.contract.audit import (
    AUDIT_TASK_ID_PATTERN,
    DEFAULT_LOOKBACK_DAYS,
    MAX_LOOKBACK_DAYS,
    AuditFinding,
    AuditFindingPage,
    AuditResource,
    AuditTask,
)
from wardlink.contract.models import MAX_PAGE_SIZE

app = build_resolver()


@app.get("/audit/findings")
def list_findings(
    days: Annotated[int, Query(ge=1, le=MAX_LOOKBACK_DAYS)] = DEFAULT_LOOKBACK_DAYS,
    task_id: Annotated[str | None, Query(pattern=AUDIT_TASK_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    next_token: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> AuditFindingPage:
    current_caller(app).require_support()
    iot = get_services().client("iot")
    task = _task(iot, task_id) if task_id else _latest_completed(iot, days)
    if task is None:
        return AuditFindingPage(items=[])
    request: dict[str, Any] = {
        "taskId": task.task_id, "maxResults": limit, "listSuppressedFindings": False,
    }  # fmt: skip
    if next_token:
        request["nextToken"] = next_token
    try:
        answer = iot.list_audit_findings(**request)
    except iot.exceptions.InvalidRequestException:
        # the only caller-supplied part is the token: one Device Defender did not issue
        raise BadRequest("next_token is not one this API issued") from None
    findings = [finding(raw) for raw in answer.get("findings", [])]
    logger.info("audit findings", extra={"task_id": task.task_id, "count": len(findings)})
    return AuditFindingPage(task=task, items=findings, next_token=answer.get("nextToken"))


def _latest_completed(iot: Any, days: int) -> AuditTask | None:
    end = datetime.now(UTC)
    ids: list[str] = []
    request: dict[str, Any] = {
        "startTime": end - timedelta(days=days), "endTime": end, "taskStatus": "COMPLETED",
    }  # fmt: skip
    while True:
        page = iot.list_audit_tasks(**request)
        ids += [t["taskId"] for t in page.get("tasks", [])]
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    tasks = [_task(iot, task_id) for task_id in ids]
    dated = [t for t in tasks if t.started_at is not None]
    if not dated:
        return tasks[0] if tasks else None
    return max(dated, key=lambda t: t.started_at or end)


def _task(iot: Any, task_id: str) -> AuditTask:
    try:
        raw = iot.describe_audit_task(taskId=task_id)
    except iot.exceptions.ResourceNotFoundException:
        raise NotFound(f"audit task {task_id} does not exist") from None
    stats = raw.get("taskStatistics") or {}
    details = (raw.get("auditDetails") or {}).values()
    return AuditTask(
        task_id=task_id,
        task_type=raw.get("taskType", "UNKNOWN"),
        started_at=raw.get("taskStartTime"),
        scheduled_audit_name=raw.get("scheduledAuditName"),
        checks_total=stats.get("totalChecks"),
        checks_non_compliant=stats.get("nonCompliantChecks"),
        resources_non_compliant=(
            sum(int(d.get("nonCompliantResourcesCount") or 0) for d in details)
            if details else None
        ),
    )


def finding(raw: dict[str, Any]) -> AuditFinding:
    """One ``AuditFinding`` of ListAuditFindings' response as the contract's model."""
    resource = raw.get("nonCompliantResource")
    return AuditFinding(
        finding_id=raw.get("findingId", ""),
        check_name=raw.get("checkName", ""),
        severity=raw.get("severity", "UNKNOWN"),
        finding_time=raw.get("findingTime"),
        resource=_resource(resource) if resource else None,
        related=[_resource(r) for r in raw.get("relatedResources", [])],
        reason=raw.get("reasonForNonCompliance"),
        reason_code=raw.get("reasonForNonComplianceCode"),
    )


def _resource(raw: dict[str, Any]) -> AuditResource:
    identifiers: dict[str, str] = {}
    for key, value in (raw.get("resourceIdentifier") or {}).items():
        if isinstance(value, dict):  # policyVersionIdentifier, issuerCertificateIdentifier
            identifiers |= {f"{key}.{k}": str(v) for k, v in value.items() if v}
        elif value:
            identifiers[key] = str(value)
    return AuditResource(
        resource_type=raw.get("resourceType", "UNKNOWN"),
        identifiers=identifiers,
        additional_info={k: str(v) for k, v in (raw.get("additionalInfo") or {}).items()},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
