"""Batches sealed items from every device worker into spool appends.

Device workers must never wait on the disk, so they hand items to this writer's
queue and carry on. The writer appends in batches (by count or after a short
linger), in a worker thread, which keeps one fsync per batch rather than per
observation. The queue is bounded by count; if the disk stalls long enough for it
to fill, the oldest queued routine telemetry is dropped and counted rather than
blocking acquisition.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from wardlink.model import RecordKind, RedactedDeviceStatus, RedactedObservation
from wardlink.spool import Spool

log = logging.getLogger(__name__)

Sealed = RedactedObservation | RedactedDeviceStatus


@dataclass
class WriterCounters:
    spooled: int = 0
    overflow_dropped: int = 0
    last_seq: int = 0


class SpoolWriter:
    def __init__(
        self,
        spool: Spool,
        on_appended: Callable[[], None] | None = None,
        max_batch: int = 1000,
        linger_s: float = 0.05,
        max_queue: int = 100_000,
    ) -> None:
        self.spool = spool
        self.on_appended = on_appended
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.max_queue = max_queue
        self.counters = WriterCounters()
        self._queue: deque[tuple[RecordKind, Sealed]] = deque()
        self._ready = asyncio.Event()

    def put(self, kind: RecordKind, items: list[Sealed]) -> None:
        for item in items:
            self._queue.append((kind, item))
        while len(self._queue) > self.max_queue:
            self._queue.popleft()
            self.counters.overflow_dropped += 1
        if len(self._queue) >= self.max_batch:
            self._ready.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def run(self, stop: asyncio.Event) -> None:
        """Append until ``stop`` is set, then flush what is queued."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), timeout=self.linger_s)
            except TimeoutError:
                pass
            self._ready.clear()
            await self.flush()
        await self.flush()

    async def flush(self) -> None:
        while self._queue:
            by_kind: dict[RecordKind, list[Sealed]] = {}
            for _ in range(min(self.max_batch, len(self._queue))):
                kind, item = self._queue.popleft()
                by_kind.setdefault(kind, []).append(item)
            for kind, items in by_kind.items():
                result = await asyncio.to_thread(self.spool.append_sealed, items, kind)
                if result.last_seq is not None:
                    self.counters.spooled += len(items)
                    self.counters.last_seq = max(self.counters.last_seq, result.last_seq)
            if self.on_appended is not None:
                self.on_appended()
