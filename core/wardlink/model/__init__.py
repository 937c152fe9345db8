"""Domain types. Raw types stay in the device process; sealed types may leave it.

The names are resolved on first use (PEP 562), so a process pays only for the
models it touches: the Uplink handles envelopes and heartbeats and never builds the
validators of patient data or raw observations.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers (``X as X`` re-exports them)
    from wardlink.model.envelope import SCHEMA_VERSION as SCHEMA_VERSION
    from wardlink.model.envelope import Envelope as Envelope
    from wardlink.model.envelope import RecordKind as RecordKind
    from wardlink.model.envelope import SpooledRecord as SpooledRecord
    from wardlink.model.errors import PHIBoundaryError as PHIBoundaryError
    from wardlink.model.errors import RedactionError as RedactionError
    from wardlink.model.errors import WardlinkError as WardlinkError
    from wardlink.model.health import GatewayHealth as GatewayHealth
    from wardlink.model.identity import DeviceIdentity as DeviceIdentity
    from wardlink.model.observation import Metric as Metric
    from wardlink.model.observation import Observation as Observation
    from wardlink.model.observation import Quality as Quality
    from wardlink.model.patient import PatientContext as PatientContext
    from wardlink.model.patient import RelatedPerson as RelatedPerson
    from wardlink.model.redacted import RedactedDeviceInfo as RedactedDeviceInfo
    from wardlink.model.redacted import RedactedDeviceStatus as RedactedDeviceStatus
    from wardlink.model.redacted import RedactedObservation as RedactedObservation
    from wardlink.model.status import Connectivity as Connectivity
    from wardlink.model.status import DeviceStatus as DeviceStatus

#: Each public name and the module of this package that defines it.
_EXPORTS = {
    "SCHEMA_VERSION": "envelope",
    "Connectivity": "status",
    "DeviceIdentity": "identity",
    "DeviceStatus": "status",
    "Envelope": "envelope",
    "GatewayHealth": "health",
    "Metric": "observation",
    "Observation": "observation",
    "PHIBoundaryError": "errors",
    "PatientContext": "patient",
    "Quality": "observation",
    "RecordKind": "envelope",
    "RedactedDeviceInfo": "redacted",
    "RedactedDeviceStatus": "redacted",
    "RedactedObservation": "redacted",
    "RedactionError": "errors",
    "RelatedPerson": "patient",
    "SpooledRecord": "envelope",
    "WardlinkError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
