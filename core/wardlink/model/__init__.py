"""Domain types. Raw types stay in the device process; sealed types may leave it."""

from wardlink.model.envelope import SCHEMA_VERSION, Envelope, RecordKind, SpooledRecord
from wardlink.model.errors import PHIBoundaryError, RedactionError, WardlinkError
from wardlink.model.health import GatewayHealth
from wardlink.model.identity import DeviceIdentity
from wardlink.model.observation import Metric, Observation, Quality
from wardlink.model.patient import PatientContext, RelatedPerson
from wardlink.model.redacted import (
    RedactedDeviceInfo,
    RedactedDeviceStatus,
    RedactedObservation,
)
from wardlink.model.status import Connectivity, DeviceStatus

__all__ = [
    "SCHEMA_VERSION",
    "Connectivity",
    "DeviceIdentity",
    "DeviceStatus",
    "Envelope",
    "GatewayHealth",
    "Metric",
    "Observation",
    "PHIBoundaryError",
    "PatientContext",
    "Quality",
    "RecordKind",
    "RedactedDeviceInfo",
    "RedactedDeviceStatus",
    "RedactedObservation",
    "RedactionError",
    "RelatedPerson",
    "SpooledRecord",
    "WardlinkError",
]
