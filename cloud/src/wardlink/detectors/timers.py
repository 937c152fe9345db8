"""One-time timers: the scheduling seam, and a local heap driven by a virtual clock.

In AWS, ``TimerScheduler`` is implemented with EventBridge Scheduler one-time
schedules that invoke the engine with ``(model, key, timer, due)``. Firings may
arrive late, twice, or after a cancel; the engine therefore compares the firing's
``due_ms`` with the instance's stored due time and ignores stale firings, so the
scheduler only has to be at-least-once.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, order=True)
class TimerRef:
    """Which timer: detector model, instance key and timer name."""

    model: str
    key: str | None
    name: str


class TimerScheduler(Protocol):
    def schedule(self, timer: TimerRef, due_ms: int) -> None:
        """Arrange one firing at ``due_ms``, replacing any earlier schedule of this timer."""
        ...

    def cancel(self, timer: TimerRef) -> None:
        """Drop the pending firing of ``timer`` if there is one."""
        ...


class HeapTimerScheduler:
    """In-process scheduler over a virtual clock: the caller pops due timers in order.

    Cancelled or rescheduled entries stay in the heap and are skipped when popped
    (lazy deletion), which keeps ``schedule``/``cancel`` O(log n)/O(1).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, TimerRef]] = []
        self._pending: dict[TimerRef, int] = {}
        self._sequence = itertools.count()

    def schedule(self, timer: TimerRef, due_ms: int) -> None:
        self._pending[timer] = due_ms
        heapq.heappush(self._heap, (due_ms, next(self._sequence), timer))

    def cancel(self, timer: TimerRef) -> None:
        self._pending.pop(timer, None)

    def next_due(self) -> int | None:
        """Due time of the earliest pending timer, or None."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, until_ms: int, *, inclusive: bool = True) -> tuple[TimerRef, int] | None:
        """Remove and return the earliest timer due by ``until_ms``, or None."""
        self._drop_stale()
        if not self._heap:
            return None
        due, _, timer = self._heap[0]
        if due > until_ms or (due == until_ms and not inclusive):
            return None
        heapq.heappop(self._heap)
        del self._pending[timer]
        return timer, due

    def pending(self) -> dict[TimerRef, int]:
        return dict(self._pending)

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap:
            due, _, timer = heap[0]
            if self._pending.get(timer) == due:
                return
            heapq.heappop(heap)
