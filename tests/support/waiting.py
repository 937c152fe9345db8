"""Bounded waiting for tests: poll a condition, fail clearly when it does not come true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

TIMEOUT = 10.0


async def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` holds; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
