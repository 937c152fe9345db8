"""FHIR resources in JSON: redacted by their structure, not by key names.

Why: the allow-list in ``json_redact`` knows the IoMT message shape, so a FHIR
Observation lost everything - code, value and unit together with the subject. A FHIR
resource says what each element *is* (``resourceType`` plus the data type of every
element), so it can be redacted precisely: the patient's references, names,
identifiers, telecom and addresses go; codes, values, units, statuses and device
types stay; times follow the policy.

Rules are data. ``RESOURCES`` maps each supported resource type (R4, and R5 where the
elements are the same or only renamed) to ``{element: rule}``, ``DATA_TYPES`` does the
same for the FHIR data types. A rule is one of

* a policy field rule (``number``, ``timestamp``, ``date``, ``birth_date``, ``age``,
  ``zip``, ``match:REGEX``, ``pseudonym:KIND``), applied by ``FieldActions`` exactly as
  for the allow-list - so ``dates.timestamps``, ``dates.fields``, ``zip`` and the
  identifier modes of the policy file apply to FHIR unchanged;
* ``@Type``: walk the value with the data type table ``Type``;
* a FHIR rule of this module (``_HANDLERS``): ``term`` (a Coding or Quantity code:
  with a known terminology system it is vocabulary, else like ``code``), ``code``
  (code-shaped, checked by the scrubber), ``display`` / ``text`` (free text through
  the scrubber), ``xhtml`` (narrative: tags stripped, text scrubbed), ``system``
  (terminology URIs from a known list), ``boolean``, ``ref`` / ``ref:person`` /
  ``ref:device`` (a Reference: display and identifier go, the target id follows
  the policy's identifier kind for its type, a device's display stays scrubbed),
  ``resource`` (a nested resource), ``extension`` (kept only with a plain URL and a
  code or quantity value), ``fullUrl``, ``requestUrl``.

Ids and references that survive are dropped after all if they spell a dropped
value ("Observation/quindeb-1"); codes that equal one are dropped too.

An element a table does not name is dropped (fail closed), and so is a value of the
wrong JSON type. Strings of dropped elements (names, telecom, identifiers, address
lines, reference displays) are collected as *known values*: the scrubber then also
removes them from every narrative, note and display of the same document or Bundle.
Free text is therefore scrubbed after the walk, once everything is known.

A resource type without a table (Practitioner, Condition...) goes to the allow-list
fallback the caller supplies: the same fail-closed behaviour as any other JSON.
Element names and types follow the FHIR R4 (4.0.1) and R5 (5.0.0) specifications,
https://hl7.org/fhir/R4/ and https://hl7.org/fhir/R5/ (resource and data type pages).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from wardlink.phi.config import FieldRule
from wardlink.phi.fields import DROP, FieldActions, Scrubs

MAX_DEPTH = 48
MAX_DISPLAY_CHARS = 512
MAX_CLEAN_TEXTS = 4096

Fallback = Callable[[Mapping[str, object], Sequence[str]], object]


def _enum(*codes: str) -> str:
    """A required value set as a ``match`` rule: only these codes pass."""
    return "match:^(" + "|".join(re.escape(code) for code in codes) + ")$"


_ID_SHAPE = "match:^[A-Za-z0-9.-]{1,64}$"

# fmt: off
# -- data types -------------------------------------------------------------------

_CODING = {
    "system": "system", "version": "code", "code": "term", "display": "display",
    "userSelected": "boolean",
}
_CODEABLE_CONCEPT = {"coding": "@Coding", "text": "display"}
_QUANTITY = {
    "value": "number", "comparator": _enum("<", "<=", ">=", ">", "ad"), "unit": "code",
    "system": "system", "code": "term",
}
_PERIOD = {"start": "timestamp", "end": "timestamp"}  # an event: dates.timestamps
_PERSON_PERIOD = {"start": "date", "end": "date"}  # a stay of the person: dates.fields

#: value[x] of Observation and its components: measurements and codes, never a person.
_VALUE_X = {
    "valueQuantity": "@Quantity", "valueCodeableConcept": "@CodeableConcept",
    "valueString": "text", "valueBoolean": "boolean", "valueInteger": "number",
    "valueRange": "@Range", "valueRatio": "@Ratio", "valueSampledData": "@SampledData",
    "valueTime": r"match:^\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$", "valueDateTime": "date",
    "valuePeriod": "@PersonPeriod",
}

DATA_TYPES: dict[str, dict[str, str]] = {
    "Coding": _CODING,
    "CodeableConcept": _CODEABLE_CONCEPT,
    # R4 Encounter.class is a Coding, R5 a CodeableConcept list; R5 CodeableReference
    # carries its concept beside a reference (the reference is dropped).
    "CodeableAny": _CODING | _CODEABLE_CONCEPT | {"concept": "@CodeableConcept"},
    "Quantity": _QUANTITY,
    "Age": _QUANTITY | {"value": "age"},
    "Range": {"low": "@Quantity", "high": "@Quantity"},
    "Ratio": {"numerator": "@Quantity", "denominator": "@Quantity"},
    "SampledData": {
        "origin": "@Quantity", "period": "number", "interval": "number",
        "intervalUnit": "code", "factor": "number", "lowerLimit": "number",
        "upperLimit": "number", "dimensions": "number",
        "data": r"match:^[0-9.EUL +-]*$", "offsets": r"match:^[0-9. -]*$",
    },
    "Period": _PERIOD,
    "PersonPeriod": _PERSON_PERIOD,
    "Annotation": {"text": "text", "time": "timestamp"},  # author[x] goes
    "Narrative": {"status": _enum("generated", "extensions", "additional", "empty"),
                  "div": "xhtml"},
    "Meta": {"versionId": _ID_SHAPE, "lastUpdated": "timestamp", "profile": "system",
             "security": "@Coding", "tag": "@Coding"},
    # Safe Harbor: state and the ZIP's first three digits only; line, city, district go.
    "Address": {
        "use": _enum("home", "work", "temp", "old", "billing"),
        "type": _enum("postal", "physical", "both"),
        "state": "code", "postalCode": "zip", "country": "code",
    },
    # HumanName, Identifier and ContactPoint have no rule at all: they never leave.
    "ReferenceRange": {
        "low": "@Quantity", "high": "@Quantity", "normalValue": "@CodeableConcept",
        "type": "@CodeableConcept", "appliesTo": "@CodeableConcept", "age": "@Range",
        "text": "text",
    },
    "ObservationComponent": {
        "code": "@CodeableConcept", "dataAbsentReason": "@CodeableConcept",
        "interpretation": "@CodeableConcept", "referenceRange": "@ReferenceRange",
        "extension": "extension", **_VALUE_X,
    },
    # Device.deviceName (R4) and Device.name (R5): a user-friendly or patient-reported
    # name may be anything, so the name itself is free text.
    "DeviceName": {
        "name": "display", "value": "display", "display": "boolean",
        "type": _enum("udi-label-name", "user-friendly-name", "patient-reported-name",
                      "manufacturer-name", "model-name", "registered-name", "other"),
    },
    # UDI: the DI names the model (public in GUDID) and stays; the human-readable
    # carrier holds the production identifier (lot, serial): the serial policy.
    "UdiCarrier": {
        "deviceIdentifier": "match:^[A-Za-z0-9+$/.*-]{1,64}$", "issuer": "system",
        "jurisdiction": "system", "carrierHRF": "pseudonym:device_serial",
        "entryType": _enum("barcode", "rfid", "manual", "card", "self-reported",
                           "electronic-transmission", "unknown"),
    },
    "DeviceVersion": {"type": "@CodeableConcept", "value": "code"},
    "DeviceSpecialization": {"systemType": "@CodeableConcept", "version": "code"},
    "DeviceProperty": {
        "type": "@CodeableConcept", "valueQuantity": "@Quantity",
        "valueCode": "@CodeableConcept", "valueCodeableConcept": "@CodeableConcept",
        "valueBoolean": "boolean", "valueInteger": "number", "valueRange": "@Range",
    },
    "DeviceConformsTo": {"category": "@CodeableConcept",
                         "specification": "@CodeableConcept", "version": "code"},
    "Calibration": {
        "type": _enum("unspecified", "offset", "gain", "two-point"),
        "state": _enum("not-calibrated", "calibration-required", "calibrated", "unspecified"),
        "time": "timestamp",
    },
    "EncounterParticipant": {"type": "@CodeableConcept", "period": "@PersonPeriod",
                             "individual": "ref:person", "actor": "ref:person"},
    "EncounterStatusHistory": {"status": "code", "period": "@PersonPeriod"},
    "EncounterClassHistory": {"class": "@CodeableAny", "period": "@PersonPeriod"},
    "EncounterReason": {"use": "@CodeableConcept", "value": "@CodeableAny"},
    "EncounterDiagnosis": {"condition": "ref", "use": "@CodeableAny", "rank": "number"},
    "EncounterAdmission": {
        "admitSource": "@CodeableConcept", "reAdmission": "@CodeableConcept",
        "dietPreference": "@CodeableConcept", "specialCourtesy": "@CodeableConcept",
        "specialArrangement": "@CodeableConcept",
        "dischargeDisposition": "@CodeableConcept",
    },
    "EncounterLocation": {
        "location": "ref", "status": _enum("planned", "active", "reserved", "completed"),
        "physicalType": "@CodeableConcept", "form": "@CodeableConcept",
        "period": "@PersonPeriod",
    },
    "PatientCommunication": {"language": "@CodeableConcept", "preferred": "boolean"},
    "BundleEntry": {
        "fullUrl": "fullUrl", "resource": "resource",
        "search": "@BundleSearch", "request": "@BundleRequest",
    },
    "BundleSearch": {"mode": _enum("match", "include", "outcome"), "score": "number"},
    "BundleRequest": {
        "method": _enum("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"),
        "url": "requestUrl",
    },
}

# -- resources --------------------------------------------------------------------

#: Elements every resource may carry (``resourceType`` and ``id`` are handled apart).
_RESOURCE_BASE = {
    "meta": "@Meta", "language": "match:^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
    "text": "@Narrative", "contained": "resource", "extension": "extension",
    "modifierExtension": "extension",
}

RESOURCES: dict[str, dict[str, str]] = {
    "Observation": _RESOURCE_BASE | {
        "basedOn": "ref", "partOf": "ref",
        "status": _enum("registered", "preliminary", "final", "amended", "corrected",
                        "cancelled", "entered-in-error", "unknown"),
        "category": "@CodeableConcept", "code": "@CodeableConcept",
        "subject": "ref:person", "focus": "ref:person", "encounter": "ref:person",
        "effectiveDateTime": "timestamp", "effectiveInstant": "timestamp",
        "effectivePeriod": "@Period", "issued": "timestamp", "performer": "ref:person",
        "dataAbsentReason": "@CodeableConcept", "interpretation": "@CodeableConcept",
        "note": "@Annotation", "bodySite": "@CodeableConcept", "method": "@CodeableConcept",
        "specimen": "ref", "device": "ref:device", "referenceRange": "@ReferenceRange",
        "hasMember": "ref", "derivedFrom": "ref", "component": "@ObservationComponent",
        "instantiatesCanonical": "system", "bodyStructure": "ref", **_VALUE_X,
    },
    "Device": _RESOURCE_BASE | {
        "definition": "ref", "udiCarrier": "@UdiCarrier",
        "status": _enum("active", "inactive", "entered-in-error", "unknown"),
        "statusReason": "@CodeableConcept", "availabilityStatus": "@CodeableConcept",
        "distinctIdentifier": "pseudonym:device_serial",
        "serialNumber": "pseudonym:device_serial", "lotNumber": "pseudonym:device_serial",
        "manufacturer": "display", "manufactureDate": "timestamp",
        "expirationDate": "timestamp", "deviceName": "@DeviceName", "name": "@DeviceName",
        "displayName": "display", "modelNumber": "code", "partNumber": "code",
        "category": "@CodeableConcept", "type": "@CodeableConcept",
        "specialization": "@DeviceSpecialization", "version": "@DeviceVersion",
        "conformsTo": "@DeviceConformsTo", "property": "@DeviceProperty",
        "mode": "@CodeableConcept", "safety": "@CodeableConcept", "parent": "ref:device",
        "note": "@Annotation",
    },
    "DeviceMetric": _RESOURCE_BASE | {
        "type": "@CodeableConcept", "unit": "@CodeableConcept", "source": "ref:device",
        "parent": "ref:device", "device": "ref:device",
        "operationalStatus": _enum("on", "off", "standby", "entered-in-error"),
        "color": "code",
        "category": _enum("measurement", "setting", "calculation", "unspecified"),
        "measurementFrequency": "@Quantity", "calibration": "@Calibration",
    },
    "Patient": _RESOURCE_BASE | {
        "active": "boolean", "gender": _enum("male", "female", "other", "unknown"),
        "birthDate": "birth_date", "deceasedBoolean": "boolean", "deceasedDateTime": "date",
        "address": "@Address", "maritalStatus": "@CodeableConcept",
        "multipleBirthBoolean": "boolean", "communication": "@PatientCommunication",
    },
    "Encounter": _RESOURCE_BASE | {
        "status": "code", "statusHistory": "@EncounterStatusHistory",
        "class": "@CodeableAny", "classHistory": "@EncounterClassHistory",
        "type": "@CodeableConcept", "serviceType": "@CodeableAny",
        "priority": "@CodeableConcept", "subject": "ref:person",
        "subjectStatus": "@CodeableConcept", "episodeOfCare": "ref", "basedOn": "ref",
        "partOf": "ref", "participant": "@EncounterParticipant",
        "period": "@PersonPeriod", "actualPeriod": "@PersonPeriod",
        "plannedStartDate": "date", "plannedEndDate": "date", "length": "@Quantity",
        "reasonCode": "@CodeableConcept", "reason": "@EncounterReason",
        "diagnosis": "@EncounterDiagnosis", "hospitalization": "@EncounterAdmission",
        "admission": "@EncounterAdmission", "location": "@EncounterLocation",
        "serviceProvider": "ref",
    },
    "Bundle": {
        "meta": "@Meta", "language": _RESOURCE_BASE["language"],
        "type": _enum("document", "message", "transaction", "transaction-response",
                      "batch", "batch-response", "history", "searchset", "collection",
                      "subscription-notification"),
        "timestamp": "timestamp", "total": "number", "entry": "@BundleEntry",
    },
}

# -- references and identifiers ---------------------------------------------------

#: Resource types whose logical id identifies a person or a stay, and the policy
#: identifier kind their id follows (None: always dropped).
ID_KINDS: dict[str, str | None] = {
    "Patient": "patient_id", "Practitioner": None, "PractitionerRole": None,
    "RelatedPerson": None, "Person": None, "Group": None,
    "Encounter": "visit_id", "EpisodeOfCare": "visit_id", "Account": "account_number",
    "Coverage": None, "Organization": "facility", "Location": "facility",
    "Device": "device_id",
}

#: Terminology and definition URIs (Coding.system, Quantity.system, Meta.profile).
#: Anything else (a site-local URL, a URL about a person) is dropped.
KNOWN_SYSTEMS: tuple[str, ...] = (
    "http://loinc.org", "http://snomed.info/", "http://unitsofmeasure.org",
    "urn:iso:std:iso:11073:10101", "urn:iso:std:iso:3166", "urn:ietf:bcp:47",
    "http://terminology.hl7.org/", "http://hl7.org/fhir/", "https://hl7.org/fhir/",
    "http://www.nlm.nih.gov/research/umls/", "http://ncimeta.nci.nih.gov",
    "http://www.ama-assn.org/go/cpt", "http://id.who.int/icd", "http://dicom.nema.org/",
    "http://fdasis.nlm.nih.gov", "http://www.whocc.no/atc", "http://hl7.org/fhir/sid/",
    "http://ihe.net/fhir/", "https://profiles.ihe.net/", "http://www.fda.gov/",
    "http://hl7.org/fhir/uv/", "http://hl7.org/fhir/us/", "https://www.gs1.org/",
    "http://www.gs1.org/", "http://www.hibcc.org", "http://www.iccbba.org",
)
_OID_RE = re.compile(r"^urn:oid:[0-2](\.\d{1,9}){1,30}$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_FHIR_ID_RE = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
_LONG_DIGITS_RE = re.compile(r"\d{7}")
_DIGIT_RUN_RE = re.compile(r"\d{4,}")
_WORD_RE = re.compile(r"[^\W\d_]{4,}")
_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_RELATIVE_REF_RE = re.compile(
    r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9.-]{1,64})(/_history/[A-Za-z0-9.-]{1,64})?$"
)
_EXTENSION_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]{1,253}(/[A-Za-z0-9._~-]{1,128}){0,16}$")
_CODE_RE = re.compile(r"^\S{1,64}( \S{1,64}){0,7}$")
_PLAIN_CODE_RE = re.compile(r"^[0-9][0-9.:-]{0,31}$|^MDC_[A-Z0-9_]{1,60}$|^[^A-Za-z\s]{1,16}$")
_TAG_RE = re.compile(r"<[^>]*>")
_SPACES_RE = re.compile(r"\s+")
_XHTML_OPEN = '<div xmlns="http://www.w3.org/1999/xhtml">'

#: Extension value types that carry a code or a measurement, never a person.
EXTENSION_VALUES: dict[str, str] = {
    "valueCode": "code", "valueCoding": "@Coding", "valueCodeableConcept": "@CodeableConcept",
    "valueQuantity": "@Quantity", "valueBoolean": "boolean", "valueInteger": "number",
    "valueDecimal": "number", "valuePositiveInt": "number", "valueUnsignedInt": "number",
}
#: An extension whose URL mentions one of these is about the person: dropped whole.
_DEVICE_TYPES = frozenset({"Device", "DeviceMetric", "DeviceDefinition"})
_PERSON_URL_HINTS = (
    "name", "maiden", "birthplace", "address", "telecom", "contact", "mother", "father",
    "relative", "nationality", "citizenship", "identifier", "ssn", "email", "phone",
)
#: Keys under which even a lower-case string is a person's value worth knowing.
_PERSON_KEYS = frozenset(
    {"name", "given", "family", "text", "line", "city", "district", "display", "value",
     "alias", "prefix", "suffix", "reference"}
)
#: Elements that name or reach a person, in any resource type.
_PERSON_ELEMENTS = frozenset(
    {"name", "telecom", "identifier", "address", "contact", "display", "given", "family",
     "line", "city", "alias", "photo", "reference"}
)
# fmt: on


@dataclass(slots=True)
class _Deferred:
    """A string to scrub once every known value of the document is collected."""

    kind: str  # "id" | "term" | "code" | "text" | "display" | "xhtml"
    value: str


@dataclass
class _Walk:
    """State of one redaction: what was dropped (known values) and nothing else."""

    known: list[str] = field(default_factory=list)
    known_set: set[str] = field(default_factory=set)
    _spelled: tuple[set[str], set[str]] | None = None
    _scrubbed: dict[str, str] = field(default_factory=dict)
    known_digits: set[str] | None = None
    _probes: list[tuple[str, tuple[str, ...]]] | None = None

    def scrub(self, scrubber: Scrubs, text: str, clean: set[str] | None = None) -> str:
        """``scrubber.scrub`` with the known values that can matter for ``text``.

        The scrubber prepares its known values on every call; a Bundle has dozens
        of them and dozens of displays. A known value none of whose words (nor, for
        one with digits, any digit) occurs in the text cannot change the result, so
        only the others are passed (non-ASCII text or values always pass). Results
        are cached per text: codings repeat their displays. ``clean`` holds short
        texts the scrubber left unchanged with no known value in play (terminology
        displays such as "Heart rate"): across documents they need no new scrub.
        """
        cached = self._scrubbed.get(text)
        if cached is None:
            relevant = self._relevant(text)
            if clean is not None and not relevant and text in clean:
                return text
            cached = scrubber.scrub(text, relevant)
            self._scrubbed[text] = cached
            if clean is not None and not relevant and cached == text and len(text) <= 128:
                if len(clean) >= MAX_CLEAN_TEXTS:
                    clean.clear()
                clean.add(text)
        return cached

    def _relevant(self, text: str) -> list[str]:
        if not self.known:
            return []
        if self._probes is None:
            self._probes = [(k, _probe_words(k)) for k in self.known]
        if not text.isascii():
            return self.known
        lowered = text.lower()
        has_digit = any(ch.isdigit() for ch in text)
        return [
            known
            for known, words in self._probes
            if not words  # non-ASCII, or no word to look for: always
            or any(word in lowered for word in words if word != "#")
            or (has_digit and "#" in words)
        ]

    def spells_known(self, value: str) -> bool:
        """Whether an id contains a known value ("obs-quindeb-1", "5528101-spo2")."""
        if self._spelled is None:  # built once, after the walk collected everything
            words = {w.lower() for k in self.known for w in _WORD_RE.findall(k)}
            digits = {run for k in self.known for run in _DIGIT_RUN_RE.findall(k)}
            self._spelled = (words, digits)
        words, digits = self._spelled
        lowered = value.lower()
        if any(word in lowered for word in words):
            return True
        return any(known in run for run in _DIGIT_RUN_RE.findall(value) for known in digits)

    def remember(self, value: object, key: str = "", depth: int = 0) -> None:
        """Collect the strings of a dropped subtree, to scrub them from free text."""
        if depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            for child_key, item in value.items():
                self.remember(item, str(child_key), depth + 1)
        elif isinstance(value, list):
            for item in value:
                self.remember(item, key, depth + 1)
        elif isinstance(value, str):
            text = value.strip()
            if len(text) < 2 or text in self.known_set or "://" in text or text.startswith("urn:"):
                return
            if key in _PERSON_KEYS or not (text.islower() or (text.isalpha() and len(text) <= 3)):
                self.known_set.add(text)
                self.known.append(text)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1000:
            self.remember(str(value), key, depth)

    def remember_people(self, value: object, depth: int = 0) -> None:
        """Only the person-bearing elements of a resource the allow-list redacts.

        Its free text (a ``note`` the allow-list keeps, scrubbed) must not become a
        known value, or it would be erased whole.
        """
        if depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _PERSON_ELEMENTS:
                    self.remember(item, str(key), depth + 1)
                else:
                    self.remember_people(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                self.remember_people(item, depth + 1)


def is_fhir(document: object) -> bool:
    """Whether ``document`` is a FHIR resource: an object with a ``resourceType``."""
    return isinstance(document, dict) and isinstance(document.get("resourceType"), str)


class FhirRedactor:
    """Redacts FHIR resources (and Bundles of them) by the tables above."""

    def __init__(self, actions: FieldActions, fallback: Fallback) -> None:
        self._actions = actions
        self._fallback = fallback
        self._clean: set[str] = set()  # see _Walk.scrub
        self._rules: dict[str, FieldRule] = {}
        for table in (*DATA_TYPES.values(), *RESOURCES.values(), EXTENSION_VALUES):
            for rule in table.values():
                if rule.startswith("@"):
                    if rule[1:] not in DATA_TYPES:
                        raise ValueError(f"FHIR table names an unknown data type {rule!r}")
                elif rule not in _HANDLERS:
                    self._rules[rule] = FieldRule.parse(rule)  # PolicyError if unknown

    def redact(self, resource: Mapping[str, object], known: Sequence[str] = ()) -> object:
        """The redacted resource; unknown resource types go to the fallback."""
        walk = _Walk()
        for value in known:
            walk.remember(value, "value")
        out = self._resource(resource, walk, 0)
        return self._finish(out, walk, 0)

    # -- the walk ----------------------------------------------------------------

    def _resource(self, resource: object, walk: _Walk, depth: int) -> object:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            walk.remember(resource)
            return DROP
        kind = resource["resourceType"]
        table = RESOURCES.get(kind)
        if table is None:
            walk.remember_people(resource, depth)
            return _Fallback(resource)
        out: dict[str, object] = {"resourceType": kind}
        if "id" in resource:
            ident = self._logical_id(kind, resource["id"])
            if ident is DROP:
                walk.remember(resource["id"], "value")
            else:
                out["id"] = _Deferred("id", str(ident))
        for key, value in resource.items():
            if key in ("resourceType", "id"):
                continue
            rule = table.get(key)
            result = DROP if rule is None else self._element(rule, value, walk, depth + 1, resource)
            if result is DROP:
                walk.remember(value, key)
            else:
                out[key] = result
        return out

    def _element(
        self, rule: str, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        if depth > MAX_DEPTH:
            return DROP
        if isinstance(value, list):
            items = [self._element(rule, item, walk, depth + 1, parent) for item in value]
            kept = [item for item in items if item is not DROP]
            for item, raw in zip(items, value, strict=True):
                if item is DROP:
                    walk.remember(raw)
            return kept if kept else DROP
        if rule.startswith("@"):
            return self._object(DATA_TYPES[rule[1:]], value, walk, depth)
        handler = _HANDLERS.get(rule)
        if handler is not None:
            return handler(self, value, walk, depth, parent)
        return self._scalar(self._rules[rule], value, walk)

    def _object(self, table: Mapping[str, str], value: object, walk: _Walk, depth: int) -> object:
        if not isinstance(value, dict):
            return DROP
        out: dict[str, object] = {}
        for key, item in value.items():
            rule = "extension" if key in ("extension", "modifierExtension") else table.get(key)
            result = DROP if rule is None else self._element(rule, item, walk, depth + 1, value)
            if result is DROP:
                walk.remember(item, key)
            else:
                out[key] = result
        return out if out else DROP

    def _scalar(self, rule: FieldRule, value: object, walk: _Walk) -> object:
        if isinstance(value, (dict, list)):
            return DROP
        result = self._actions.apply(rule, value, ())
        if isinstance(value, str) and result != value:
            walk.remember(value, "value")  # a raw birth date, ZIP or serial
        return result

    # -- FHIR rules ----------------------------------------------------------------

    def _code(self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]) -> object:
        if not isinstance(value, str) or not _CODE_RE.match(value):
            return DROP
        return _Deferred("code", value)

    def _term(self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]) -> object:
        """A code of a known terminology (LOINC, SNOMED, MDC, UCUM...) is its vocabulary.

        "ATND" or "IMP" would look like a name to the scrubber; with a known system
        the code only has to be code-shaped and not one of the document's own values.
        """
        if not isinstance(value, str) or not _CODE_RE.match(value):
            return DROP
        system = parent.get("system")
        if isinstance(system, str) and self._system(system, walk, depth, parent) is not DROP:
            return _Deferred("term", value)
        return _Deferred("code", value)

    def _text(self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]) -> object:
        return _Deferred("text", value) if isinstance(value, str) else DROP

    def _display(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        if not isinstance(value, str) or len(value) > MAX_DISPLAY_CHARS:
            return DROP
        return _Deferred("display", value)

    def _xhtml(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        return _Deferred("xhtml", value) if isinstance(value, str) else DROP

    def _boolean(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        return value if isinstance(value, bool) else DROP

    def _system(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        if not isinstance(value, str) or len(value) > 256 or "?" in value or "#" in value:
            return DROP
        if value.startswith(KNOWN_SYSTEMS) or _OID_RE.match(value):
            return value
        return DROP

    def _nested(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        return self._resource(value, walk, depth)

    def _reference(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        return self._ref(value, walk, person=False)

    def _person_reference(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        return self._ref(value, walk, person=True)

    def _device_reference(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        return self._ref(value, walk, person=False, device=True)

    def _ref(self, value: object, walk: _Walk, *, person: bool, device: bool = False) -> object:
        """A Reference: display and identifier go; the target follows its type's policy.

        The display of a reference to a device ("Pulse oximeter, bed 4") is the device
        type, which stays: as free text, through the scrubber.
        """
        if not isinstance(value, dict):
            return DROP
        out: dict[str, object] = {}
        target = value.get("reference")
        kind = value.get("type")
        if isinstance(kind, str) and _TYPE_RE.match(kind):
            out["type"] = kind
        if isinstance(target, str):
            match = _RELATIVE_REF_RE.match(target)
            if match is not None:
                out["type"] = match.group(1)
                ident = self._logical_id(match.group(1), match.group(2))
                if ident is not DROP:
                    out["reference"] = _Deferred("id", f"{match.group(1)}/{ident}")
            elif target.startswith("#") and _FHIR_ID_RE.match(target[1:]):
                out["reference"] = _Deferred("id", target)  # contained: redacted with this one
            elif target.startswith("urn:uuid:") and not person and _UUID_RE.match(target[9:]):
                out["reference"] = _Deferred("id", target)  # a Bundle-local id
        display = value.get("display")
        if (
            device
            and out.get("type", "Device") in _DEVICE_TYPES
            and isinstance(display, str)
            and len(display) <= MAX_DISPLAY_CHARS
        ):
            out["display"] = _Deferred("display", display)
        for key, item in value.items():
            if key not in out:
                walk.remember(item, "display" if key == "reference" else key)
        ordered = {key: out[key] for key in ("reference", "type", "display") if key in out}
        return ordered if ordered else DROP

    def _logical_id(self, kind: str, ident: object) -> object:
        """A resource's id: by the policy of its type's identifier kind, else by shape."""
        if not isinstance(ident, str) or not _FHIR_ID_RE.match(ident):
            return DROP
        if kind in ID_KINDS:
            id_kind = ID_KINDS[kind]
            return DROP if id_kind is None else self._actions.pseudonym(id_kind, ident)
        if _UUID_RE.match(ident) or not _LONG_DIGITS_RE.search(ident):
            return ident
        return DROP

    def _full_url(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        resource = parent.get("resource")
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(value, str) or not isinstance(kind, str):
            return DROP
        if kind in ID_KINDS and ID_KINDS[kind] != "device_id":
            return DROP  # the entry of a person, a stay or a place
        if value.startswith("urn:uuid:") and _UUID_RE.match(value[9:]):
            return _Deferred("id", value)
        return DROP  # an absolute URL names the server, and may carry more

    def _request_url(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        if not isinstance(value, str):
            return DROP
        if _TYPE_RE.match(value):
            return value
        match = _RELATIVE_REF_RE.match(value)
        if match is None or match.group(3):
            return DROP  # a search ("Patient?identifier=...") or anything else
        ident = self._logical_id(match.group(1), match.group(2))
        return DROP if ident is DROP else _Deferred("id", f"{match.group(1)}/{ident}")

    def _extension(
        self, value: object, walk: _Walk, depth: int, parent: Mapping[str, object]
    ) -> object:
        """Extensions: kept only with a plain URL and a code or quantity value."""
        if not isinstance(value, dict):
            return DROP
        url = value.get("url")
        if not isinstance(url, str) or not _EXTENSION_URL_RE.match(url):
            return DROP
        lowered = url.lower()
        if any(hint in lowered for hint in _PERSON_URL_HINTS):
            return DROP
        out: dict[str, object] = {}
        for key, item in value.items():
            if key == "url":
                continue
            rule = "extension" if key == "extension" else EXTENSION_VALUES.get(key)
            result = DROP if rule is None else self._element(rule, item, walk, depth + 1, value)
            if result is DROP:
                walk.remember(item, key)
            else:
                out[key] = result
        return {"url": url, **out} if out else DROP

    # -- after the walk: free text, with everything known --------------------------

    def _finish(self, node: object, walk: _Walk, depth: int) -> object:
        if isinstance(node, _Deferred):
            return self._scrub(node, walk)
        if isinstance(node, _Fallback):
            result = self._fallback(node.resource, walk.known)
            return DROP if depth > 0 and not result else result
        if isinstance(node, dict):
            out: dict[str, object] = {}
            for key, item in node.items():
                result = self._finish(item, walk, depth + 1)
                if result is not DROP:
                    out[key] = result
            return out if out or depth == 0 else DROP
        if isinstance(node, list):
            items = [self._finish(item, walk, depth + 1) for item in node]
            kept = [item for item in items if item is not DROP]
            return kept if kept else DROP
        return node

    def _scrub(self, item: _Deferred, walk: _Walk) -> object:
        value = item.value
        if value.strip() in walk.known_set:
            return DROP
        if item.kind == "id":  # an id or reference that spells a dropped value goes too
            return DROP if walk.spells_known(value) else value
        if item.kind == "term" or (item.kind == "code" and _PLAIN_CODE_RE.match(value)):
            digits = re.sub(r"\D", "", value)
            return DROP if len(digits) >= 4 and _knows_digits(walk, digits) else value
        if item.kind == "code":
            return (
                value if walk.scrub(self._actions.scrubber, value, self._clean) == value else DROP
            )
        if item.kind == "xhtml":
            text = _SPACES_RE.sub(" ", html.unescape(_TAG_RE.sub(" ", value))).strip()
            cleaned = walk.scrub(self._actions.scrubber, text) if text else ""
            return f"{_XHTML_OPEN}{html.escape(cleaned, quote=False)}</div>"
        clean = self._clean if item.kind == "display" else None
        cleaned = walk.scrub(self._actions.scrubber, value, clean)
        return cleaned if cleaned.strip() else DROP


@dataclass(slots=True)
class _Fallback:
    """A resource of a type without a table: the allow-list redacts it at the end."""

    resource: Mapping[str, object]


def _probe_words(known: str) -> tuple[str, ...]:
    """Lower-case words of a known value to look for, "#" if it has digits; () = always."""
    if not known.isascii():
        return ()
    words = [word.lower() for word in re.findall(r"[A-Za-z]{2,}", known)]  # as the scrubber
    if any(ch.isdigit() for ch in known):
        words.append("#")
    return tuple(words)  # () when nothing to look for: then it always passes


def _knows_digits(walk: _Walk, digits: str) -> bool:
    if walk.known_digits is None:  # built once, after the walk collected everything
        walk.known_digits = {re.sub(r"\D", "", known) for known in walk.known}
    return digits in walk.known_digits


_Handler = Callable[[FhirRedactor, object, _Walk, int, Mapping[str, object]], object]
_HANDLERS: dict[str, _Handler] = {
    "code": FhirRedactor._code,
    "term": FhirRedactor._term,
    "text": FhirRedactor._text,
    "display": FhirRedactor._display,
    "xhtml": FhirRedactor._xhtml,
    "boolean": FhirRedactor._boolean,
    "system": FhirRedactor._system,
    "resource": FhirRedactor._nested,
    "ref": FhirRedactor._reference,
    "ref:device": FhirRedactor._device_reference,
    "ref:person": FhirRedactor._person_reference,
    "extension": FhirRedactor._extension,
    "fullUrl": FhirRedactor._full_url,
    "requestUrl": FhirRedactor._request_url,
}
