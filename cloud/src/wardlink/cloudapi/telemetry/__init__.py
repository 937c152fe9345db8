"""Telemetry from the Kinesis stream into a time-series store.

``points`` turns envelope items into store-neutral ``TelemetryPoint``s;
``store`` is the interface every backend implements; ``timestream`` is the
Timestream for LiveAnalytics backend; ``influxdb`` is the shape of the Timestream
for InfluxDB path (for accounts opened after 2025-06-20); ``kinesis`` decodes the
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
