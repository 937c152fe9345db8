"""The durable store-and-forward spool between acquisition and the uplink."""

from wardlink.spool.sqlite_spool import (
    AppendResult,
    Durability,
    Spool,
    SpoolStats,
    priority_of,
)

__all__ = ["AppendResult", "Durability", "Spool", "SpoolStats", "priority_of"]
