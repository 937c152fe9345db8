"""The redaction policy: raw observations in, sealed outbound types out.

Allow-list first: an outbound item is *constructed* from the fields the policy
names, never copied from the input and trimmed, so a field added to the raw type
later stays inside the gateway until someone declares it safe here. Free text that
must pass (annotations, status detail) goes through the text scrubber; if the
scrubber fails, the text is dropped (fail closed).

``RedactionPolicy()`` with no arguments is the fail-closed minimum: it needs no
files and no keys, drops all free text and every patient identifier. Real
deployments build one from the policy file with ``RedactionPolicy.from_file`` (or
``from_config``), or take ``RedactionPolicy.default()``: the documented defaults
with the real scrubber (docs/phi-policy.md).

Besides the sealed pipeline types the policy also redacts whole documents -
JSON observations, HL7 v2 messages and free text - for ``wardlink phi redact`` and
for codecs that forward documents; those return a ``RedactionResult`` and never
raise on bad input.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wardlink.model import (
    Connectivity,
    DeviceIdentity,
    DeviceStatus,
    Observation,
    PatientContext,
    RedactedDeviceInfo,
    RedactedDeviceStatus,
    RedactedObservation,
    RedactionError,
)
from wardlink.model.seal import sealing
from wardlink.phi.config import PolicyConfig, PolicyError, load_config, load_config_file
from wardlink.phi.fields import DROP, FieldActions
from wardlink.phi.generalize import truncate_datetime
from wardlink.phi.keys import FileSecretSource, SecretSource
from wardlink.phi.pseudonym import Pseudonymizer
from wardlink.phi.result import Format, RedactionResult
from wardlink.phi.scrubber import Scrubber
from wardlink.phi.vault import TokenVault

if TYPE_CHECKING:
    from wardlink.phi.hl7_redact import Hl7Redactor
    from wardlink.phi.json_redact import JsonRedactor

log = logging.getLogger(__name__)

_CODE_RE = re.compile(r"^[A-Za-z0-9_.:/#+-]{1,48}$")
_LONG_DIGITS_RE = re.compile(r"\d{7}")


class TextScrubber(Protocol):
    """Removes identifiers from free text, given what is known about the patient."""

    def scrub(self, text: str, known: Sequence[str] = ()) -> str: ...


class DropAllText:
    """The fail-closed scrubber: no free text leaves at all."""

    def scrub(self, text: str, known: Sequence[str] = ()) -> str:
        return ""


class RedactionPolicy:
    """Builds outbound types from raw ones. Stateless apart from its configuration."""

    def __init__(
        self,
        scrubber: TextScrubber | None = None,
        *,
        config: PolicyConfig | None = None,
        pseudonyms: Pseudonymizer | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.scrubber: TextScrubber = scrubber or DropAllText()
        self.config: PolicyConfig = config or PolicyConfig()
        self.pseudonyms = pseudonyms or Pseudonymizer({})
        self._actions = FieldActions(
            self.config, self.scrubber, self.pseudonyms, today or (lambda: datetime.now(UTC).date())
        )
        # Built on first use: a gateway whose devices speak neither JSON nor HL7 never
        # loads the FHIR tables or the HL7 type table (about 0.8 MB of RSS).
        self._json_redactor: JsonRedactor | None = None
        self._hl7_redactor: Hl7Redactor | None = None

    @property
    def _json(self) -> JsonRedactor:
        if self._json_redactor is None:
            from wardlink.phi.json_redact import JsonRedactor

            self._json_redactor = JsonRedactor(self.config.json_.fields, self._actions)
        return self._json_redactor

    @property
    def _hl7(self) -> Hl7Redactor:
        if self._hl7_redactor is None:
            from wardlink.phi.hl7_redact import Hl7Redactor

            self._hl7_redactor = Hl7Redactor(self.config.hl7.segments, self._actions)
        return self._hl7_redactor

    # -- construction ------------------------------------------------------------

    @classmethod
    def default(cls, *, secrets: SecretSource | None = None) -> RedactionPolicy:
        """The documented defaults (``default_policy.yaml``) with the real scrubber."""
        return cls.from_config({}, secrets=secrets)

    @classmethod
    def from_file(cls, path: str | Path, *, secrets: SecretSource | None = None) -> RedactionPolicy:
        """Load a YAML policy file merged over the defaults. Raises PolicyError."""
        return cls._build(load_config_file(path), secrets)

    @classmethod
    def from_config(
        cls, data: Mapping[str, Any] | PolicyConfig, *, secrets: SecretSource | None = None
    ) -> RedactionPolicy:
        """Build from a mapping (e.g. Greengrass component configuration) or a config.

        ``secrets`` supplies HMAC and vault keys; on a gateway pass a
        ``GreengrassSecretSource``. Without it, ``hmac.secrets_dir`` is used.
        """
        config = data if isinstance(data, PolicyConfig) else load_config(data)
        return cls._build(config, secrets)

    @classmethod
    def _build(cls, config: PolicyConfig, secrets: SecretSource | None) -> RedactionPolicy:
        source = secrets
        if source is None and config.hmac.secrets_dir is not None:
            source = FileSecretSource(config.hmac.secrets_dir)
        modes = config.identifiers.modes()
        vault: Callable[[], TokenVault] | None = None
        if "vault" in modes.values():
            vault = _vault_opener(config, source)
        pseudonyms = Pseudonymizer(
            modes, vault=vault, secrets=source, hmac_key_ids=config.hmac.key_ids
        )
        scrubber = Scrubber(
            keep_terms=config.text.keep_terms, dates=config.text.dates, zip_codes=config.zip
        )
        return cls(scrubber, config=config, pseudonyms=pseudonyms)

    # -- the sealed pipeline -----------------------------------------------------

    def _text(self, text: str | None, patient: PatientContext | None) -> str | None:
        if not text:
            return None
        known = known_values(patient)
        try:
            cleaned = self.scrubber.scrub(text, known)
        except Exception:
            log.error("free text could not be scrubbed; dropped")
            return None
        return cleaned or None

    def _patient_ref(self, patient: PatientContext | None) -> str | None:
        if patient is None or not patient.patient_id:
            return None
        token = self._actions.pseudonym("patient_id", patient.patient_id)
        return None if token is DROP else str(token)

    def _moment(self, moment: datetime) -> datetime:
        truncated = truncate_datetime(moment, self.config.dates.timestamps)
        if truncated is None:
            # The outbound types require a time; 'drop' degrades to the year.
            truncated = truncate_datetime(moment, "year")
        assert truncated is not None
        return truncated

    def _codes(self, codes: Iterable[str]) -> tuple[str, ...]:
        """Device codes and flags: kept only if code-shaped and untouched by the scrubber.

        The shape check needs no scrubber, so the fail-closed default still passes
        error codes (the cloud detectors need them) but nothing with a space, an
        '@' or a run of seven digits.
        """
        kept: list[str] = []
        check = not isinstance(self.scrubber, DropAllText)
        for code in codes:
            if not _CODE_RE.match(code) or _LONG_DIGITS_RE.search(code):
                continue
            if check and not self._untouched(code):
                continue
            kept.append(code)
        return tuple(kept)

    def _untouched(self, code: str) -> bool:
        try:
            return self.scrubber.scrub(code) == code
        except Exception:
            log.error("a device code could not be scrubbed; dropped")
            return False

    def redact_observations(
        self,
        observations: Iterable[Observation],
        device: DeviceIdentity,
        patient: PatientContext | None = None,
        location: Mapping[str, str] | None = None,
    ) -> list[RedactedObservation]:
        patient_ref = self._patient_ref(patient)
        where = self._location(location)
        with sealing():
            return [
                RedactedObservation(
                    device_id=obs.device_id,
                    device_model=device.model,
                    mdc_code=obs.metric.mdc_code,
                    mdc_name=obs.metric.mdc_name,
                    value=obs.value,
                    unit=obs.unit,
                    measured_at=self._moment(obs.measured_at),
                    quality=obs.quality,
                    flags=self._codes(obs.flags),
                    annotation=self._text(obs.annotation, patient),
                    patient_ref=patient_ref,
                    **where,
                )
                for obs in observations
            ]

    def _location(self, location: Mapping[str, str] | None) -> dict[str, str]:
        """The parts of a site-assigned location the policy lets out, scrubbed like text."""
        if not location:
            return {}
        check = not isinstance(self.scrubber, DropAllText)
        kept: dict[str, str] = {}
        for part in self.config.location.send:
            value = str(location.get(part) or "").strip()
            if not _CODE_RE.match(value.replace(" ", "-")) or _LONG_DIGITS_RE.search(value):
                continue  # not label-shaped (a name, a sentence, a record number): stays on site
            if check and not self._untouched(value):
                continue
            kept[f"location_{part}"] = value
        return kept

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
                at=self._moment(status.at),
                connectivity=status.connectivity,
                battery_percent=status.battery_percent,
                error_codes=self._codes(status.error_codes),
                detail=self._text(status.detail, patient),
            )

    def redact_device(
        self,
        device: DeviceIdentity,
        connectivity: Connectivity,
        location: Mapping[str, str] | None = None,
    ) -> RedactedDeviceInfo:
        """Device metadata for registration: the serial number only as the policy allows,
        the site-assigned location only as ``location.send`` allows (as for telemetry)."""
        serial = None
        if device.serial_number:
            token = self._actions.pseudonym("device_serial", device.serial_number)
            serial = None if token is DROP else str(token)
        with sealing():
            return RedactedDeviceInfo(
                device_id=device.device_id,
                model=device.model,
                manufacturer=device.manufacturer,
                firmware_version=_firmware(device.firmware_version),
                serial_number=serial,
                profile=device.profile,
                connectivity=connectivity,
                **self._location(location),
            )

    # -- documents ---------------------------------------------------------------

    def redact_text(self, text: object, known: Sequence[str] = ()) -> RedactionResult:
        if not isinstance(text, str):
            return RedactionResult.failure("text input must be a string")
        try:
            return RedactionResult.success(self.scrubber.scrub(text, known))
        except Exception as exc:
            return RedactionResult.failure(f"scrubber failed: {type(exc).__name__}")

    def redact_json(
        self, document: object, patient: PatientContext | None = None
    ) -> RedactionResult:
        """Redact a JSON value (already parsed) or JSON text."""
        if isinstance(document, (str, bytes)):
            try:
                document = json.loads(document)
            except (ValueError, UnicodeDecodeError) as exc:
                return RedactionResult.failure(f"malformed JSON: {_short(exc)}")
        try:
            return RedactionResult.success(self._json.redact(document, known_values(patient)))
        except RedactionError as exc:
            return RedactionResult.failure(str(exc))
        except Exception as exc:
            log.error("JSON redaction failed: %s", type(exc).__name__)
            return RedactionResult.failure(f"redaction failed: {type(exc).__name__}")

    def redact_hl7(self, message: object, patient: PatientContext | None = None) -> RedactionResult:
        if not isinstance(message, (str, bytes)):
            return RedactionResult.failure("HL7 input must be a string")
        try:
            return RedactionResult.success(self._hl7.redact(message, known_values(patient)))
        except RedactionError as exc:
            return RedactionResult.failure(str(exc))
        except Exception as exc:
            log.error("HL7 redaction failed: %s", type(exc).__name__)
            return RedactionResult.failure(f"redaction failed: {type(exc).__name__}")

    def redact(self, kind: Format, payload: object) -> RedactionResult:
        """Dispatch on the format name used by the CLI (json | hl7 | text)."""
        if kind == "json":
            return self.redact_json(payload)
        if kind == "hl7":
            return self.redact_hl7(payload)
        if kind == "text":
            return self.redact_text(payload)
        return RedactionResult.failure(f"unknown format {kind!r}")


def _firmware(version: str | None) -> str | None:
    """A firmware version passes on shape alone: "1.2.0.4" must not be taken for an IP."""
    if version and _CODE_RE.match(version) and not _LONG_DIGITS_RE.search(version):
        return version
    return None


def known_values(patient: PatientContext | None) -> list[str]:
    """What the scrubber should also remove: every patient value, plus the full name."""
    if patient is None:
        return []
    values = patient.values()
    full = " ".join(part for part in (patient.given_name, patient.family_name) if part)
    if " " in full:
        values.append(full)
    return values


def _vault_opener(config: PolicyConfig, source: SecretSource | None) -> Callable[[], TokenVault]:
    """Open the vault on first use: its key may only be reachable once IPC is up."""
    vault_config = config.vault
    if vault_config.path is None:
        raise PolicyError("identifiers use mode 'vault' but vault.path is not set")
    if vault_config.key_file is None and vault_config.key_secret_id is None:
        raise PolicyError("identifiers use mode 'vault' but no vault key is configured")
    path = vault_config.path

    def open_vault() -> TokenVault:
        if vault_config.key_file is not None:
            directory = vault_config.key_file.parent
            key = FileSecretSource(directory).get_secret(vault_config.key_file.name)
        else:
            if source is None:
                raise RedactionError("vault.key_secret_id needs a secret source")
            assert vault_config.key_secret_id is not None
            key = source.get_secret(vault_config.key_secret_id)
        return TokenVault(path, key)

    return open_vault


def _short(exc: Exception) -> str:
    """An error message without input content (json errors quote no data, but be sure)."""
    text = str(exc)
    return text.split(":")[0][:80] if text else type(exc).__name__
