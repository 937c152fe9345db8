"""The gateway's SigV4 client for the Wardlink cloud API."""

from wardlink.cloudclient.client import WardlinkApiClient
from wardlink.cloudclient.credentials import resolve_credentials
from wardlink.cloudclient.errors import ApiClientError, ApiUnavailableError, NoCredentialsError
from wardlink.cloudclient.retry import RetryPolicy

__all__ = [
    "ApiClientError",
    "ApiUnavailableError",
    "NoCredentialsError",
    "RetryPolicy",
    "WardlinkApiClient",
    "resolve_credentials",
]
