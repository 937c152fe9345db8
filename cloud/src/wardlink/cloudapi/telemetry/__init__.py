"""Telemetry from the Kinesis stream into a time-series store.

``points`` turns envelope items into store-neutral ``TelemetryPoint``s;
``store`` is the interface every backend implements; ``influxdb`` is the default
backend (Timestream for InfluxDB, any account), ``timestream`` the Timestream for
LiveAnalytics one (accounts opened before 2025-06-20); ``reader`` reads a device's
recent points back from either, ``erasure`` deletes a device's series on InfluxDB,
``provisioning`` sets up a 2.x instance for the writer; ``kinesis`` decodes the
stream records and runs a batch through a store.
"""

from wardlink.cloudapi.telemetry.points import (
    InboundEnvelope,
    MalformedEnvelopeError,
    MeasureValue,
    TelemetryPoint,
    envelope_to_points,
)
from wardlink.cloudapi.telemetry.store import (
    RejectedPoint,
    TelemetryStore,
    TransientStoreError,
    WriteReport,
)

__all__ = [
    "InboundEnvelope",
    "MalformedEnvelopeError",
    "MeasureValue",
    "RejectedPoint",
    "TelemetryPoint",
    "TelemetryStore",
    "TransientStoreError",
    "WriteReport",
    "envelope_to_points",
]
