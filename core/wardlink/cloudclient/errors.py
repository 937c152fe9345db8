"""Errors of the edge API client."""

from __future__ import annotations

from wardlink.model.errors import WardlinkError


class ApiClientError(WardlinkError):
    """The API refused the request (4xx other than 429): retrying will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ApiUnavailableError(WardlinkError):
    """The API stayed unreachable, throttled or failing through every retry."""


class NoCredentialsError(WardlinkError):
    """Neither the Greengrass token exchange service nor the default chain had credentials."""
