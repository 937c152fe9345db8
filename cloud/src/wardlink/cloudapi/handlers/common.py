"""What every API handler shares: the logger, the resolver setup, errors, identity.

Errors are answered in one JSON shape (``ErrorBody``) with a stable ``error`` code.
Request validation failures are 400 (Powertools answers 422 by default; API
Gateway's own request validator answers 400, and clients should see one code for
one kind of mistake). Unexpected exceptions are logged with their stack and
answered 500 without internals; a body too deeply nested to parse is the caller's
mistake, not ours, and is a 400 like any other malformed JSON.

Who is calling (``Caller``) comes from the identity API Gateway's AWS_IAM
authorization puts in ``requestContext.identity``. IAM already confines a gateway
to ``/gateways/{its thing name}/...`` (``wardlink.contract.access``); the handlers
check again - defence in depth - that a gateway caller uses only gateway routes
and that no body or query names a gateway other than the one in the path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from wardlink.cloudapi.errors import ApiError, BadRequest, Forbidden
from wardlink.cloudapi.services import get_services
from wardlink.contract.access import Role
from wardlink.contract.models import ErrorBody

SERVICE = "wardlink-cloudapi"
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)


def error_response(
    status: int, code: str, message: str, details: list[dict[str, object]] | None = None
) -> Response[dict[str, Any]]:
    body = ErrorBody(error=code, message=message, details=details)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(mode="json", exclude_none=True),
    )


def json_response(status: int, body: Any) -> Response[Any]:
    """A JSON response with an explicit status (the resolver defaults to 200)."""
    payload = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=payload)


def _validation_details(exc: RequestValidationError) -> list[dict[str, object]]:
    details: list[dict[str, object]] = []
    for error in exc.errors()[:20]:
        details.append(
            {
                "loc": [str(p) for p in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return details


def _invalid(exc: RequestValidationError) -> Response[dict[str, Any]]:
    return error_response(
        400, "ValidationError", "the request is not valid", _validation_details(exc)
    )


def _undecodable(exc: UnicodeDecodeError) -> Response[dict[str, Any]]:
    return error_response(400, "ValidationError", "the request body is not UTF-8 JSON")


def _malformed(exc: Exception) -> Response[dict[str, Any]]:
    # json.loads raises RecursionError on deeply nested documents: still the body's fault.
    return error_response(400, "ValidationError", "the request body is not valid JSON")


def _api_error(exc: ApiError) -> Response[dict[str, Any]]:
    return error_response(exc.status, exc.code, str(exc))


def _unexpected(exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    return error_response(500, "InternalError", "internal error; see the function's logs")


def build_resolver() -> APIGatewayRestResolver:
    """A REST resolver with pydantic validation and our error mapping."""
    app = APIGatewayRestResolver(enable_validation=True)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(UnicodeDecodeError)(_undecodable)  # binary body, no JSON possible
    app.exception_handler(json.JSONDecodeError)(_malformed)
    app.exception_handler(RecursionError)(_malformed)
    app.exception_handler(ApiError)(_api_error)
    app.exception_handler(Exception)(_unexpected)
    return app


def caller_identity(app: APIGatewayRestResolver) -> str:
    """The IAM principal that signed the request (API Gateway fills it for AWS_IAM auth)."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or identity.user or "unknown"


#: What a gateway is told when it reaches beyond its own data: nothing about that data.
NOT_YOURS = "this caller may not reach that resource"


@dataclass(frozen=True)
class Caller:
    """The signer of a request: its ARN (audited as *who*) and its role."""

    arn: str
    role: Role

    def require_support(self) -> None:
        """Fleet search and alarm actions: support and operators only."""
        if self.role is not Role.SUPPORT:
            raise Forbidden(NOT_YOURS)


def current_caller(app: APIGatewayRestResolver) -> Caller:
    """Classify the caller: a session of the gateway role is a gateway, anyone else support.

    The IAM resource policy admits only principals of this account, and each role's
    own policy decides which routes it reaches; here we only need to tell the shared
    gateway role (``GATEWAY_ROLE_NAME``) from the rest. Its ARN is
    ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``.
    """
    arn = caller_identity(app)
    gateway_role = get_services().settings.require("gateway_role_name")
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    kind, _, rest = resource.partition("/")
    role_name = rest.partition("/")[0]
    is_gateway = kind == "assumed-role" and role_name == gateway_role
    return Caller(arn=arn, role=Role.GATEWAY if is_gateway else Role.SUPPORT)


def require_same_gateway(path_gateway: str, *named: str | None) -> None:
    """Refuse a body or query that names a gateway other than the path's (IAM checked the path)."""
    if any(value is not None and value != path_gateway for value in named):
        raise Forbidden(NOT_YOURS)


def path_id(raw: str, pattern: str, what: str) -> str:
    """Decode a path parameter sent percent-encoded (``/`` as %2F, ``#`` as %23).

    API Gateway REST passes the path still encoded, and the resolver matches on it,
    so the value arrives encoded; decoding once is idempotent for valid ids, which
    never contain ``%``.
    """
    value = unquote(raw)
    if not re.fullmatch(pattern.strip("^$"), value):
        raise BadRequest(f"{what} {value!r} is not valid")
    return value
