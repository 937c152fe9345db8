"""The interface between the Kinesis consumer and a time-series database.

A store takes points and reports, per batch, how many it stored, how many it
already had (a replay: Kinesis delivers at least once) and which it refused for
good. A store raises ``TransientStoreError`` only when trying again later may
work (throttling that outlasted the retries); the consumer then hands the
records back to Kinesis instead of dropping them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from wardlink.cloudapi.telemetry.points import TelemetryPoint
from wardlink.model.errors import WardlinkError


class TransientStoreError(WardlinkError):
    """The store could not take the batch now; retry it later, it is not lost."""


@dataclass(frozen=True)
class RejectedPoint:
    point: TelemetryPoint
    reason: str


@dataclass
class WriteReport:
    stored: int = 0
    duplicates: int = 0
    rejected: list[RejectedPoint] = field(default_factory=list)

    def merge(self, other: WriteReport) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)


class TelemetryStore(Protocol):
    """Anything that can persist telemetry points idempotently."""

    def write(self, points: Sequence[TelemetryPoint]) -> WriteReport:
        """Persist ``points``; replays of already-stored points must be harmless."""
        ...
