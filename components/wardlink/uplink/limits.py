"""AWS IoT Core per-connection limits and a token bucket to stay inside them.

Sources: AWS IoT Core endpoints and quotas, "Message broker and protocol limits":
payload at most 128 KB; 100 publish requests per second per connection;
512 KiB/s of throughput per connection; 100 unacknowledged QoS 1 publishes in
flight per client.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class UplinkLimits:
    max_payload_bytes: int = 128 * 1024
    max_publishes_per_second: float = 100.0
    max_bytes_per_second: float | None = 512 * 1024
    max_in_flight: int = 20
    max_items_per_message: int = 1000


class TokenBucket:
    """Classic token bucket; ``take`` sleeps until enough tokens have accrued."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else rate
        self._tokens = self.capacity
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float = 1.0) -> None:
        amount = min(amount, self.capacity)  # a single oversize request waits a full bucket
        while True:
            self._refill()
            if self._tokens >= amount:
                self._tokens -= amount
                return
            await asyncio.sleep((amount - self._tokens) / self.rate)
