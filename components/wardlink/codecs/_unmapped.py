"""The "unmapped" event shared by the codecs that carry coded results (ASTM, HL7).

An ``Observation`` must name an MDC term. A well-formed result whose analyzer or
device code has no MDC mapping (neither in the device profile's ``metrics`` nor
in the codec's built-in defaults) can therefore not become an observation. It
must not crash the codec and must not vanish silently either, so the codec
reports it as an ``UnmappedMetric``: a ``FrameError`` subclass (pipelines that
only know ``FrameError`` count and log it) that also names the code, so a device
engineer can add the mapping to the profile. It never carries the value or any
patient field, so logging it is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from wardlink.codecs.base import FrameError


@dataclass(frozen=True)
class UnmappedMetric(FrameError):
    """A result whose code has no MDC mapping; add it to the profile's ``metrics``."""

    key: str = ""
    unit: str = ""


def unmapped(key: str, unit: str = "", what: str = "test code") -> UnmappedMetric:
    # Codes and units come from the device's own code system, never from patient fields.
    shown = key if len(key) <= 64 else key[:61] + "..."
    return UnmappedMetric(
        reason=f"unmapped {what} {shown!r}: add it to the profile's metrics",
        key=key,
        unit=unit,
    )
