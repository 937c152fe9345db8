"""Batches sealed items from every device worker into spool appends.

Device workers must never wait on the disk, so they hand items to this writer's
queue and carry on. The writer appends in batches (by count or after a short
linger), in a worker thread, which keeps one fsync per batch rather than per
observation. The queue is bounded by count; if the disk stalls long enough for it
to fill, the oldest queued routine telemetry is dropped and counted rather than
blocking acquisition. Alerts, status and health wait in a queue of their own with
its own room (``urgent_reserve``), so a telemetry flood can never push one out,
and they are appended first. Every overflow is counted on the spool
(``LossReason.QUEUE_OVERFLOW``), in memory, so it reaches the heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from wardlink.model import RecordKind, RedactedDeviceStatus, RedactedObservation
from wardlink.spool import LossReason, Spool

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
        urgent_reserve: int = 10_000,
    ) -> None:
        self.spool = spool
        self.on_appended = on_appended
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.max_queue = max_queue
        self.urgent_reserve = urgent_reserve
        self.counters = WriterCounters()
        self._queue: deque[tuple[RecordKind, Sealed]] = deque()  # routine telemetry
        self._urgent: deque[tuple[RecordKind, Sealed]] = deque()  # alerts, status, health
        self._ready = asyncio.Event()
        #: Called with every batch handed over (e.g. the UI's local feed); sealed items only.
        self.taps: list[Callable[[RecordKind, list[Sealed]], None]] = []

    def put(self, kind: RecordKind, items: list[Sealed]) -> None:
        queue = self._queue if kind is RecordKind.TELEMETRY else self._urgent
        bound = self.max_queue if kind is RecordKind.TELEMETRY else self.urgent_reserve
        for item in items:
            queue.append((kind, item))
        overflow = 0
        while len(queue) > bound:
            queue.popleft()
            overflow += 1
        if overflow:
            self.counters.overflow_dropped += overflow
            self.spool.count_loss(LossReason.QUEUE_OVERFLOW, overflow, kind)
            log.warning(
                "spool writer queue overflowed; oldest items dropped and counted",
                extra={"kind": kind.value, "count": overflow},
            )
        if self.pending >= self.max_batch or queue is self._urgent:
            self._ready.set()
        for tap in self.taps:
            try:
                tap(kind, items)
            except Exception:  # a copy for the UI must never cost the spool
                log.debug("spool writer tap failed", exc_info=True)

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._urgent)

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
        while self._urgent or self._queue:
            by_kind: dict[RecordKind, list[Sealed]] = {}
            queue = self._urgent if self._urgent else self._queue
            for _ in range(min(self.max_batch, len(queue))):
                kind, item = queue.popleft()
                by_kind.setdefault(kind, []).append(item)
            for kind, items in by_kind.items():
                result = await asyncio.to_thread(self.spool.append_sealed, items, kind)
                if result.last_seq is not None:
                    self.counters.spooled += len(items)
                    self.counters.last_seq = max(self.counters.last_seq, result.last_seq)
            if self.on_appended is not None:
                self.on_appended()
