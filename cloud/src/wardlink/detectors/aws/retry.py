"""Which AWS failures are worth retrying, and a jittered exponential backoff.

botocore already retries throttling and 5xx inside each call (the clients use
the ``standard`` retry mode). ``Backoff`` is the outer loop for work that must
not be dropped after that, such as delivering an alert whose evaluation has
already been committed: a few more attempts, spread out with full jitter so
concurrent shards do not retry in lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "KMSThrottlingException",
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Throttled",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "TransactionInProgressException",
    }
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (empty for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
        return True
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error_code(exc) in RETRYABLE_CODES or status >= 500
    return False


@dataclass(frozen=True, slots=True)
class Backoff:
    attempts: int = 4
    base_s: float = 0.1
    cap_s: float = 2.0
    sleep: Callable[[float], Any] = time.sleep

    def call(
        self, operation: Callable[[], T], retryable: Callable[[BaseException], bool] = is_retryable
    ) -> T:
        """Run ``operation``; retry retryable failures; re-raise the last one."""
        for attempt in range(1, self.attempts + 1):
            try:
                return operation()
            except Exception as exc:
                if attempt == self.attempts or not retryable(exc):
                    raise
                self.sleep(random.uniform(0, min(self.cap_s, self.base_s * 2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover
