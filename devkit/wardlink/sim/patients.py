"""Simulated patients whose identifying data are PHI canaries.

Every simulator that speaks a protocol with patient fields (ASTM P record, HL7
PID/NK1/PV1) sends one of these patients. Leak tests then search everything that
leaves the gateway (MQTT payloads, spool, logs) for ``canaries()``: finding one is
a PHI leak. So the values are made to be *distinctive* - a hyphenated family
name, long identifiers with a fixed shape - while staying realistic enough for a
device engineer to read. Nothing here is a real person: numbers use the fictional
555-01xx telephone range and SSN-shaped values start with 9, which the SSA never
issues.

The same seed always gives the same patient (faker is seeded per instance when
it is installed; otherwise a small built-in list is used).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

_FIRST = (
    "Zebulon",
    "Imogen",
    "Thaddeus",
    "Ottoline",
    "Bartholomew",
    "Wilhelmina",
    "Cornelius",
    "Philippa",
    "Evander",
    "Rosalind",
    "Leopold",
    "Henrietta",
    "Ignatius",
    "Clementine",
)
_LAST = (
    "Quarterfield",
    "Ashgrove",
    "Pennywhistle",
    "Marchbanks",
    "Wolstenholme",
    "Fairweather",
    "Blackwood",
    "Thistlewaite",
    "Cresswell",
    "Hawksmoor",
    "Ravensworth",
    "Larkspur",
)
_STREETS = ("Larkspur Lane", "Juniper Court", "Old Mill Road", "Harbor View Drive", "Elm Terrace")
_CITIES = (("Fairhaven", "MA"), ("Millbrook", "NY"), ("Cedar Falls", "IA"), ("Port Orchard", "WA"))
_WARDS = ("ICU", "CCU", "MED3", "SURG2", "ONC4", "PEDS1")
_RELATIONS = (("SPO", "Spouse"), ("CHD", "Child"), ("SIB", "Sibling"), ("PAR", "Parent"))


@dataclass(frozen=True)
class RelatedContact:
    given_name: str
    family_name: str
    relationship_code: str
    relationship: str
    phone: str

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True)
class SimulatedPatient:
    mrn: str
    given_name: str
    middle_initial: str
    family_name: str
    birth_date: date
    sex: str
    street: str
    city: str
    state: str
    zip_code: str
    phone: str
    ssn: str
    account_number: str
    visit_number: str
    ward: str
    room: str
    bed: str
    attending_id: str
    attending_family: str
    attending_given: str
    next_of_kin: RelatedContact

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def dob_compact(self) -> str:
        """YYYYMMDD, as ASTM and HL7 write it."""
        return self.birth_date.strftime("%Y%m%d")

    def canaries(self) -> tuple[str, ...]:
        """Every identifying string a leak test must never find outside the gateway."""
        values = (
            self.mrn,
            self.family_name,
            self.full_name,
            self.dob_compact,
            self.birth_date.isoformat(),
            self.street,
            self.phone,
            self.ssn,
            self.account_number,
            self.visit_number,
            self.next_of_kin.full_name,
            self.next_of_kin.phone,
        )
        return tuple(dict.fromkeys(v for v in values if len(v) >= 6))


def _faker(seed: int) -> Any:
    try:
        from faker import Faker
    except ImportError:
        return None
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


def make_patient(seed: int = 0) -> SimulatedPatient:
    """A reproducible simulated patient for ``seed``."""
    rng = random.Random(f"wardlink-patient-{seed}")
    fake = _faker(seed)
    if fake is not None:
        given = str(fake.first_name())
        family = f"{fake.last_name()}-{fake.last_name()}"
        street = str(fake.street_address())
        city, state = str(fake.city()), str(fake.state_abbr())
        kin_given = str(fake.first_name())
        doc_family, doc_given = str(fake.last_name()), str(fake.first_name())
    else:
        given = rng.choice(_FIRST)
        family = f"{rng.choice(_LAST)}-{rng.choice(_LAST)}"
        street = f"{rng.randint(10, 9899)} {rng.choice(_STREETS)}"
        city, state = rng.choice(_CITIES)
        kin_given = rng.choice(_FIRST)
        doc_family, doc_given = rng.choice(_LAST), rng.choice(_FIRST)
    area = rng.randint(201, 989)
    relation_code, relation = rng.choice(_RELATIONS)
    birth = date(1936, 1, 1) + timedelta(days=rng.randint(0, 365 * 68))
    return SimulatedPatient(
        mrn=f"M{rng.randint(10_000_000, 99_999_999)}",
        given_name=given,
        middle_initial=chr(ord("A") + rng.randint(0, 25)),
        family_name=family,
        birth_date=birth,
        sex=rng.choice("FM"),
        street=street,
        city=city,
        state=state,
        zip_code=f"{rng.randint(1000, 99950):05d}",
        phone=f"{area}-555-01{rng.randint(0, 99):02d}",
        ssn=f"9{rng.randint(10, 99)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        account_number=f"A{rng.randint(100_000_000, 999_999_999)}",
        visit_number=f"V{rng.randint(1_000_000, 9_999_999)}",
        ward=rng.choice(_WARDS),
        room=str(rng.randint(100, 499)),
        bed=rng.choice("ABCD"),
        attending_id=f"D{rng.randint(1000, 9999)}",
        attending_family=doc_family,
        attending_given=doc_given,
        next_of_kin=RelatedContact(
            given_name=kin_given,
            family_name=family,
            relationship_code=relation_code,
            relationship=relation,
            phone=f"{area}-555-01{rng.randint(0, 99):02d}",
        ),
    )
