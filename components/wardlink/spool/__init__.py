"""The durable store-and-forward spool between acquisition and the uplink."""

from wardlink.spool.readonly import (
    ReadOnlySpool,
    SpoolDamaged,
    SpoolMissing,
    SpoolUnavailable,
    SpoolUnreadable,
)
from wardlink.spool.sqlite_spool import (
    AppendResult,
    Durability,
    LossReason,
    Spool,
    SpoolStats,
    priority_of,
)

__all__ = [
    "AppendResult",
    "Durability",
    "LossReason",
    "ReadOnlySpool",
    "Spool",
    "SpoolDamaged",
    "SpoolMissing",
    "SpoolStats",
    "SpoolUnavailable",
    "SpoolUnreadable",
    "priority_of",
]
