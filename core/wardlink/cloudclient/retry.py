"""Retry policy: exponential backoff with full jitter, honouring ``Retry-After``.

Full jitter (a uniform delay between 0 and the exponential ceiling) spreads a fleet
of gateways that lost the API at the same moment, so they do not come back in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        jittered = self.rng.uniform(0, ceiling)
        if retry_after:
            try:
                return min(self.max_delay_s, max(jittered, float(retry_after)))
            except ValueError:
                pass
        return jittered
