"""Store-and-forward uplink to AWS IoT Core.

The package's names are loaded on first use (PEP 562): the gateway UI imports
``wardlink.uplink.audit_relay`` for the audit topic and its allow-list, and must not
pay for the publisher and SQLite that come with ``Publisher``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wardlink.uplink.limits import UplinkLimits
    from wardlink.uplink.publisher import Publisher, UplinkCounters
    from wardlink.uplink.topics import uplink_topic

__all__ = ["Publisher", "UplinkCounters", "UplinkLimits", "uplink_topic"]

_WHERE = {
    "Publisher": "wardlink.uplink.publisher",
    "UplinkCounters": "wardlink.uplink.publisher",
    "UplinkLimits": "wardlink.uplink.limits",
    "uplink_topic": "wardlink.uplink.topics",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
