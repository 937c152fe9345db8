"""What every API handler shares: the logger, the resolver setup, errors, identity.

Errors are answered in one JSON shape (``ErrorBody``) with a stable ``error`` code.
Request validation failures are 400 (Powertools answers 422 by default; API
Gateway's own request validator answers 400, and clients should see one code for
one kind of mistake). Unexpected exceptions are logged with their stack and
answered 500 without internals.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from wardlink.cloudapi.errors import ApiError, BadRequest
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
    app.exception_handler(ApiError)(_api_error)
    app.exception_handler(Exception)(_unexpected)
    return app


def caller_identity(app: APIGatewayRestResolver) -> str:
    """The IAM principal that signed the request (API Gateway fills it for AWS_IAM auth)."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or identity.user or "unknown"


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
