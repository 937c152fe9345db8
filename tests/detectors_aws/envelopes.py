"""Real envelopes for the detector tests, built the way a gateway builds them.

Observations and statuses go through the real redaction policy (which alone may
mint the sealed outbound types), the real SQLite spool (which numbers them with
the gateway-scoped ``seq``) and ``Envelope.build(...).render()``, the bytes the
uplink publishes. Patient context is attached on purpose, so tests can check
that nothing of it reaches an alert.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wardlink.model import DeviceStatus, Observation, PatientContext, RecordKind
from wardlink.model.envelope import Envelope
from wardlink.model.health import GatewayHealth
from wardlink.model.identity import DeviceIdentity
from wardlink.model.observation import Metric, Quality
from wardlink.model.status import Connectivity
from wardlink.phi.policy import RedactionPolicy
from wardlink.spool import Spool

PATIENT = PatientContext(
    patient_id="MRN-4471-TEST",
    family_name="Quixotewell",
    given_name="Adalbert",
    birth_date="1950-02-03",
    phone="+1 555 0100 7788",
)
SPO2 = Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2")
PULSE = Metric(mdc_code=149530, mdc_name="MDC_PULS_OXIM_PULS_RATE")


class Gateway:
    """One simulated gateway: policy + spool + envelope rendering."""

    def __init__(self, spool_dir: Path, gateway_id: str = "wardlink-dev-gateway") -> None:
        self.gateway_id = gateway_id
        self.policy = RedactionPolicy()
        self.spool = Spool(spool_dir / f"{gateway_id}.db")

    def device(self, device_id: str, model: str = "Nonin 3150") -> DeviceIdentity:
        return DeviceIdentity(
            device_id=device_id,
            model=model,
            manufacturer="Nonin",
            serial_number="SN-SECRET-0042",
            firmware_version="2.1.0",
        )

    def telemetry(
        self, device_id: str, readings: list[tuple[Metric, float, str]], at: datetime | None = None
    ) -> bytes:
        when = at or datetime.now(UTC)
        observations = [
            Observation(
                device_id=device_id,
                metric=metric,
                value=value,
                unit=unit,
                measured_at=when,
                quality=Quality.VALID,
                annotation="pt Quixotewell ok",
            )
            for metric, value, unit in readings
        ]
        redacted = self.policy.redact_observations(observations, self.device(device_id), PATIENT)
        self.spool.append_sealed(redacted, RecordKind.TELEMETRY)
        return self._render(RecordKind.TELEMETRY)

    def status(
        self,
        device_id: str,
        *,
        connectivity: Connectivity = Connectivity.CONNECTED,
        error_codes: tuple[str, ...] = (),
        battery: float | None = None,
        at: datetime | None = None,
    ) -> bytes:
        status = DeviceStatus(
            device_id=device_id,
            at=at or datetime.now(UTC),
            connectivity=connectivity,
            battery_percent=battery,
            error_codes=error_codes,
            detail="Quixotewell moved to bed 4",
        )
        redacted = self.policy.redact_status(status, self.device(device_id), PATIENT)
        self.spool.append_sealed([redacted], RecordKind.STATUS)
        return self._render(RecordKind.STATUS)

    def health(self, *, spool_depth: int = 0, oldest_age_s: float = 0.0) -> bytes:
        health = GatewayHealth(
            gateway_id=self.gateway_id,
            at=datetime.now(UTC),
            uptime_s=100,
            spool_depth=spool_depth,
            spool_bytes=0,
            spool_oldest_age_s=oldest_age_s,
            delivered_total=0,
            delivered_per_s=0,
            evicted_total=0,
            expired_total=0,
            dropped_total=0,
            quarantined_total=0,
            connected_devices=1,
            uplink_connected=True,
            last_seq=0,
        )
        self.spool.append_health(health)
        return self._render(RecordKind.HEALTH)

    def _render(self, kind: RecordKind) -> bytes:
        records = self.spool.read()
        assert records and all(r.kind is kind for r in records)
        self.spool.ack(r.seq for r in records)
        return Envelope.build(self.gateway_id, kind, records).render()

    def close(self) -> None:
        self.spool.close()


def kinesis_event(*payloads: bytes, first_sequence: int = 1) -> dict[str, Any]:
    """A Lambda Kinesis event (event source mapping shape) carrying these envelopes."""
    records = []
    for offset, payload in enumerate(payloads):
        sequence = f"{first_sequence + offset:056d}"
        document = json.loads(payload) if payload[:1] == b"{" else None
        key = document.get("gateway_id", "gw") if isinstance(document, dict) else "gw"
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(payload).decode(),
                    "approximateArrivalTimestamp": 1_800_000_000.0,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{sequence}",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/uplink",
                "awsRegion": "eu-west-1",
            }
        )
    return {"Records": records}


PHI_STRINGS = ("MRN-4471", "Quixotewell", "Adalbert", "1950-02-03", "555 0100", "SN-SECRET")


def assert_no_phi(text: str) -> None:
    for needle in PHI_STRINGS:
        assert needle not in text, f"PHI {needle!r} leaked into: {text[:300]}"
