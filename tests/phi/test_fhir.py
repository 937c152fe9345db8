"""FHIR-aware JSON redaction: resources redacted by their structure.

The resources below are written for these tests (R4 shapes, a few R5 renames); every
person name in them is an invented canary that must not survive anywhere in the
output, while codes, values, units, statuses and device types must.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wardlink.phi import PolicyError, RedactionPolicy
from wardlink.phi.fhir import DATA_TYPES, RESOURCES, FhirRedactor, _Walk
from wardlink.phi.pseudonym import Pseudonymizer

CANARIES = (
    "Vorlaxa", "Quindeb", "Tebbo", "Marwik", "Zelphine", "Aurodak", "Krastov", "Yubbelin",
    "Ommeline", "Drask", "Fennoch", "Vrask", "Ulbrecht", "Soamiru", "Pellagund", "Ixtobel",
)  # fmt: skip
IDENTIFIERS = ("MRN-5528101", "5528101", "555-201-7788", "vorlaxa.q@example.org",
               "SN-A7731942", "ENC-88120455", "12 Garrowby Lane", "Hollinsford")  # fmt: skip

LOINC = "http://loinc.org"
MDC = "urn:iso:std:iso:11073:10101"
UCUM = "http://unitsofmeasure.org"
XHTML = "http://www.w3.org/1999/xhtml"

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "spo2-7f3a",
    "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/oxygensat"],
             "lastUpdated": "2026-11-03T14:22:10Z", "source": "urn:hollinsford:ward-7"},
    "text": {"status": "generated",
             "div": f'<div xmlns="{XHTML}"><p>SpO2 97 % for <b>Vorlaxa Quindeb</b> '
                    "(MRN-5528101), taken by Tebbo Marwik</p></div>"},
    "identifier": [{"system": "urn:oid:1.2.3.4", "value": "OBS-5528101-1"}],
    "status": "final",
    "category": [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "vital-signs", "display": "Vital Signs"}]}],
    "code": {"coding": [
        {"system": LOINC, "code": "59408-5",
         "display": "Oxygen saturation in Arterial blood by Pulse oximetry"},
        {"system": LOINC, "code": "2708-6", "display": "Oxygen saturation in Arterial blood"},
        {"system": MDC, "code": "150456", "display": "MDC_PULS_OXIM_SAT_O2"}],
        "text": "SpO2"},
    "subject": {"reference": "Patient/5528101", "display": "Vorlaxa Quindeb"},
    "encounter": {"reference": "Encounter/ENC-88120455"},
    "effectiveDateTime": "2026-11-03T14:22:05Z",
    "issued": "2026-11-03T14:22:09.120Z",
    "performer": [{"reference": "Practitioner/pr-19", "display": "Tebbo Marwik"},
                  {"identifier": {"value": "NPI-1928374650"}, "display": "ZELPHINE AURODAK"}],
    "valueQuantity": {"value": 97, "unit": "%", "system": UCUM, "code": "%"},
    "interpretation": [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "code": "N", "display": "Normal"}]}],
    "note": [{"authorString": "Tebbo Marwik",
              "text": "Vorlaxa moved during the reading; probe reseated by Marwik."}],
    "device": {"reference": "Device/oxi-3150-a", "display": "Krastov's bedside oximeter"},
    "referenceRange": [{"low": {"value": 94, "unit": "%", "system": UCUM, "code": "%"}}],
    "component": [
        {"code": {"coding": [{"system": MDC, "code": "149530",
                              "display": "MDC_PULS_OXIM_PULS_RATE"}]},
         "valueQuantity": {"value": 72, "unit": "beats/minute", "system": UCUM,
                           "code": "/min"}},
        {"code": {"coding": [{"system": MDC, "code": "150488",
                              "display": "MDC_PULS_OXIM_PERF_REL"}]},
         "valueQuantity": {"value": 3.1, "unit": "%", "system": UCUM, "code": "%"}},
    ],
    "extension": [
        {"url": "http://example.org/fhir/StructureDefinition/reading-comment",
         "valueString": "Yubbelin asked for a copy"},
        {"url": "http://example.org/fhir/StructureDefinition/signal-quality",
         "valueCode": "good"},
        {"url": "http://example.org/fhir/StructureDefinition/perfusion",
         "valueQuantity": {"value": 2.4, "unit": "%", "system": UCUM, "code": "%"}},
        {"url": "http://example.org/fhir/StructureDefinition/caregiver-name",
         "valueCode": "Ommeline"},
    ],
}  # fmt: skip

DEVICE: dict[str, Any] = {
    "resourceType": "Device",
    "id": "oxi-3150-a",
    "identifier": [{"system": "http://hospital.example.org/assets", "value": "SN-A7731942"}],
    "udiCarrier": [{"deviceIdentifier": "00844588003288", "issuer": "http://hl7.org/fhir/NamingSystem/gs1-di",
                    "carrierHRF": "(01)00844588003288(21)SN-A7731942", "entryType": "barcode"}],
    "status": "active",
    "manufacturer": "Nonin Medical, Inc.",
    "serialNumber": "SN-A7731942",
    "lotNumber": "L2231",
    "deviceName": [{"name": "WristOx2 3150", "type": "model-name"},
                   {"name": "Fennoch's wrist thing", "type": "patient-reported-name"}],
    "modelNumber": "3150",
    "type": {"coding": [{"system": MDC, "code": "65573", "display": "MDC_MOC_VMS_MDS_SIMP"},
                        {"system": "http://snomed.info/sct", "code": "448703006",
                         "display": "Pulse oximeter"}]},
    "version": [{"type": {"text": "firmware"}, "value": "1.4.2"}],
    "patient": {"reference": "Patient/5528101", "display": "Vorlaxa Quindeb"},
    "owner": {"reference": "Organization/hollinsford", "display": "Hollinsford General"},
    "contact": [{"system": "phone", "value": "555-201-7788"}],
    "location": {"display": "Ward 7, bed of Ulbrecht Soamiru"},
    "note": [{"authorString": "Pellagund", "text": "Loaned to Ixtobel Pellagund for home use."}],
}  # fmt: skip

DEVICE_METRIC: dict[str, Any] = {
    "resourceType": "DeviceMetric",
    "id": "oxi-3150-a-spo2",
    "identifier": [{"value": "SN-A7731942-M1"}],
    "type": {"coding": [{"system": MDC, "code": "150456", "display": "MDC_PULS_OXIM_SAT_O2"}]},
    "unit": {"coding": [{"system": MDC, "code": "262688", "display": "MDC_DIM_PERCENT"}]},
    "source": {"reference": "Device/oxi-3150-a"},
    "operationalStatus": "on",
    "category": "measurement",
    "calibration": [{"type": "offset", "state": "calibrated", "time": "2026-10-01T08:00:00Z"}],
}  # fmt: skip

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "5528101",
    "text": {"status": "generated",
             "div": f'<div xmlns="{XHTML}">VORLAXA QUINDEB, born 1961-04-17, '
                    "12 Garrowby Lane, Hollinsford</div>"},
    "identifier": [{"type": {"text": "MRN"}, "system": "urn:oid:1.2.3.4.5",
                    "value": "MRN-5528101"}],
    "active": True,
    "name": [{"use": "official", "family": "Quindeb", "given": ["Vorlaxa", "Ommeline"],
              "text": "Vorlaxa Ommeline Quindeb"},
             {"use": "maiden", "family": "Drask-Vrask"}],
    "telecom": [{"system": "phone", "value": "555-201-7788", "use": "home"},
                {"system": "email", "value": "vorlaxa.q@example.org"}],
    "gender": "female",
    "birthDate": "1961-04-17",
    "address": [{"use": "home", "line": ["12 Garrowby Lane"], "city": "Hollinsford",
                 "district": "Marwik County", "state": "IL", "postalCode": "62704",
                 "country": "US"}],
    "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                  "code": "M"}]},
    "contact": [{"relationship": [{"text": "daughter"}],
                 "name": {"family": "Yubbelin", "given": ["Zelphine"]},
                 "telecom": [{"system": "phone", "value": "555-201-9900"}]}],
    "generalPractitioner": [{"reference": "Practitioner/pr-19", "display": "Dr. Tebbo Marwik"}],
    "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
                   "valueString": "Aurodak"},
                  {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                   "valueAddress": {"city": "Soamiru"}}],
}  # fmt: skip

ENCOUNTER: dict[str, Any] = {
    "resourceType": "Encounter",
    "id": "ENC-88120455",
    "identifier": [{"value": "ENC-88120455"}],
    "status": "in-progress",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP",
              "display": "inpatient encounter"},
    "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "183452005",
                          "display": "Emergency hospital admission"}]}],
    "subject": {"reference": "Patient/5528101", "display": "Quindeb, Vorlaxa"},
    "participant": [{"type": [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "ATND"}]}],
        "period": {"start": "2026-11-02T09:10:00Z"},
        "individual": {"reference": "Practitioner/pr-19", "display": "Tebbo Marwik"}}],
    "period": {"start": "2026-11-02T09:00:00Z"},
    "hospitalization": {"admitSource": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/admit-source", "code": "emd"}]},
        "origin": {"display": "Krastov residence"}},
    "location": [{"location": {"reference": "Location/ward-7", "display": "Ward 7"},
                  "status": "active"}],
    "serviceProvider": {"reference": "Organization/hollinsford", "display": "Hollinsford General"},
}  # fmt: skip


def bundle() -> dict[str, Any]:
    """A transaction Bundle whose entries reference each other by urn:uuid."""
    ids = {
        "Patient": "urn:uuid:1d6a7a7e-8f3e-4c1b-9d0e-2b4a6c8e0f11",
        "Device": "urn:uuid:2e7b8b8f-9a4f-4d2c-8e1f-3c5b7d9f1a22",
        "Observation": "urn:uuid:3f8c9c9a-ab5a-4e3d-9f2a-4d6c8eab2b33",
    }
    patient, device, observation = (copy.deepcopy(r) for r in (PATIENT, DEVICE, OBSERVATION))
    observation["subject"] = {"reference": ids["Patient"], "display": "Vorlaxa Quindeb"}
    observation["device"] = {"reference": ids["Device"]}
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": "2026-11-03T14:22:12Z",
        "identifier": {"value": "MRN-5528101-batch"},
        "entry": [
            {"fullUrl": ids["Patient"], "resource": patient,
             "request": {"method": "PUT", "url": "Patient?identifier=MRN-5528101"}},
            {"fullUrl": ids["Device"], "resource": device,
             "request": {"method": "POST", "url": "Device"}},
            {"fullUrl": ids["Observation"], "resource": observation,
             "request": {"method": "POST", "url": "Observation"}},
            {"fullUrl": "urn:uuid:4a9dadab-bc6b-4f4e-8a3b-5e7d9fbc3c44",
             "resource": copy.deepcopy(ENCOUNTER),
             "request": {"method": "POST", "url": "Encounter"}},
            {"resource": {"resourceType": "Practitioner", "name": [{"family": "Marwik"}],
                          "telecom": [{"value": "555-201-7788"}]}},
        ],
    }  # fmt: skip


RESOURCES_UNDER_TEST = {
    "Observation": OBSERVATION, "Device": DEVICE, "DeviceMetric": DEVICE_METRIC,
    "Patient": PATIENT, "Encounter": ENCOUNTER,
}  # fmt: skip


@pytest.fixture(scope="module")
def policy() -> RedactionPolicy:
    return RedactionPolicy.default()


def redact(policy: RedactionPolicy, document: object) -> Any:
    result = policy.redact_json(document)
    assert result.ok, result.error
    return result.output


def leaks(output: object) -> list[str]:
    """Every canary name or identifier found in the output, case-insensitively."""
    text = json.dumps(output, ensure_ascii=False).lower()
    found = [name for name in CANARIES if re.search(rf"\b{name.lower()}\b", text)]
    return found + [value for value in IDENTIFIERS if value.lower() in text]


# -- every resource: no canary survives, clinical content does --------------------------


@pytest.mark.parametrize("kind", sorted(RESOURCES_UNDER_TEST))
def test_no_canary_survives(policy: RedactionPolicy, kind: str) -> None:
    out = redact(policy, RESOURCES_UNDER_TEST[kind])
    assert out["resourceType"] == kind
    assert leaks(out) == []


def test_bundle_no_canary_survives(policy: RedactionPolicy) -> None:
    out = redact(policy, bundle())
    assert leaks(out) == []
    assert [e.get("resource", {}).get("resourceType") for e in out["entry"]] == [
        "Patient",
        "Device",
        "Observation",
        "Encounter",
    ]  # the Practitioner entry (no table, nothing allow-listed) is gone whole


def test_observation_keeps_codes_values_units(policy: RedactionPolicy) -> None:
    out = redact(policy, OBSERVATION)
    codings = out["code"]["coding"]
    assert [(c["system"], c["code"]) for c in codings] == [
        (LOINC, "59408-5"),
        (LOINC, "2708-6"),
        (MDC, "150456"),
    ]
    assert out["valueQuantity"] == {"value": 97, "unit": "%", "system": UCUM, "code": "%"}
    assert out["status"] == "final"
    assert out["category"][0]["coding"][0]["code"] == "vital-signs"
    assert out["interpretation"][0]["coding"][0]["code"] == "N"
    assert out["referenceRange"] == [
        {"low": {"value": 94, "unit": "%", "system": UCUM, "code": "%"}}
    ]
    rate, perfusion = out["component"]
    assert rate["code"]["coding"][0]["code"] == "149530"
    assert rate["valueQuantity"] == {
        "value": 72,
        "unit": "beats/minute",
        "system": UCUM,
        "code": "/min",
    }
    assert perfusion["valueQuantity"]["value"] == 3.1
    device = out["device"]  # a device's display is its type: scrubbed, not dropped
    assert device["reference"] == "Device/oxi-3150-a" and device["type"] == "Device"
    assert "oximeter" in device["display"]
    assert out["id"] == "spo2-7f3a"
    assert out["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/oxygensat"]
    assert "source" not in out["meta"] and "identifier" not in out


def test_observation_people_go(policy: RedactionPolicy) -> None:
    out = redact(policy, OBSERVATION)
    assert out["subject"] == {"type": "Patient"}  # a placeholder: whose, not who
    assert out["performer"] == [{"type": "Practitioner"}]
    assert out["encounter"] == {"type": "Encounter"}
    assert out["note"][0].keys() == {"text"}
    assert "probe reseated" in out["note"][0]["text"]
    assert out["text"]["div"].startswith(f'<div xmlns="{XHTML}">')
    assert "SpO2 97 %" in out["text"]["div"]


def test_extensions_fail_closed(policy: RedactionPolicy) -> None:
    out = redact(policy, OBSERVATION)
    assert out["extension"] == [
        {"url": "http://example.org/fhir/StructureDefinition/signal-quality", "valueCode": "good"},
        {"url": "http://example.org/fhir/StructureDefinition/perfusion",
         "valueQuantity": {"value": 2.4, "unit": "%", "system": UCUM, "code": "%"}},
    ]  # fmt: skip
    assert "extension" not in redact(policy, PATIENT)


def test_device(policy: RedactionPolicy) -> None:
    out = redact(policy, DEVICE)
    assert out["status"] == "active" and out["modelNumber"] == "3150"
    assert out["manufacturer"] == "Nonin Medical, Inc."
    assert [c["code"] for c in out["type"]["coding"]] == ["65573", "448703006"]
    assert out["udiCarrier"] == [{
        "deviceIdentifier": "00844588003288",
        "issuer": "http://hl7.org/fhir/NamingSystem/gs1-di", "entryType": "barcode",
    }]  # fmt: skip
    assert out["version"] == [{"type": {"text": "firmware"}, "value": "1.4.2"}]
    assert out["deviceName"][0] == {"name": "WristOx2 3150", "type": "model-name"}
    # serials follow identifiers.device_serial (drop by default), like JSON serialNumber
    for gone in ("serialNumber", "lotNumber", "identifier", "patient", "owner", "contact",
                 "location"):  # fmt: skip
        assert gone not in out
    assert "note" not in out or "home use" in out["note"][0]["text"]


def test_device_serial_follows_the_policy() -> None:
    keep = RedactionPolicy.from_config({"identifiers": {"device_serial": "keep"}})
    out = redact(keep, DEVICE)
    assert out["serialNumber"] == "SN-A7731942"
    assert out["udiCarrier"][0]["carrierHRF"] == "(01)00844588003288(21)SN-A7731942"


def test_device_metric(policy: RedactionPolicy) -> None:
    out = redact(policy, DEVICE_METRIC)
    assert out == {
        "resourceType": "DeviceMetric", "id": "oxi-3150-a-spo2",
        "type": {"coding": [{"system": MDC, "code": "150456", "display": "MDC_PULS_OXIM_SAT_O2"}]},
        "unit": {"coding": [{"system": MDC, "code": "262688", "display": "MDC_DIM_PERCENT"}]},
        "source": {"reference": "Device/oxi-3150-a", "type": "Device"},
        "operationalStatus": "on", "category": "measurement",
        "calibration": [{"type": "offset", "state": "calibrated", "time": "2026-10-01T08:00:00Z"}],
    }  # fmt: skip


def test_patient(policy: RedactionPolicy) -> None:
    out = redact(policy, PATIENT)
    assert out["birthDate"] == "1961"
    assert out["address"] == [{"use": "home", "state": "IL", "postalCode": "627", "country": "US"}]
    assert out["gender"] == "female" and out["active"] is True
    assert out["maritalStatus"]["coding"][0]["code"] == "M"
    assert "id" not in out  # a patient's logical id is its identifier: patient_id policy
    for gone in ("name", "telecom", "identifier", "contact", "generalPractitioner"):
        assert gone not in out
    assert "1961-04-17" not in out["text"]["div"]


def test_patient_safe_harbor_generalisations() -> None:
    policy = RedactionPolicy.from_config({})
    old = copy.deepcopy(PATIENT)
    old["birthDate"] = "1921-02-03"
    old["address"][0]["postalCode"] = "03601"
    out = redact(policy, old)
    assert "birthDate" not in out  # a birth year implying an age over 89 goes too
    assert out["address"][0]["postalCode"] == "000"
    dropped = redact(RedactionPolicy.from_config({"zip": "drop"}), PATIENT)
    assert "postalCode" not in dropped["address"][0]


def test_encounter(policy: RedactionPolicy) -> None:
    out = redact(policy, ENCOUNTER)
    assert out["status"] == "in-progress"
    assert out["class"]["code"] == "IMP"
    assert out["type"][0]["coding"][0]["code"] == "183452005"
    assert out["subject"] == {"type": "Patient"}
    assert out["participant"] == [{
        "type": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
            "code": "ATND"}]}],
        "period": {"start": "2026"}, "individual": {"type": "Practitioner"},
    }]  # fmt: skip
    assert out["period"] == {"start": "2026"}  # a stay: dates.fields (year)
    assert out["hospitalization"] == {
        "admitSource": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/admit-source", "code": "emd"}
            ]
        }
    }
    assert out["location"] == [{"location": {"type": "Location"}, "status": "active"}]
    assert "id" not in out and "identifier" not in out  # visit_id: drop by default


def test_bundle_structure(policy: RedactionPolicy) -> None:
    out = redact(policy, bundle())
    assert out["type"] == "transaction" and "identifier" not in out
    patient, device, observation, encounter = out["entry"]  # the Practitioner went whole
    assert "fullUrl" not in patient and patient["request"] == {"method": "PUT"}
    assert device["fullUrl"].startswith("urn:uuid:")
    assert observation["resource"]["device"] == {"reference": device["fullUrl"]}
    assert "subject" not in observation["resource"]  # a urn:uuid names no type
    assert observation["resource"]["valueQuantity"]["value"] == 97
    assert encounter["request"] == {"method": "POST", "url": "Encounter"}


def test_bundle_names_known_across_entries(policy: RedactionPolicy) -> None:
    """A name given only in the Patient entry is removed from another entry's note."""
    doc = bundle()
    doc["entry"][2]["resource"]["note"] = [{"text": "ommeline refused the probe"}]
    out = redact(policy, doc)
    note = out["entry"][2]["resource"]["note"][0]["text"]
    assert "ommeline" not in note.lower() and "refused the probe" in note


def test_contained_resources(policy: RedactionPolicy) -> None:
    doc = copy.deepcopy(OBSERVATION)
    doc["contained"] = [copy.deepcopy(PATIENT) | {"id": "p1"}, copy.deepcopy(DEVICE_METRIC)]
    doc["subject"] = {"reference": "#p1"}
    out = redact(policy, doc)
    assert leaks(out) == []
    assert out["subject"] == {"reference": "#p1"}
    assert [r["resourceType"] for r in out["contained"]] == ["Patient", "DeviceMetric"]
    assert out["contained"][0]["birthDate"] == "1961"


@pytest.mark.parametrize(
    ("mode", "effective"),
    [("keep", "2026-11-03T14:22:05Z"), ("hour", "2026-11-03T14:00:00Z"),
     ("day", "2026-11-03"), ("year", "2026"), ("drop", None)],
)  # fmt: skip
def test_times_follow_dates_timestamps(mode: str, effective: str | None) -> None:
    policy = RedactionPolicy.from_config({"dates": {"timestamps": mode}})
    out = redact(policy, OBSERVATION)
    assert out.get("effectiveDateTime") == effective
    assert ("issued" in out) is (effective is not None)
    period = copy.deepcopy(OBSERVATION)
    del period["effectiveDateTime"]
    period["effectivePeriod"] = {"start": "2026-11-03T14:22:05Z", "end": "2026-11-03T14:32:05Z"}
    assert redact(policy, period).get("effectivePeriod", {}).get("start") == effective


def test_patient_references_follow_the_patient_id_policy() -> None:
    class Keys:
        def get_secret(self, secret_id: str) -> bytes:
            return b"k" * 32

    base = RedactionPolicy.default()
    policy = RedactionPolicy(
        base.scrubber, config=base.config,
        pseudonyms=Pseudonymizer({"patient_id": "hmac"}, secrets=Keys()),
    )  # fmt: skip
    out = redact(policy, OBSERVATION)
    reference = out["subject"]["reference"]
    assert re.fullmatch(r"Patient/h-[0-9a-f]{32}", reference)
    assert redact(policy, PATIENT)["id"] == reference.split("/")[1]


def test_unknown_resource_types_use_the_allow_list(policy: RedactionPolicy) -> None:
    doc = {
        "resourceType": "Condition",
        "note": "Tebbo Marwik saw it",
        "status": "active",
        "subject": {"reference": "Patient/5528101"},
        "code": {"text": "Marwik syndrome"},
    }
    out = redact(policy, doc)
    assert out == {"note": "[NAME] saw it", "status": "active"}


def test_a_top_level_array_mixes_fhir_and_iomt(policy: RedactionPolicy) -> None:
    out = redact(policy, [DEVICE_METRIC, {"readings": {"heartRate": 61}, "patientName": "Tebbo"}])
    assert out[0]["resourceType"] == "DeviceMetric" and out[1] == {"readings": {"heartRate": 61}}


# -- malformed FHIR fails closed ----------------------------------------------------------


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("subject as a bare name", {"subject": "Vorlaxa Quindeb"}),
    ("value holding a name", {"valueQuantity": {"value": "Vorlaxa", "unit": "%"}}),
    ("code as a list of names", {"code": ["Vorlaxa", "Quindeb"]}),
    ("coding holding a sentence", {"code": {"coding": [{"code": "Vorlaxa Quindeb was here now "
                                                         "and then and again later today",
                                                         "system": LOINC}]}}),
    ("narrative not a string", {"text": {"div": {"p": "Vorlaxa"}}}),
    ("status not in its value set", {"status": "Vorlaxa"}),
    ("reference to an absolute URL", {"subject": {"reference":
                                                  "https://ehr.example.org/Patient/Vorlaxa"}}),
    ("reference search", {"subject": {"reference": "Patient?name=Vorlaxa"}}),
    ("unknown element", {"patientName": "Vorlaxa Quindeb"}),
    ("contained not a resource", {"contained": ["Vorlaxa Quindeb", {"name": "Quindeb"}]}),
    ("extension without url", {"extension": [{"valueCode": "Vorlaxa"}]}),
    ("extension with a query url", {"extension": [{"url": "http://x.org/e?who=Vorlaxa",
                                                   "valueCode": "Quindeb"}]}),
    ("system URL of a person", {"code": {"coding": [{"system": "http://vorlaxa.example.org/q",
                                                     "code": "1"}]}}),
    ("deep nesting", {"component": [{"extension": [{"url": "http://x.org/a", "extension":
                      [{"url": "http://x.org/b", "valueCode": "Vorlaxa"}] * 2}] * 2}]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "patch"), MALFORMED, ids=[c for c, _ in MALFORMED])
def test_malformed_fhir_fails_closed(
    policy: RedactionPolicy, case: str, patch: dict[str, Any]
) -> None:
    doc = {"resourceType": "Observation", "status": "final",
           "subject": {"reference": "Patient/1", "display": "Quindeb"}, **patch}  # fmt: skip
    out = redact(policy, doc)
    assert out["resourceType"] == "Observation"
    text = json.dumps(out).lower()
    assert "vorlaxa" not in text and "quindeb" not in text


def test_deeper_than_the_limit_is_dropped(policy: RedactionPolicy) -> None:
    ext: dict[str, Any] = {"url": "http://x.org/e", "valueCode": "leaf"}
    for _ in range(60):
        ext = {"url": "http://x.org/e", "extension": [ext]}
    out = redact(policy, {"resourceType": "Observation", "status": "final", "extension": [ext]})
    assert "leaf" not in json.dumps(out)


NOT_FHIR = [{"resourceType": 7, "name": "Vorlaxa"},
            {"resourceType": None, "subject": {"display": "Vorlaxa"}}]  # fmt: skip


@pytest.mark.parametrize("bad", NOT_FHIR)
def test_a_non_string_resource_type_is_plain_json(
    policy: RedactionPolicy, bad: dict[str, Any]
) -> None:
    assert redact(policy, bad) == {}


def test_bundle_entries_malformed(policy: RedactionPolicy) -> None:
    doc = {"resourceType": "Bundle", "type": "collection", "entry": [
        "Vorlaxa", {"resource": "Vorlaxa Quindeb"}, {"resource": {"name": "Quindeb"}},
        {"fullUrl": "http://ehr.example.org/Patient/Vorlaxa", "resource": DEVICE_METRIC},
    ]}  # fmt: skip
    out = redact(policy, doc)
    assert "vorlaxa" not in json.dumps(out).lower() and "quindeb" not in json.dumps(out).lower()
    assert out["entry"] == [{"resource": redact(policy, DEVICE_METRIC)}]


def test_fail_closed_policy_keeps_structure_drops_text() -> None:
    out = redact(RedactionPolicy(), OBSERVATION)
    assert out["valueQuantity"]["value"] == 97 and "note" not in out
    assert leaks(out) == []


def test_the_tables_are_consistent() -> None:
    """Every rule in the tables is a data type, a FHIR rule or a policy rule."""
    FhirRedactor(RedactionPolicy()._actions, lambda resource, known: {})  # raises if not
    assert {"Observation", "Device", "DeviceMetric", "Patient", "Encounter", "Bundle"} <= set(
        RESOURCES
    )
    for name in ("HumanName", "Identifier", "ContactPoint"):
        assert name not in DATA_TYPES  # they never leave, so they have no table
    broken = dict(DATA_TYPES)
    broken["Quantity"] = {"value": "nonsense"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("wardlink.phi.fhir.DATA_TYPES", broken)
        with pytest.raises(PolicyError):
            FhirRedactor(RedactionPolicy()._actions, lambda resource, known: {})


# -- property: invented names in every name-bearing path -----------------------------------

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr",
           "kl", "tr", "sh", "zh", "th", "gw", "x", "qu"]  # fmt: skip
_VOWELS = ["a", "e", "i", "o", "u", "ai", "oa", "ei", "y"]
_CODAS = ["", "", "n", "r", "l", "k", "sk", "th", "x", "m", "ng", "b"]
_PARTICLES = ["", "", "", "de ", "van ", "al-", "O'", "Mc", "di "]

syllable = st.builds(lambda o, v, c: o + v + c, st.sampled_from(_ONSETS),
                     st.sampled_from(_VOWELS), st.sampled_from(_CODAS))  # fmt: skip
word = st.lists(syllable, min_size=2, max_size=4).map("".join).filter(lambda w: len(w) >= 5)


@st.composite
def invented_name(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """(given, family, the words to look for) in a random style."""
    given = draw(word).capitalize()
    family = draw(word).capitalize()
    if draw(st.booleans()):
        family = f"{family}-{draw(word).capitalize()}"
    particle = draw(st.sampled_from(_PARTICLES))
    family = particle + family
    if draw(st.booleans()):
        given, family = given.upper(), family.upper()
    words = [w for w in re.split(r"[\s'-]+", f"{given} {family}") if len(w) >= 5]
    return given, family, words


_STOP = frozenset(json.dumps([OBSERVATION, PATIENT, ENCOUNTER, DEVICE]).lower().split())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(person=invented_name(), relative=invented_name(), clinician=invented_name())
def test_invented_names_never_survive(
    policy: RedactionPolicy,
    person: tuple[str, str, list[str]],
    relative: tuple[str, str, list[str]],
    clinician: tuple[str, str, list[str]],
) -> None:
    given_name, family, _ = person
    full, rel_full, doc_full = (f"{g} {f}" for g, f, _ in (person, relative, clinician))
    doc = bundle()
    patient, device, observation, encounter, _ = (e["resource"] for e in doc["entry"])
    patient["name"] = [{"family": family, "given": [given_name], "text": full}]
    patient["contact"][0]["name"] = {"family": relative[1], "given": [relative[0]]}
    patient["text"]["div"] = f'<div xmlns="{XHTML}"><p>{family.upper()}, {given_name}</p></div>'
    observation["subject"]["display"] = full
    observation["performer"] = [{"reference": "Practitioner/pr-2", "display": doc_full}]
    observation["note"] = [
        {"authorString": doc_full, "text": f"{full} moved; {rel_full} at bedside"}
    ]
    observation["text"]["div"] = f'<div xmlns="{XHTML}">SpO2 97 % for <b>{full}</b></div>'
    encounter["participant"][0]["individual"]["display"] = f"{clinician[1]}, {clinician[0]}"
    device["deviceName"][1]["name"] = f"{given_name}'s oximeter"
    out = redact(policy, doc)
    text = json.dumps(out, ensure_ascii=False).lower()
    for name_word in person[2] + relative[2] + clinician[2]:
        if name_word.lower() in _STOP:
            continue
        assert not re.search(rf"\b{re.escape(name_word.lower())}\b", text), name_word
    observed = out["entry"][2]["resource"]
    assert observed["valueQuantity"]["value"] == 97
    assert observed["code"]["coding"][0]["code"] == "59408-5"


def test_ids_that_spell_a_dropped_value_go(policy: RedactionPolicy) -> None:
    doc = copy.deepcopy(OBSERVATION)
    doc["id"] = "quindeb-spo2-1"
    doc["device"] = {"reference": "Device/pump-5528101"}
    doc["hasMember"] = [{"reference": "Observation/hr-77"}]
    out = redact(policy, doc)
    assert "id" not in out and out["device"] == {"type": "Device"}
    assert out["hasMember"] == [{"reference": "Observation/hr-77", "type": "Observation"}]


def test_r5_shapes(policy: RedactionPolicy) -> None:
    encounter = {
        "resourceType": "Encounter", "status": "completed",
        "class": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                               "code": "AMB"}]}],
        "subject": {"reference": "Patient/p9", "display": "Soamiru Ixtobel"},
        "participant": [{"actor": {"reference": "Practitioner/x", "display": "Pellagund"}}],
        "actualPeriod": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T11:00:00Z"},
    }  # fmt: skip
    device = {
        "resourceType": "Device", "displayName": "WristOx2 3150",
        "name": [{"value": "WristOx2 3150", "type": "model-name", "display": True},
                 {"value": "Ulbrecht's oximeter", "type": "patient-reported-name"}],
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "448703006"}]}],
    }  # fmt: skip
    out_e, out_d = redact(policy, encounter), redact(policy, device)
    assert out_e["class"][0]["coding"][0]["code"] == "AMB"
    assert out_e["actualPeriod"] == {"start": "2026", "end": "2026"}
    assert out_e["participant"] == [{"actor": {"type": "Practitioner"}}]
    assert out_d["name"][0] == {"value": "WristOx2 3150", "type": "model-name", "display": True}
    assert out_d["type"][0]["coding"][0]["code"] == "448703006"
    assert leaks([out_e, out_d]) == []


def test_passing_only_relevant_known_values_changes_nothing(policy: RedactionPolicy) -> None:
    """The walk hands the scrubber only known values that occur in the text: same result."""
    known = ["Vorlaxa Quindeb", "MRN-5528101", "555-201-7788", "Krastov's bedside oximeter",
             "O'Vrask", "J K", "Zoë Ærnold", "Dr. Tebbo Marwik", "Ward 7"]  # fmt: skip
    texts = ["SpO2 97 % for VORLAXA, seen by Dr. Marwik", "call 5552017788 re MRN 5528101",
             "zoë ærnold at bedside", "Vrask's probe slipped", "j k moved", "Heart rate 72",
             "QuindebVorlaxa_0412.csv uploaded", "moved to ward 7",
             "oximeter reseated"]  # fmt: skip
    for text in texts:
        walk = _Walk()
        for value in known:
            walk.remember(value, "value")
        assert walk.scrub(policy.scrubber, text) == policy.scrubber.scrub(text, walk.known), text
