"""Errors the repositories raise and the handlers turn into HTTP responses.

Each carries the stable ``code`` that goes into the error body, so clients can
branch on it without parsing messages.
"""

from __future__ import annotations

from wardlink.model.errors import WardlinkError


class ApiError(WardlinkError):
    """Base: an error with an HTTP status and a stable machine-readable code."""

    status = 500
    code = "InternalError"


class BadRequest(ApiError):
    status = 400
    code = "BadRequest"


class NotFound(ApiError):
    status = 404
    code = "NotFound"


class Conflict(ApiError):
    status = 409
    code = "Conflict"


class Forbidden(ApiError):
    """The caller may not reach this resource; the message never describes the resource."""

    status = 403
    code = "Forbidden"
