"""Lambda ``diagnostics``: support asks a gateway for its diagnostics bundle; the site decides.

Routes (``wardlink.contract.diagnostics`` for the models and the flow):

* ``POST /gateways/{gateway_id}/diagnostics`` - support asks, with a reason;
* ``GET  /gateways/{gateway_id}/diagnostics`` - the gateway (its own) or support
  lists the requests, newest first; ``?state=pending`` narrows;
* ``GET  /gateways/{gateway_id}/diagnostics/{request_id}`` - support: one
  request, with a presigned GET of the bundle once it is uploaded;
* ``POST /gateways/{gateway_id}/diagnostics/{request_id}/{approve|decline}`` -
  the gateway only, for the technician who decided: an approval answers with a
  presigned PUT for the bundle, a decline is recorded and nothing is sent.

The requests are small JSON objects in the data bucket under
``diagnostics/{gateway_id}/{request_id}/`` next to the bundle itself
(``bundle.zip``), so a request, its decision and its bundle share one prefix,
the bucket's KMS encryption and its access logs. A request is decided once:
deciding it again is a 409.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from wardlink.cloudapi.errors import BadRequest, Conflict, Forbidden, NotFound
from wardlink.cloudapi.handlers.common import (
    NOT_YOURS,
    build_resolver,
    current_caller,
    json_response,
    logger,
    path_id,
    tracer,
)
from wardlink.cloudapi.services import get_services
from wardlink.contract.access import Role
from wardlink.contract.diagnostics import (
    BUNDLE_CONTENT_TYPE,
    DIAGNOSTICS_REQUEST_ID_PATTERN,
    DiagnosticsDecision,
    DiagnosticsDecisionBody,
    DiagnosticsPage,
    DiagnosticsRequest,
    DiagnosticsRequestBody,
    DiagnosticsState,
    DiagnosticsUpload,
)
from wardlink.contract.models import GATEWAY_ID_PATTERN

app = build_resolver()
PREFIX = "diagnostics"
MAX_LISTED = 50
DOWNLOAD_URL_TTL_S = 900


def request_key(gateway_id: str, request_id: str) -> str:
    return f"{PREFIX}/{gateway_id}/{request_id}/request.json"


def bundle_key(gateway_id: str, request_id: str) -> str:
    return f"{PREFIX}/{gateway_id}/{request_id}/bundle.zip"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _store(request: DiagnosticsRequest) -> None:
    services = get_services()
    services.s3.put_object(
        Bucket=services.settings.require("data_bucket"),
        Key=request_key(request.gateway_id, request.request_id),
        Body=request.model_dump_json(exclude_none=True).encode(),
        ContentType="application/json",
    )


def _load(gateway_id: str, request_id: str) -> DiagnosticsRequest:
    services = get_services()
    try:
        found = services.s3.get_object(
            Bucket=services.settings.require("data_bucket"),
            Key=request_key(gateway_id, request_id),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise NotFound("no such diagnostics request") from None
        raise
    return _with_upload_state(DiagnosticsRequest.model_validate_json(found["Body"].read()))


def _with_upload_state(request: DiagnosticsRequest) -> DiagnosticsRequest:
    """An approved request whose bundle has arrived is ``uploaded`` (with its size)."""
    if request.state is not DiagnosticsState.APPROVED:
        return request
    services = get_services()
    try:
        head = services.s3.head_object(
            Bucket=services.settings.require("data_bucket"),
            Key=bundle_key(request.gateway_id, request.request_id),
        )
    except ClientError:
        return request
    return request.model_copy(
        update={"state": DiagnosticsState.UPLOADED, "size_bytes": int(head["ContentLength"])}
    )


@app.post("/gateways/<gateway_id>/diagnostics")
def ask(gateway_id: str, body: DiagnosticsRequestBody) -> Response[DiagnosticsRequest]:
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    caller = current_caller(app)
    caller.require_support()
    request = DiagnosticsRequest(
        request_id=uuid.uuid4().hex,
        gateway_id=gateway,
        state=DiagnosticsState.PENDING,
        reason=body.reason,
        requested_by=caller.arn,
        requested_at=_now(),
    )
    _store(request)
    logger.info(
        "diagnostics requested",
        extra={"gateway_id": gateway, "request_id": request.request_id, "caller": caller.arn},
    )
    return json_response(201, request)


@app.get("/gateways/<gateway_id>/diagnostics")
def listing(gateway_id: str) -> Response[DiagnosticsPage]:
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    current_caller(app)  # IAM confined a gateway to its own path; support may read any
    wanted = app.current_event.get_query_string_value("state")
    if wanted is not None and wanted not in {s.value for s in DiagnosticsState}:
        raise BadRequest(f"state must be one of {[s.value for s in DiagnosticsState]}")
    services = get_services()
    bucket = services.settings.require("data_bucket")
    keys: list[str] = []
    paginator = services.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{PREFIX}/{gateway}/"):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith("/request.json")]
    requests = []
    for key in keys:
        body = services.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        requests.append(_with_upload_state(DiagnosticsRequest.model_validate_json(body)))
    requests.sort(key=lambda r: r.requested_at, reverse=True)
    if wanted is not None:
        requests = [r for r in requests if r.state.value == wanted]
    return json_response(200, DiagnosticsPage(items=requests[:MAX_LISTED]))


@app.get("/gateways/<gateway_id>/diagnostics/<request_id>")
def one(gateway_id: str, request_id: str) -> Response[DiagnosticsRequest]:
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    rid = path_id(request_id, DIAGNOSTICS_REQUEST_ID_PATTERN, "request_id")
    current_caller(app).require_support()
    request = _load(gateway, rid)
    if request.state is DiagnosticsState.UPLOADED:
        services = get_services()
        url = services.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": services.settings.require("data_bucket"),
                    "Key": bundle_key(gateway, rid)},
            ExpiresIn=DOWNLOAD_URL_TTL_S,
            HttpMethod="GET",
        )  # fmt: skip
        request = request.model_copy(update={"download_url": url})
        logger.info(
            "diagnostics download issued",
            extra={"gateway_id": gateway, "request_id": rid, "caller": current_caller(app).arn},
        )
    return json_response(200, request)


@app.post("/gateways/<gateway_id>/diagnostics/<request_id>/<decision>")
def decide(
    gateway_id: str, request_id: str, decision: str, body: DiagnosticsDecisionBody
) -> Response[DiagnosticsRequest]:
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    rid = path_id(request_id, DIAGNOSTICS_REQUEST_ID_PATTERN, "request_id")
    try:
        choice = DiagnosticsDecision(decision)
    except ValueError:
        raise NotFound("no such decision: approve or decline") from None
    caller = current_caller(app)
    if caller.role is not Role.GATEWAY:
        raise Forbidden(NOT_YOURS)  # only the site decides what leaves it
    request = _load(gateway, rid)
    if request.state is not DiagnosticsState.PENDING:
        raise Conflict(f"the request is {request.state.value}, not pending")
    decided = request.model_copy(
        update={
            "state": DiagnosticsState.APPROVED
            if choice is DiagnosticsDecision.APPROVE
            else DiagnosticsState.DECLINED,
            "decided_by": body.decided_by,
            "decided_at": _now(),
        }
    )
    _store(decided)
    logger.info(
        "diagnostics request decided",
        extra={"gateway_id": gateway, "request_id": rid, "decision": choice.value,
               "decided_by": body.decided_by},
    )  # fmt: skip
    if choice is DiagnosticsDecision.DECLINE:
        return json_response(200, decided)
    services = get_services()
    ttl = services.settings.upload_url_ttl_s
    url = services.s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": services.settings.require("data_bucket"),
                "Key": bundle_key(gateway, rid), "ContentType": BUNDLE_CONTENT_TYPE},
        ExpiresIn=ttl,
        HttpMethod="PUT",
    )  # fmt: skip
    upload = DiagnosticsUpload(
        url=url,
        headers={"Content-Type": BUNDLE_CONTENT_TYPE},
        expires_at=(datetime.now(UTC) + timedelta(seconds=ttl)).isoformat(),
    )
    return json_response(200, decided.model_copy(update={"upload": upload}))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
