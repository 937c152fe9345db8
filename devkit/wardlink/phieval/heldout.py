"""The frozen, held-out PHI evaluation set: how it was made, once.

The development corpus (``corpus.py``) draws its names from the same faker lists the
redactor's lexicon was built from, so it cannot show how the redactor does on a name
it has never seen. This module wrote ``frozen/*.jsonl`` once, from sources the
redactor does not use (US Census 1990 name files, hand-written lists of names from
communities fake-data locales rarely cover, invented names; see
``frozen/sources/README.md``), with sentences written apart from the redactor's
rules. The files are then frozen: ``frozen/MANIFEST.json`` holds their digests and
``tests/phi/test_frozen_set.py`` fails if they change, or if this generator no
longer reproduces them byte for byte. Never tune the redactor on this set.

Labels follow ``corpus.py`` (``phi`` with Safe Harbor categories, ``clinical`` with
what must survive exactly as written). Generalizations the scorer accepts: a full
date may become its year, a ZIP its first three digits (``000`` for the restricted
prefixes), an age over 89 ``90+``; a partial date must be gone.

``python -m wardlink.phieval.heldout [DIR]`` rewrites the files (same seed, same
bytes) and the manifest.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wardlink.phieval.corpus import CorpusItem, Label, read_jsonl, write_jsonl

FROZEN_DIR = Path(__file__).resolve().parent / "frozen"
SOURCES_DIR = FROZEN_DIR / "sources"
SEED = 15_2026
COUNTS = {"text": 600, "json": 200, "hl7": 300}
FILES = {"text": "text.jsonl", "json": "json.jsonl", "hl7": "hl7.jsonl"}

# --- name and place sources -------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    census_last: list[str]
    census_given: list[str]
    communities: dict[str, dict[str, list[str]]]
    towns: list[tuple[str, str, str]]
    street_words: list[str]
    invented_towns: list[str]


def load_sources(directory: Path = SOURCES_DIR) -> Sources:
    def lines(name: str) -> list[str]:
        return [s for s in (directory / name).read_text(encoding="utf-8").splitlines() if s]

    community = json.loads((directory / "community_names.json").read_text(encoding="utf-8"))
    places = json.loads((directory / "places.json").read_text(encoding="utf-8"))
    return Sources(
        census_last=lines("census1990_surnames.txt"),
        census_given=lines("census1990_given.txt"),
        communities=community["communities"],
        towns=[(t[0], t[1], t[2]) for t in places["towns"]],
        street_words=list(places["street_words"]),
        invented_towns=list(places["invented_towns"]),
    )


_ONSETS = "b d f g h j k l m n p r s t v w y z br dr gr kr tr pl bl sh ch th zh kw ny ts".split()  # noqa: SIM905
_VOWELS = "a e i o u a e i o u ai ei ou ia ao".split()  # noqa: SIM905
_CODAS = ["", "", "", "n", "r", "l", "s", "k", "m", "th", "x", "nd", "rt"]
_PARTICLES = ["van der", "de la", "da", "bin", "ter", "del", "von", "al", "di", "le"]


def _syllables(rng: random.Random, count: int) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(count)]
    return "".join(parts).capitalize()


@dataclass(frozen=True)
class Person:
    given: str
    family: str
    middle: str = ""

    @property
    def full(self) -> str:
        return f"{self.given} {self.family}"


class Names:
    """People drawn from census lists, community lists and invented syllables."""

    def __init__(self, rng: random.Random, sources: Sources) -> None:
        self.rng = rng
        self.s = sources

    def _invented_family(self) -> str:
        rng = self.rng
        roll = rng.random()
        base = _syllables(rng, rng.choice((2, 2, 3)))
        if roll < 0.2:
            return f"{base}-{_syllables(rng, 2)}"
        if roll < 0.35:
            prefix = rng.choice(("O'", "D'", "N'", "K'"))
            return prefix + _syllables(rng, 2)
        if roll < 0.5:
            return f"{rng.choice(_PARTICLES)} {base}"
        return base

    def person(self) -> Person:
        rng = self.rng
        roll = rng.random()
        middle = ""
        if roll < 0.35:
            given, family = rng.choice(self.s.census_given), rng.choice(self.s.census_last)
            if rng.random() < 0.15:
                family = f"{family}-{rng.choice(self.s.census_last)}"
        elif roll < 0.7:
            group = self.s.communities[rng.choice(sorted(self.s.communities))]
            given, family = rng.choice(group["given"]), rng.choice(group["family"])
            if "middle" in group and rng.random() < 0.6:
                middle = rng.choice(group["middle"])
        else:
            given = _syllables(rng, rng.choice((2, 2, 3)))
            if rng.random() < 0.1:
                given = f"{given}-{_syllables(rng, 1)}"
            family = self._invented_family()
        if not middle and rng.random() < 0.2:
            middle = rng.choice("ABCDEFGHJKLMNPRSTVW")
        return Person(given=given, family=family, middle=middle)


# --- PHI values -------------------------------------------------------------------

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


class Values:
    def __init__(self, rng: random.Random, sources: Sources) -> None:
        self.rng = rng
        self.s = sources

    def ymd(self, first: int = 1925, last: int = 2025) -> tuple[int, int, int]:
        rng = self.rng
        return rng.randint(first, last), rng.randint(1, 12), rng.randint(1, 28)

    def full_date(self, first: int = 1925, last: int = 2025) -> str:
        y, m, d = self.ymd(first, last)
        mon = _MONTHS[m - 1]
        return self.rng.choice(
            [
                f"{m:02d}/{d:02d}/{y}",
                f"{m}/{d}/{y}",
                f"{y}-{m:02d}-{d:02d}",
                f"{d:02d}.{m:02d}.{y}",
                f"{mon} {d}, {y}",
                f"{mon[:3]} {d} {y}",
                f"{d} {mon[:3]} {y}",
                f"{d:02d}-{mon[:3].upper()}-{y}",
                f"{_ordinal(d)} {mon} {y}",
                f"{mon} {_ordinal(d)}, {y}",
            ]
        )

    def compact_date(self, first: int = 1925, last: int = 2025) -> str:
        y, m, d = self.ymd(first, last)
        return f"{y}{m:02d}{d:02d}"

    def partial_date(self) -> str:
        _, m, d = self.ymd()
        mon = _MONTHS[m - 1]
        return self.rng.choice(
            [
                f"{m}/{d}",
                f"{m:02d}/{d:02d}",
                f"{mon} {_ordinal(d)}",
                f"{mon} {d}",
                f"{mon[:3]} {d}",
                f"{d} {mon}",
                f"the {_ordinal(d)} of {mon}",
            ]
        )

    def age(self) -> str:
        return str(self.rng.randint(90, 104))

    def town(self) -> tuple[str, str, str]:
        """(city, state, zip)."""
        rng = self.rng
        if rng.random() < 0.15:
            city = rng.choice(self.s.invented_towns)
            state = rng.choice(self.s.towns)[1]
            return city, state, f"{rng.randint(100, 999)}{rng.randint(0, 99):02d}"
        city, state, prefix = rng.choice(self.s.towns)
        return city, state, f"{prefix}{rng.randint(1, 98):02d}"

    def street(self, family: str) -> str:
        rng = self.rng
        word = rng.choice([*self.s.street_words, family.split()[-1].split("-")[0]])
        suffix = rng.choice(
            ["St", "Street", "Ave", "Avenue", "Rd", "Road", "Dr", "Ln", "Ct", "Way", "Blvd", "Pl"]
        )
        number = rng.randint(100, 29999)
        unit = rng.choice(["", "", "", f" Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"])
        direction = rng.choice(["", "", "", "N ", "S ", "E ", "W "])
        return f"{number} {direction}{word} {suffix}{unit}"

    def phone(self) -> str:
        rng = self.rng
        a, b, c = rng.randint(201, 989), rng.randint(210, 989), rng.randint(0, 9999)
        return rng.choice(
            [
                f"({a}) {b}-{c:04d}",
                f"{a}-{b}-{c:04d}",
                f"{a}.{b}.{c:04d}",
                f"+1 {a} {b} {c:04d}",
                f"{a}{b}{c:04d}",
                f"+1-{a}-{b}-{c:04d}",
            ]
        )

    def email(self, person: Person) -> str:
        rng = self.rng
        g = re.sub(r"[^a-z]", "", person.given.lower())
        f = re.sub(r"[^a-z]", "", person.family.lower())
        local = rng.choice([f"{g}.{f}", f"{g[0]}{f}", f"{f}{rng.randint(1, 99)}", f"{g}_{f}"])
        domain = rng.choice(
            [
                "gmail.com",
                "yahoo.com",
                "outlook.com",
                "icloud.com",
                "protonmail.com",
                "aol.com",
                "hotmail.com",
                f"{_syllables(rng, 2).lower()}.net",
            ]
        )
        return f"{local}@{domain}"

    def mrn(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                f"{rng.randint(0, 99_999_999):08d}",
                f"{rng.randint(1_000_000, 9_999_999)}",
                f"{rng.choice('KMHJ')}{rng.randint(100_000, 9_999_999)}",
                f"{rng.randint(10, 99)}-{rng.randint(100_000, 999_999)}",
            ]
        )

    def account(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-{rng.randint(10, 99)}",
                f"{rng.randint(100_000_000, 999_999_999)}",
                f"AC{rng.randint(1_000_000, 9_999_999)}",
            ]
        )

    def ssn(self) -> str:
        rng = self.rng
        return f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


# --- clinical values (the keep side) -----------------------------------------------

# Taken from the built-in device profiles and codecs (the gateway's own vocabulary):
# (MDC code, MDC reference id, UCUM unit, unit as written in text, low, high, decimals)
METRICS: list[tuple[str, str, str, str, float, float, int]] = [
    ("150456", "MDC_PULS_OXIM_SAT_O2", "%", "%", 82, 100, 0),
    ("149530", "MDC_PULS_OXIM_PULS_RATE", "/min", "bpm", 38, 170, 0),
    ("147842", "MDC_ECG_HEART_RATE", "/min", "/min", 35, 190, 0),
    ("150021", "MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]", "mmHg", 78, 210, 0),
    ("150022", "MDC_PRESS_BLD_NONINV_DIA", "mm[Hg]", "mmHg", 38, 125, 0),
    ("150023", "MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]", "mmHg", 50, 150, 0),
    ("150364", "MDC_TEMP_BODY", "Cel", "Cel", 34.5, 41.2, 1),
    ("160184", "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", "mg/dL", "mg/dL", 42, 480, 0),
    ("160188", "MDC_CONC_GLU_CAPILLARY_PLASMA", "mg/dL", "mg/dL", 45, 420, 0),
    ("160220", "MDC_CONC_HBA1C", "%", "%", 4.6, 13.5, 1),
    ("188736", "MDC_MASS_BODY_ACTUAL", "kg", "kg", 38, 160, 1),
    ("188752", "MDC_RATIO_MASS_BODY_LEN_SQ", "kg/m2", "kg/m2", 15, 48, 1),
    ("151562", "MDC_RESP_RATE", "/min", "breaths/min", 6, 40, 0),
]
MDC_UNIT_CODES = {
    "%": "262688^MDC_DIM_PERCENT",
    "/min": "264864^MDC_DIM_BEAT_PER_MIN",
    "mm[Hg]": "266016^MDC_DIM_MMHG",
    "Cel": "268192^MDC_DIM_DEGC",
    "mg/dL": "264274^MDC_DIM_MILLI_G_PER_DL",
    "kg": "263875^MDC_DIM_KILO_G",
    "kg/m2": "264096^MDC_DIM_KG_PER_M_SQ",
}
MODELS = ["OEM III", "IHE PCD-01", "ASTM E1381", "E1394", "OEM III pulse oximetry module"]
ERROR_CODES = [
    "NONIN-SNSD",
    "NONIN-SNSA",
    "sensor-disconnected",
    "equipment-malfunction",
    "low-perfusion",
    "device-clock-not-set",
    "device-time-invalid",
    "poor-signal",
    "sensor-displaced",
    "questionable-pulse",
    "measurement-unavailable",
]
ALARMS = [
    "SpO2 LOW",
    "HR HIGH",
    "APNEA",
    "ASYSTOLE",
    "desaturation",
    "bradycardia",
    "tachycardia",
    "LEADS OFF",
    "low battery",
    "NIBP HIGH",
    "TEMP HIGH",
]


def _number(rng: random.Random, low: float, high: float, decimals: int) -> str:
    value = rng.uniform(low, high)
    return f"{value:.{decimals}f}"


# --- free text ----------------------------------------------------------------------


@dataclass
class Draft:
    """An item under construction: text pieces with their labels."""

    parts: list[str] = field(default_factory=list)
    phi: list[Label] = field(default_factory=list)
    clinical: list[Label] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.parts)


_SLOT_RE = re.compile(r"\{(\w+)\}")


class TextFactory:
    """Fills free-text templates: ``{slot}`` names a PHI or clinical value.

    Within one item a slot always has the same value (``{first}`` twice is one name);
    numbered slots (``{name2}``) are other people or other readings.
    """

    def __init__(self, rng: random.Random, sources: Sources) -> None:
        self.rng = rng
        self.names = Names(rng, sources)
        self.values = Values(rng, sources)

    def fill(self, template: str, scenario: str, item_id: str) -> CorpusItem:
        rng = self.rng
        people: dict[str, Person] = {}
        towns: dict[str, tuple[str, str, str]] = {}
        metrics: dict[str, tuple[str, str, str, str, float, float, int]] = {}
        cache: dict[str, tuple[str, str | None, str | None]] = {}

        def person(key: str) -> Person:
            if key not in people:
                people[key] = self.names.person()
            return people[key]

        def town(key: str) -> tuple[str, str, str]:
            if key not in towns:
                towns[key] = self.values.town()
            return towns[key]

        def metric(key: str) -> tuple[str, str, str, str, float, float, int]:
            if key not in metrics:
                metrics[key] = rng.choice(METRICS)
            return metrics[key]

        def resolve(slot: str) -> tuple[str, str | None, str | None]:
            """(text, PHI category or None, clinical category or None)."""
            base = slot.rstrip("0123456789")
            idx = slot[len(base) :]
            p = person("p" + idx)
            v = self.values
            if base == "name":
                return p.full, "NAME", None
            if base == "fullname":  # with middle name or initial
                mid = f" {p.middle}." if len(p.middle) == 1 else f" {p.middle}" if p.middle else ""
                return f"{p.given}{mid} {p.family}", "NAME", None
            if base == "first":
                return p.given, "NAME", None
            if base == "last":
                return p.family, "NAME", None
            if base == "upname":
                return f"{p.family.upper()}, {p.given.upper()}", "NAME", None
            if base == "lastfirst":
                return f"{p.family}, {p.given}", "NAME", None
            if base == "fileslug":
                g = re.sub(r"[^a-z]", "", p.given.lower())
                f = re.sub(r"[^a-z]", "", p.family.lower())
                return rng.choice([f"{f}_{g}", f"{g}_{f}", f"{f}-{g}", f"{g}{f}"]), "NAME", None
            if base == "lower":
                return p.full.lower(), "NAME", None
            if base == "date":
                return v.full_date(2015, 2025), "DATE", None
            if base == "dob":
                return v.full_date(1921, 2010), "DATE", None
            if base == "cdate":
                return v.compact_date(2018, 2025), "DATE", None
            if base == "pdate":
                return v.partial_date(), "DATE", None
            if base == "age":
                return v.age(), "AGE", None
            if base == "street":
                return v.street(p.family), "ADDRESS", None
            if base == "city":
                return town("t" + idx)[0], "CITY", None
            if base == "state":
                return town("t" + idx)[1], None, None
            if base == "zip":
                return town("t" + idx)[2], "ZIP", None
            if base == "phone":
                return v.phone(), "PHONE", None
            if base == "email":
                return v.email(p), "EMAIL", None
            if base == "mrn":
                return v.mrn(), "MRN", None
            if base == "acct":
                return v.account(), "ACCOUNT", None
            if base == "ssn":
                return v.ssn(), "SSN", None
            if base == "reading":  # number and unit as written in text
                m = metric("m" + idx)
                return f"{_number(rng, m[4], m[5], m[6])} {m[3]}", None, "MEASUREMENT"
            if base == "value":  # a bare number (its unit is written by the template)
                m = metric("m" + idx)
                return _number(rng, m[4], m[5], m[6]), None, "MEASUREMENT"
            if base == "ucum":
                return metric("m" + idx)[2], None, "UNIT"
            if base == "mdc":
                return metric("m" + idx)[1], None, "MDC"
            if base == "code":
                return metric("m" + idx)[0], None, "MDC"
            if base == "model":
                return rng.choice(MODELS[:4]), None, "DEVICE_MODEL"
            if base == "error":
                return rng.choice(ERROR_CODES), None, "ERROR_CODE"
            if base == "alarm":
                return rng.choice(ALARMS), None, "ALARM"
            raise KeyError(slot)

        draft = Draft()
        pos = 0
        for match in _SLOT_RE.finditer(template):
            draft.parts.append(template[pos : match.start()])
            slot = match.group(1)
            if slot not in cache:
                cache[slot] = resolve(slot)
            value, phi, keep = cache[slot]
            draft.parts.append(value)
            if phi:
                draft.phi.append(Label(phi, value, "text"))
            if keep:
                draft.clinical.append(Label(keep, value, "text"))
            pos = match.end()
        draft.parts.append(template[pos:])
        return CorpusItem(item_id, "text", draft.text(), draft.phi, draft.clinical, scenario)


# Written for this set, one shape per line; none is taken from the redactor's tests.
TEXT_TEMPLATES: dict[str, list[str]] = {
    "note": [
        "Pt {name} seen on {date} for follow-up; resting {reading} on room air, no distress. "
        "Daughter {name2} at bedside and asked to be called at {phone}.",
        "{first} reports dizziness since {pdate}. Home cuff showed {reading} this morning. "
        "Will recheck at next visit; spouse {fullname2} drives her in.",
        "Nursing note: {upname} (MRN {mrn}), {age} y/o, sat {reading} overnight, "
        "repositioned q2h. Family ({name2}) updated by phone.",
        "Called {fullname} re: glucose log. Fasting {reading} on {pdate}, post-meal "
        "values trending down. Mailed new strips to {street}, {city}, {state} {zip}.",
        "Mr. {last} is a {age}-year-old retired welder admitted {date} with a fall at home. "
        "Overnight {mdc} stayed near {reading}.",
        "Visit for {name}, DOB {dob}. {mdc} {reading}, down from last month. "
        "Neighbor {first2} {last2} checks on him daily.",
        "Spoke with {first}'s son {name2}; he wants results sent to {email}. "
        "Last temperature {reading}, no fever since {pdate}.",
        "{lastfirst} - seen in clinic {date}. {mdc} {value} {ucum} sitting. "
        "Lives alone at {street}, {city}. Emergency contact {name2} {phone}.",
        "Assessment: {fullname} ({age}), chronic hypoxemia; baseline {reading} on 2 L. "
        "Plan discussed with Dr. {last2} on {pdate}.",
        "Hospice intake for {name}, aged {age}, home address {street}, {city}, {state} {zip}. "
        "Pulse ox reads {reading} at rest.",
        "Mrs. {last} came in with her niece {first2}. Respiratory rate {reading}; "
        "next appointment {pdate} at 10:30.",
        "{name} ({mrn}) discharged {date}; follow-up with {name2} in two weeks, "
        "home monitoring of {mdc} twice daily.",
    ],
    "alarm": [
        "ALARM {alarm} bed 12 - patient {upname} - {reading} at 03:14, acknowledged by "
        "{first2} {last2} RN. Device {model} reported {error}.",
        "[{alarm}] {name}: {mdc} {value} {ucum} below limit; silenced by {name2}, "
        "escalated to charge nurse {first3}.",
        "Alarm history for {lastfirst}: {alarm} x3 since {pdate}, last value {reading}; "
        "probe {error} once.",
        "{alarm} on monitor for {fullname} (room 4B), {reading}; call family at {phone} "
        "if it repeats.",
        "Tele alarm: {upname} MRN {mrn} {alarm} {reading}. Reviewed by {name2}, "
        "artifact from {error}.",
        "Remote alert {alarm}: subscriber {name} ({age} yrs) sent {reading} from "
        "{city}, {state} at 22:40 on {date}.",
        "Escalation: {alarm} for {first} {last}, {mdc} at {value} {ucum}; on-call "
        "{name2} notified via {phone}.",
    ],
    "logistics": [
        "Home kit shipped to {name}, {street}, {city}, {state} {zip} on {date}; "
        "contains {model} module and 50 strips.",
        "Return label for {fullname}: device {model} with fault {error}. Pickup at "
        "{street}, {city} {zip}, call {phone} first.",
        "Courier note: deliver to {upname} c/o {name2}, {street}, {city}, {state} {zip}. "
        "Leave with neighbor if out.",
        "Swap request: {name} ({email}) reports {error} on {model}; replacement sent "
        "{pdate}, tracking to follow.",
        "Order #{acct} for {lastfirst}: 1x {model} cradle, 2x cuffs. Ship to {city}, "
        "{state} {zip} by {pdate}.",
        "Inventory: unit assigned to {name} at {street} moved to {name2} on {date}; "
        "last reading {reading}.",
    ],
    "filename": [
        "Uploaded {fileslug}_{mrn}.csv ({reading} average) and {fileslug}_{cdate}.pdf to "
        "the shared folder for review.",
        "Export failed for /data/exports/{fileslug}/{cdate}_{mdc}.json: disk full; "
        "retry queued by {name2}.",
        "Attachment {fileslug}_spo2_{cdate}.xlsx shows {reading} nadir; sent by {email}.",
        "Found stray file {fileslug}.hl7 in the inbox ({mrn}), moved to quarantine on {date}.",
        "Screenshot IMG_{cdate}_{fileslug}.png attached: monitor shows {alarm} {reading}.",
        "Report {fileslug}-{cdate}-{code}.txt regenerated; contains {mdc} values in {ucum}.",
    ],
    "log": [
        "2024-11-02T07:14:09Z INFO uplink sent obs device={model} code={code} value={value} "
        "unit={ucum} patient={upname} mrn={mrn}",
        "WARN codec: frame rejected ({error}) from bedside unit of {name}, "
        "retry 3/5, last {mdc}={value}",
        "ERROR spool write failed for record owner={lower} dob={dob} code={code} flag={error}",
        "DEBUG pairing bond created for {fullname} phone={phone} device={model}; "
        "first reading {reading}",
        "INFO session start user={email} patient={lastfirst} ward=3N metric={mdc} "
        "value={value}{ucum}",
        'level=warn msg="clock drift" device={model} owner="{name}" err={error} since={pdate}',
        "audit: {name2} viewed chart of {upname} (acct {acct}) at 14:02 on {date}; "
        "latest {mdc} {reading}",
    ],
    "ticket": [
        "Ticket 4471: caller {name} says her {model} shows {error} every morning. "
        "Callback {phone}. Her readings look fine ({reading}).",
        "Support case: {fullname} ({email}) cannot pair the meter; firmware shows "
        "{error}. Lives in {city}, {state}. Opened {date}.",
        "Customer {lastfirst}, account {acct}, wants the device moved to his mother "
        "{name2} ({age}) at {street}, {city} {zip}.",
        "Escalated: {upname} reports {mdc} readings of {value} {ucum} after a fall on "
        "{pdate}. Clinician {name2} asked for logs.",
        "RMA for {name}: unit {model}, error {error}. Ship box to {street}, {city}, "
        "{state} {zip}; SSN on file {ssn} must be removed.",
        'Chat transcript: "hi this is {lower}, my dad {first2} is {age} and the '
        'alarm {alarm} keeps going off" - agent {first3}.',
    ],
    "technote": [
        "Field visit {date}: replaced probe on {model} at the home of {name}; "
        "{error} cleared, now reading {reading}.",
        "Calibration check for {fullname}'s unit: reference {reading}, device "
        "within tolerance. Next visit {pdate}.",
        "Installer {name2} set up the hub for {upname} in {city}, {state} {zip}; "
        "Wi-Fi weak, fell back to LTE. {mdc} verified.",
        "Tech note: {lastfirst} ({mrn}) gateway rebooted twice; {error} logged, "
        "readings {reading} and {reading2} transmitted.",
        "Site survey at {street}, {city}: {name}'s bedroom has no outlet near the bed, "
        "used an extension. Device {model} OK.",
        "Bench test of returned {model} from {name}: {error} reproduced, last stored "
        "{mdc} {value} {ucum} dated {date}.",
    ],
}


# Neutral or clinical sentences that bring an item near 200 characters.
TEXT_TAILS: list[str] = [
    " Trend stable over the last 24 h; {mdc2} last {reading2}.",
    " No new complaints, skin warm and dry, will continue current plan.",
    " Battery at 64 percent, signal strength good, clock synced.",
    " Last transmitted {mdc2} was {value2} {ucum2}; no gaps in the upload log.",
    " Reviewed alarm limits with the night shift; no changes made.",
    " Device {model} firmware current; no {error} since the reset.",
    " Spare cuff and leads left in the drawer by the window.",
]


# --- JSON ----------------------------------------------------------------------------


class JsonFactory:
    def __init__(self, rng: random.Random, sources: Sources) -> None:
        self.rng = rng
        self.names = Names(rng, sources)
        self.values = Values(rng, sources)

    def _hhmm(self, sep: str = "") -> str:
        return f"{self.rng.randint(0, 23):02d}{sep}{self.rng.randint(0, 59):02d}"

    def _ids(self) -> str:
        return "".join(self.rng.choice("abcdef0123456789") for _ in range(12))

    def _metric(self, phi: list[Label], keep: list[Label]) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        code, ref, unit, _, low, high, dec = rng.choice(METRICS)
        value: float | int = (
            round(rng.uniform(low, high), dec) if dec else int(rng.uniform(low, high))
        )
        keep += [
            Label("MDC", code, "field"),
            Label("MDC", ref, "field"),
            Label("UNIT", unit, "field"),
            Label("MEASUREMENT", json.dumps(value), "field"),
        ]
        coding = {"system": "urn:iso:std:iso:11073:10101", "code": code, "display": ref}
        quantity = {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        }
        return {"coding": [coding]}, quantity

    def _human_name(self, p: Person, phi: list[Label]) -> dict[str, Any]:
        phi += [Label("NAME", p.family, "field"), Label("NAME", p.given, "field")]
        name: dict[str, Any] = {"use": "official", "family": p.family, "given": [p.given]}
        if p.middle and len(p.middle) > 1:
            name["given"].append(p.middle)
            phi.append(Label("NAME", p.middle, "field"))
        if self.rng.random() < 0.4:
            mid = f" {p.middle}" if p.middle else ""
            name["text"] = f"{p.given}{mid} {p.family}"
            phi.append(Label("NAME", name["text"], "field"))
        return name

    def _ref(self, kind: str, p: Person, phi: list[Label]) -> dict[str, Any]:
        display = f"{p.given} {p.family}"
        phi.append(Label("NAME", display, "field"))
        return {"reference": f"{kind}/{self._ids()}", "display": display}

    def _note(self, phi: list[Label], keep: list[Label]) -> str:
        rng = self.rng
        p = self.names.person()
        reading = METRICS[rng.randrange(len(METRICS))]
        value = f"{_number(rng, reading[4], reading[5], reading[6])} {reading[3]}"
        pdate = self.values.partial_date()
        text = rng.choice(
            [
                f"Reviewed with {p.given} {p.family}; repeat {value} noted, recheck {pdate}.",
                f"Reading {value} confirmed by {p.family}, {p.given} on {pdate}.",
                f"{p.given} {p.family} says cuff slipped; value {value} kept for trend.",
            ]
        )
        phi.append(
            Label(
                "NAME",
                f"{p.given} {p.family}"
                if f"{p.given} {p.family}" in text
                else f"{p.family}, {p.given}",
                "text",
            )
        )
        if pdate in text:
            phi.append(Label("DATE", pdate, "text"))
        keep.append(Label("MEASUREMENT", value, "text"))
        return text

    def observation(self, phi: list[Label], keep: list[Label]) -> dict[str, Any]:
        rng = self.rng
        code, quantity = self._metric(phi, keep)
        patient, performer = self.names.person(), self.names.person()
        y, m, d = self.values.ymd(2023, 2025)
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": self._ids(),
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": code,
            "subject": self._ref("Patient", patient, phi),
            "effectiveDateTime": f"{y}-{m:02d}-{d:02d}T{self._hhmm(':')}:00Z",
            "performer": [self._ref("Practitioner", performer, phi)],
            "device": {"reference": f"Device/{self._ids()}", "display": rng.choice(MODELS)},
            "valueQuantity": quantity,
        }
        keep.append(Label("DEVICE_MODEL", obs["device"]["display"], "field"))
        keep.append(Label("STATUS", "final", "field"))
        if rng.random() < 0.4:
            obs["note"] = [{"text": self._note(phi, keep)}]
        if rng.random() < 0.3:
            mrn = self.values.mrn()
            obs["identifier"] = [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": mrn}]
            phi.append(Label("MRN", mrn, "field"))
        return obs

    def patient(self, phi: list[Label], keep: list[Label]) -> dict[str, Any]:
        rng = self.rng
        p, kin = self.names.person(), self.names.person()
        city, state, zip_code = self.values.town()
        street, phone, email, mrn = (
            self.values.street(p.family),
            self.values.phone(),
            self.values.email(p),
            self.values.mrn(),
        )
        y, m, d = self.values.ymd(1921, 2012)
        birth = f"{y}-{m:02d}-{d:02d}"
        phi += [
            Label("MRN", mrn, "field"),
            Label("DATE", birth, "field"),
            Label("ADDRESS", street, "field"),
            Label("CITY", city, "field"),
            Label("ZIP", zip_code, "field"),
            Label("PHONE", phone, "field"),
            Label("EMAIL", email, "field"),
        ]
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": self._ids(),
            "identifier": [
                {
                    "use": "usual",
                    "type": {"text": "MRN"},
                    "system": "urn:oid:1.2.36.146.595.217.0.1",
                    "value": mrn,
                }
            ],
            "active": True,
            "name": [self._human_name(p, phi)],
            "telecom": [
                {"system": "phone", "value": phone, "use": "home"},
                {"system": "email", "value": email},
            ],
            "gender": rng.choice(["female", "male", "other", "unknown"]),
            "birthDate": birth,
            "address": [
                {
                    "use": "home",
                    "line": [street],
                    "city": city,
                    "state": state,
                    "postalCode": zip_code,
                    "country": "US",
                }
            ],
        }
        if rng.random() < 0.6:
            kin_phone = self.values.phone()
            phi.append(Label("PHONE", kin_phone, "field"))
            resource["contact"] = [
                {
                    "relationship": [{"text": rng.choice(["daughter", "son", "spouse", "niece"])}],
                    "name": self._human_name(kin, phi),
                    "telecom": [{"system": "phone", "value": kin_phone}],
                }
            ]
        if rng.random() < 0.3:
            gp = self.names.person()
            resource["generalPractitioner"] = [self._ref("Practitioner", gp, phi)]
        return resource

    def device(self, phi: list[Label], keep: list[Label]) -> dict[str, Any]:
        rng = self.rng
        p = self.names.person()
        model = rng.choice(MODELS)
        keep.append(Label("DEVICE_MODEL", model, "field"))
        resource: dict[str, Any] = {
            "resourceType": "Device",
            "id": self._ids(),
            "status": "active",
            "deviceName": [{"name": model, "type": "model-name"}],
            "modelNumber": model,
            "type": {
                "coding": [
                    {
                        "system": "urn:iso:std:iso:11073:10101",
                        "code": "65573",
                        "display": "MDC_MOC_VMS_MDS_SIMP",
                    }
                ]
            },
            "patient": self._ref("Patient", p, phi),
        }
        keep.append(Label("STATUS", "active", "field"))
        if rng.random() < 0.5:
            owner = self.names.person()
            phone = self.values.phone()
            phi.append(Label("PHONE", phone, "field"))
            resource["contact"] = [{"system": "phone", "value": phone}]
            resource["owner"] = self._ref("Organization", owner, phi)
        if rng.random() < 0.4:
            resource["note"] = [{"text": self._note(phi, keep)}]
        return resource

    def device_metric(self, phi: list[Label], keep: list[Label]) -> dict[str, Any]:
        rng = self.rng
        code, quantity = self._metric(phi, keep)
        keep.pop()  # the DeviceMetric carries no value
        resource: dict[str, Any] = {
            "resourceType": "DeviceMetric",
            "id": self._ids(),
            "type": code,
            "unit": {"coding": [{"system": "http://unitsofmeasure.org", "code": quantity["unit"]}]},
            "source": {"reference": f"Device/{self._ids()}"},
            "operationalStatus": "on",
            "category": "measurement",
        }
        if rng.random() < 0.5:
            y, m, d = self.values.ymd(2022, 2025)
            resource["calibration"] = [
                {
                    "type": "two-point",
                    "state": "calibrated",
                    "time": f"{y}-{m:02d}-{d:02d}T09:00:00Z",
                }
            ]
        if rng.random() < 0.5:
            resource["extension"] = [
                {
                    "url": "http://example.org/fhir/assigned-patient",
                    "valueReference": self._ref("Patient", self.names.person(), phi),
                }
            ]
        return resource

    def encounter(self, phi: list[Label], keep: list[Label]) -> dict[str, Any]:
        rng = self.rng
        p, doc = self.names.person(), self.names.person()
        y, m, d = self.values.ymd(2022, 2025)
        start = f"{y}-{m:02d}-{d:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
        end = f"{y}-{m:02d}-{min(d + rng.randint(1, 3), 28):02d}"
        visit = self.values.account()
        phi += [
            Label("DATE", start, "field"),
            Label("DATE", end, "field"),
            Label("ACCOUNT", visit, "field"),
        ]
        keep.append(Label("STATUS", "finished", "field"))
        return {
            "resourceType": "Encounter",
            "id": self._ids(),
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.6", "value": visit}],
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": self._ref("Patient", p, phi),
            "participant": [{"individual": self._ref("Practitioner", doc, phi)}],
            "period": {"start": start, "end": end},
            "location": [{"location": {"display": "Ward 3 North, bed 12"}}],
        }

    def device_json(self, phi: list[Label], keep: list[Label]) -> dict[str, Any]:
        """Not FHIR: what a vendor cloud or a hub might post.

        Its values carry no keep labels: outside FHIR the redactor keeps the policy's
        allow-list behaviour (issue 15), so which vendor keys survive is the site's
        configuration, not a property of the redactor. Recall is still scored.
        """
        rng = self.rng
        keep = []  # correction 1: not counted (see above)
        p = self.names.person()
        _code, ref, unit, _, low, high, dec = rng.choice(METRICS)
        value = _number(rng, low, high, dec)
        model, err = rng.choice(MODELS), rng.choice(ERROR_CODES)
        age = self.values.age()
        phone = self.values.phone()
        phi += [
            Label("NAME", p.full, "field"),
            Label("AGE", age, "field"),
            Label("PHONE", phone, "field"),
        ]
        keep += [
            Label("DEVICE_MODEL", model, "field"),
            Label("ERROR_CODE", err, "field"),
            Label("MDC", ref, "field"),
            Label("UNIT", unit, "field"),
            Label("MEASUREMENT", value, "field"),
        ]
        body: dict[str, Any] = rng.choice(
            [
                {
                    "device": {"model": model, "fw": "2.4.1"},
                    "owner": p.full,
                    "ownerAge": int(age),
                    "contactPhone": phone,
                    "reading": {"metric": ref, "value": float(value), "unit": unit},
                    "errors": [err],
                },
                {
                    "hub": "HX-22",
                    "user": {"displayName": p.full, "age": age, "tel": phone},
                    "samples": [{"type": ref, "v": value, "u": unit}],
                    "model": model,
                    "status": err,
                },
            ]
        )
        if isinstance(body.get("reading"), dict):
            keep[-1] = Label("MEASUREMENT", json.dumps(float(value)), "field")
            phi[-2] = Label("AGE", json.dumps(int(age)), "field")
        if rng.random() < 0.4:
            body["comment"] = self._note(phi, keep)
        return body


JSON_KINDS: list[tuple[str, int]] = [
    ("observation", 70),
    ("patient", 35),
    ("device", 25),
    ("device_metric", 20),
    ("encounter", 25),
    ("device_json", 25),
]


# --- HL7 v2 --------------------------------------------------------------------------

HL7_VERSIONS = ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8"]


class Hl7Factory:
    def __init__(self, rng: random.Random, sources: Sources) -> None:
        self.rng = rng
        self.names = Names(rng, sources)
        self.values = Values(rng, sources)

    def _hhmm(self) -> str:
        return f"{self.rng.randint(0, 23):02d}{self.rng.randint(0, 59):02d}"

    def _relation(self) -> str:
        return self.rng.choice(["DAU^Daughter", "SON^Son", "SPO^Spouse", "NIE^Niece"])

    def _xpn(self, p: Person, phi: list[Label], source: str = "field") -> str:
        family = p.family.upper() if self.rng.random() < 0.5 else p.family
        given = p.given.upper() if family.isupper() else p.given
        middle = p.middle.upper() if family.isupper() else p.middle
        value = f"{family}^{given}^{middle}" if middle else f"{family}^{given}"
        phi.append(Label("NAME", value, source))
        return value + "^^^^L" if self.rng.random() < 0.5 else value

    def _xcn(self, p: Person, phi: list[Label]) -> str:
        rng = self.rng
        ident = str(rng.randint(1000, 99999))
        family, given = p.family.upper(), p.given.upper()
        phi.append(Label("NAME", f"{family}^{given}", "field"))
        prefix = rng.choice(["Dr", "DR", ""])
        degree = rng.choice(["MD", "RN", "NP", "DO", ""])
        return f"{ident}^{family}^{given}^^^{prefix}^{degree}"

    def _xad(self, p: Person, phi: list[Label]) -> str:
        street = self.values.street(p.family)
        city, state, zip_code = self.values.town()
        phi += [
            Label("ADDRESS", street, "field"),
            Label("CITY", city, "field"),
            Label("ZIP", zip_code, "field"),
        ]
        return f"{street}^^{city}^{state}^{zip_code}^USA^H"

    def _xtn(self, phi: list[Label]) -> str:
        phone = self.values.phone()
        phi.append(Label("PHONE", phone, "field"))
        return f"{phone}^PRN^PH"

    def _dtm(self, phi: list[Label], first: int, last: int, time: bool = False) -> str:
        value = self.values.compact_date(first, last)
        if time:
            value += f"{self.rng.randint(0, 23):02d}{self.rng.randint(0, 59):02d}"
        phi.append(Label("DATE", value, "field"))
        return value

    def _obx(self, n: int, phi: list[Label], keep: list[Label], version: str) -> str:
        rng = self.rng
        code, ref, unit, _, low, high, dec = rng.choice(METRICS)
        value = _number(rng, low, high, dec)
        keep += [
            Label("MDC", code, "field"),
            Label("MDC", ref, "field"),
            Label("MEASUREMENT", value, "field"),
        ]
        if rng.random() < 0.5:
            unit_field = f"{unit}^{unit}^UCUM"
            keep.append(Label("UNIT", unit, "field"))
        else:
            unit_field = f"{MDC_UNIT_CODES[unit]}^MDC"
            keep.append(Label("MDC", MDC_UNIT_CODES[unit].split("^")[1], "field"))
        when = self.values.compact_date(2024, 2025) + self._hhmm()
        observer = ""
        if rng.random() < 0.55:
            observer = self._xcn(self.names.person(), phi)
        equipment = ""
        if rng.random() < 0.3:
            model = rng.choice(MODELS[:3])
            # correction 1: no keep label - OBX-18 is an equipment instance
            # identifier (EI), a device identifier under Safe Harbor, free to drop.
            equipment = f"{model}^{rng.randint(100000, 999999)}^EUI-64"
        flag = rng.choice(["", "", "N", "H", "L"])
        fields = [
            "OBX",
            str(n),
            "NM",
            f"{code}^{ref}^MDC",
            f"1.{n}.1.{n}",
            value,
            unit_field,
            f"{low:g}-{high:g}",
            flag,
            "",
            "",
            "F",
            "",
            "",
            when,
            "",
            observer,
            "",
            equipment,
        ]
        return "|".join(fields).rstrip("|")

    def _nte(self, n: int, phi: list[Label], keep: list[Label]) -> str:
        rng = self.rng
        p = self.names.person()
        pdate = self.values.partial_date()
        alarm, err = rng.choice(ALARMS), rng.choice(ERROR_CODES)
        text = rng.choice(
            [
                f"Probe moved by {p.given} {p.family} after {alarm}; see {pdate}",
                f"Family member {p.given} {p.family} present, device {err} earlier",
                f"Per {p.family}, {p.given}: {alarm} was artifact, recheck {pdate}",
                f"Patient is {self.values.age()} per chart, {alarm} silenced by "
                f"{p.given} {p.family}",
            ]
        )
        name_value = (
            f"{p.given} {p.family}" if f"{p.given} {p.family}" in text else f"{p.family}, {p.given}"
        )
        phi.append(Label("NAME", name_value, "text"))
        if pdate in text:
            phi.append(Label("DATE", pdate, "text"))
        age = re.search(r"is (\d+) per chart", text)
        if age:
            phi.append(Label("AGE", age.group(1), "text"))
        keep.append(
            Label(
                "ALARM" if alarm in text else "ERROR_CODE", alarm if alarm in text else err, "text"
            )
        )
        return f"NTE|{n}|L|{text}"

    def message(self, kind: str, phi: list[Label], keep: list[Label]) -> str:
        rng = self.rng
        version = rng.choice(HL7_VERSIONS)
        p = self.names.person()
        now = self.values.compact_date(2024, 2025) + self._hhmm() + f"{rng.randint(0, 59):02d}"
        control = f"MSG{rng.randint(100000, 999999)}"
        trigger = {
            "ORU": "ORU^R01",
            "ADT01": "ADT^A01",
            "ADT08": "ADT^A08",
            "ORM": "ORM^O01",
            "OML": "OML^O21",
        }[kind]
        if version not in ("2.3", "2.3.1") and kind != "ORM":
            trigger += "^" + trigger.replace("^", "_")
        sender = rng.choice(["WARDLINK", "MONITOR", "PCD01GW", "LABSYS"])
        segs = [f"MSH|^~\\&|{sender}|WARD3N|EHR|HOSP|{now}||{trigger}|{control}|P|{version}"]
        if kind.startswith("ADT"):
            segs.append(f"EVN|{trigger.split('^')[1]}|{now}")
        mrn, acct, ssn = self.values.mrn(), self.values.account(), self.values.ssn()
        phi += [Label("MRN", mrn, "field")]
        pid = [
            "PID",
            "1",
            "",
            f"{mrn}^^^HOSP^MR",
            "",
            self._xpn(p, phi),
            "",
            self._dtm(phi, 1921, 2012),
            rng.choice(["F", "M", "U"]),
            "",
            "",
            self._xad(p, phi),
            "",
            self._xtn(phi),
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        if rng.random() < 0.4:
            pid[6] = self._xpn(self.names.person(), phi)  # mother's maiden name
        if rng.random() < 0.6:
            pid[18] = acct
            phi.append(Label("ACCOUNT", acct, "field"))
        if rng.random() < 0.4:
            pid[19] = ssn
            phi.append(Label("SSN", ssn, "field"))
        segs.append("|".join(pid).rstrip("|"))
        if kind.startswith("ADT") or rng.random() < 0.3:
            for i in range(rng.choice((1, 1, 2))):
                kin = self.names.person()
                segs.append(
                    f"NK1|{i + 1}|{self._xpn(kin, phi)}|{self._relation()}|"
                    f"{self._xad(kin, phi)}|{self._xtn(phi)}"
                )
        pv1 = [
            "PV1",
            "1",
            rng.choice(["I", "O", "E"]),
            f"3N^{rng.randint(1, 40)}^{rng.choice('AB')}",
            "",
            "",
            "",
            self._xcn(self.names.person(), phi),
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        if rng.random() < 0.6:
            pv1[8] = self._xcn(self.names.person(), phi)
        if rng.random() < 0.4:
            pv1[9] = self._xcn(self.names.person(), phi)
        if rng.random() < 0.5:
            pv1[17] = self._xcn(self.names.person(), phi)
        if kind.startswith("ADT") or rng.random() < 0.3:
            visit = self.values.account()
            phi.append(Label("ACCOUNT", visit, "field"))
            pv1 += [visit] + [""] * 24 + [self._dtm(phi, 2023, 2025, time=True)]
        segs.append("|".join(pv1).rstrip("|"))
        if kind.startswith("ADT"):
            if rng.random() < 0.6:
                insured = self.names.person()
                policy = self.values.account()
                phi.append(Label("ACCOUNT", policy, "field"))
                in1 = (
                    [
                        "IN1",
                        "1",
                        "MCR^Medicare",
                        "",
                        rng.choice(["ACME HEALTH PLAN", "TRI-RIVER MUTUAL"]),
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        self._xpn(insured, phi),
                        "SEL^Self",
                        "",
                        self._xad(insured, phi),
                    ]
                    + [""] * 16
                    + [policy]
                )
                segs.append("|".join(in1))
            if rng.random() < 0.6:
                guarantor = self.names.person()
                segs.append(
                    f"GT1|1||{self._xpn(guarantor, phi)}||"
                    f"{self._xad(guarantor, phi)}|{self._xtn(phi)}"
                )
            if rng.random() < 0.5:
                z = self.names.person()
                segs.append(
                    f"ZPI|1|{self._xpn(z, phi)}|{self._xtn(phi)}|{rng.choice(ALARMS[:3])} preferred"
                )
            if rng.random() < 0.5:
                segs.append(self._nte(1, phi, keep))
            if rng.random() < 0.5:
                segs.append(self._obx(1, phi, keep, version))
            return "\r".join(segs)
        order = f"ORD{rng.randint(10000, 99999)}"
        if kind in ("ORM", "OML") or rng.random() < 0.5:
            orc = [
                "ORC",
                rng.choice(["NW", "RE", "SC"]),
                order,
                "",
                "",
                "",
                "",
                "",
                "",
                now,
                "",
                "",
                self._xcn(self.names.person(), phi),
            ]
            segs.append("|".join(orc))
        obr = ["OBR", "1", order, "", "182777000^monitoring of patient^SCT", "", "", now] + [""] * 8
        obr.append(self._xcn(self.names.person(), phi))  # OBR-16
        if rng.random() < 0.5:
            obr += [""] * 11 + [self._xcn(self.names.person(), phi)]  # OBR-28
        segs.append("|".join(obr))
        if kind == "ORU":
            for n in range(1, rng.randint(2, 6)):
                segs.append(self._obx(n, phi, keep, version))
                if rng.random() < 0.2:
                    segs.append(self._nte(n, phi, keep))
        else:
            if rng.random() < 0.5:
                segs.append(self._nte(1, phi, keep))
            if rng.random() < 0.3:
                z = self.names.person()
                segs.append(f"ZCG|1|{self._xpn(z, phi)}|caregiver")
        return "\r".join(segs)


HL7_KINDS: list[tuple[str, int]] = [
    ("ORU", 140),
    ("ADT01", 50),
    ("ADT08", 50),
    ("ORM", 30),
    ("OML", 30),
]


# --- the whole set --------------------------------------------------------------------


def build(sources: Sources | None = None) -> dict[str, list[CorpusItem]]:
    """All three files' items, deterministically from ``SEED``."""
    sources = sources or load_sources()
    out: dict[str, list[CorpusItem]] = {}

    rng = random.Random(f"{SEED}-text")
    text = TextFactory(rng, sources)
    shapes = [(scenario, t) for scenario, ts in TEXT_TEMPLATES.items() for t in ts]
    items: list[CorpusItem] = []
    for i in range(COUNTS["text"]):
        scenario, template = shapes[i % len(shapes)]
        if len(template) < 175:
            template += rng.choice(TEXT_TAILS)
        items.append(text.fill(template, scenario, f"heldout-text-{i:04d}"))
    out["text"] = items

    rng = random.Random(f"{SEED}-json")
    js = JsonFactory(rng, sources)
    items = []
    kinds: list[str] = [k for k, n in JSON_KINDS for _ in range(n)]
    for i, kind in enumerate(kinds):
        phi: list[Label] = []
        keep: list[Label] = []
        maker: Callable[[list[Label], list[Label]], dict[str, Any]] = getattr(js, kind)
        doc = maker(phi, keep)
        items.append(CorpusItem(f"heldout-json-{i:04d}", "json", doc, phi, keep, kind))
    out["json"] = items

    rng = random.Random(f"{SEED}-hl7")
    hl7 = Hl7Factory(rng, sources)
    items = []
    kinds = [k for k, n in HL7_KINDS for _ in range(n)]
    for i, kind in enumerate(kinds):
        phi, keep = [], []
        message = hl7.message(kind, phi, keep)
        items.append(CorpusItem(f"heldout-hl7-{i:04d}", "hl7", message, phi, keep, kind))
    out["hl7"] = items
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(directory: Path = FROZEN_DIR) -> dict[str, Any]:
    """Write the JSONL files and ``MANIFEST.json``; return the manifest."""
    sets = build()
    files: dict[str, Any] = {}
    for fmt, items in sets.items():
        path = directory / FILES[fmt]
        write_jsonl(items, path)
        files[FILES[fmt]] = {"format": fmt, "items": len(items), "sha256": sha256(path)}
    for name in sorted(p.name for p in (directory / "sources").iterdir()):
        files[f"sources/{name}"] = {"sha256": sha256(directory / "sources" / name)}
    manifest = {"seed": SEED, "generator": "wardlink.phieval.heldout", "files": files}
    (directory / "MANIFEST.json").write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def load(directory: Path = FROZEN_DIR) -> dict[str, list[CorpusItem]]:
    """The frozen items per format, read from the committed files."""
    return {fmt: read_jsonl(directory / name) for fmt, name in FILES.items()}


_TOKEN_RE = re.compile(r"[^\W\d_]{2,}")


def name_tokens(items: list[CorpusItem]) -> list[str]:
    """Every word of every NAME label (lower case), for measuring lexicon overlap."""
    return [
        t.lower()
        for i in items
        for lab in i.phi
        if lab.category == "NAME"
        for t in _TOKEN_RE.findall(lab.value)
    ]


if __name__ == "__main__":  # pragma: no cover - run once to write the set
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else FROZEN_DIR
    print(json.dumps(write(target), indent=2))
