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
    Spool,
    SpoolStats,
    priority_of,
)

__all__ = [
    "AppendResult",
    "Durability",
    "ReadOnlySpool",
    "Spool",
    "SpoolDamaged",
    "SpoolMissing",
    "SpoolStats",
    "SpoolUnavailable",
    "SpoolUnreadable",
    "priority_of",
]
