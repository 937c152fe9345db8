"""The redaction policy: raw observations in, sealed outbound types out.

Allow-list first: an outbound item is *constructed* from the fields the policy
names, never copied from the input and trimmed, so a field added to the raw type
later stays inside the gateway until someone declares it safe here. Free text that
must pass (annotations, status detail) goes through the text scrubber; if the
scrubber fails, the text is dropped (fail closed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from wardlink.model import (
    DeviceIdentity,
    DeviceStatus,
    Observation,
    PatientContext,
    RedactedDeviceStatus,
    RedactedObservation,
)
from wardlink.model.seal import sealing

log = logging.getLogger(__name__)


class TextScrubber(Protocol):
    """Removes identifiers from free text, given what is known about the patient."""

    def scrub(self, text: str, known: Sequence[str] = ()) -> str: ...


class DropAllText:
    """The fail-closed scrubber: no free text leaves at all."""

    def scrub(self, text: str, known: Sequence[str] = ()) -> str:
        return ""


class RedactionPolicy:
    """Builds outbound types from raw ones. Stateless apart from its configuration."""

    def __init__(self, scrubber: TextScrubber | None = None) -> None:
        self.scrubber: TextScrubber = scrubber or DropAllText()

    def _text(self, text: str | None, patient: PatientContext | None) -> str | None:
        if not text:
            return None
        known = patient.values() if patient is not None else ()
        try:
            cleaned = self.scrubber.scrub(text, known)
        except Exception:
            log.exception("free text could not be scrubbed; dropped")
            return None
        return cleaned or None

    def redact_observations(
        self,
        observations: Iterable[Observation],
        device: DeviceIdentity,
        patient: PatientContext | None = None,
    ) -> list[RedactedObservation]:
        with sealing():
            return [
                RedactedObservation(
                    device_id=obs.device_id,
                    device_model=device.model,
                    mdc_code=obs.metric.mdc_code,
                    mdc_name=obs.metric.mdc_name,
                    value=obs.value,
                    unit=obs.unit,
                    measured_at=obs.measured_at,
                    quality=obs.quality,
                    flags=obs.flags,
                    annotation=self._text(obs.annotation, patient),
                )
                for obs in observations
            ]

    def redact_status(
        self,
        status: DeviceStatus,
        device: DeviceIdentity,
        patient: PatientContext | None = None,
    ) -> RedactedDeviceStatus:
        with sealing():
            return RedactedDeviceStatus(
                device_id=status.device_id,
                device_model=device.model,
                at=status.at,
                connectivity=status.connectivity,
                battery_percent=status.battery_percent,
                error_codes=status.error_codes,
                detail=self._text(status.detail, patient),
            )
