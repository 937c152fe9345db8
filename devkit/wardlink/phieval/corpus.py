"""A synthetic, labelled evaluation corpus for the redactor (free text, JSON, HL7 v2).

Every item carries the exact PHI values placed in it (``phi``, with the Safe Harbor
category and whether it sits in a structured ``field`` or in free ``text``) and the
clinical values that must survive (``clinical``: numbers, units, MDC codes, device
models, error codes). ``scoring.py`` checks the redactor's output against them.

Values come from ``faker`` (a development dependency, imported lazily) in several
locales, so names, addresses and phone numbers vary in shape. The scenarios cover
the cases issue 4 names: names in any case, names that are ordinary words ("April
May", "Will Hope"), names inside file names, relatives, employers, every common
phone/date/ID format, addresses, e-mail, URLs, IPs, ages over 89.

One rule keeps the corpus honest rather than impossible: a name that is also an
ordinary word always appears with the context a human reader would need (a
capital letter, a title, "patient", "wife of") - lower-case "will hope" alone is
not recognisable as a name by anyone.

The generator is deterministic for a given seed; tests use a fixed seed for
regression and a fresh random seed to show the results are not tuned to one.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from wardlink.phi.result import Format

# --- labels and items -----------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """A value placed in an item: a PHI category or a clinical kind."""

    category: str
    value: str
    source: str = "text"  # "text" (free text) or "field" (structured field)


@dataclass
class CorpusItem:
    id: str
    format: Format
    input: Any
    phi: list[Label] = field(default_factory=list)
    clinical: list[Label] = field(default_factory=list)
    scenario: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorpusItem:
        return cls(
            id=str(data["id"]),
            format=data["format"],
            input=data["input"],
            phi=[Label(**label) for label in data.get("phi", [])],
            clinical=[Label(**label) for label in data.get("clinical", [])],
            scenario=str(data.get("scenario", "")),
        )


def write_jsonl(items: Iterable[CorpusItem], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[CorpusItem]:
    with Path(path).open(encoding="utf-8") as handle:
        return [CorpusItem.from_json(json.loads(line)) for line in handle if line.strip()]


# --- clinical vocabulary -----------------------------------------------------------

DEVICE_MODELS: tuple[str, ...] = (
    "Nonin 9560 Onyx",
    "Nonin 3150 WristOx2",
    "Masimo Radical-7",
    "Masimo Rad-97",
    "Philips IntelliVue MX450",
    "Philips IntelliVue MP70",
    "GE Carescape B450",
    "GE Dash 4000",
    "Mindray BeneVision N12",
    "Welch Allyn Connex 6000",
    "Welch Allyn Spot Vital Signs 4400",
    "Nellcor PM1000N",
    "Baxter Sigma Spectrum",
    "BD Alaris 8015",
    "Zoll R Series",
    "Draeger Infinity Delta",
    "Spacelabs Qube 91390",
    "Nihon Kohden BSM-6701",
    "Omron HEM-907XL",
    "A&D UA-651BLE",
    "Accu-Chek Guide",
    "FreeStyle Libre 2",
    "Dexcom G7",
    "Hamilton C6",
    "Edwards HemoSphere",
    "Smiths Medical CADD-Solis",
    "Fresenius Agilia",
    "B. Braun Perfusor Space",
)

METRICS: tuple[tuple[int, str, str, str, tuple[float, float, int]], ...] = (
    # mdc_code, mdc_name, short name, unit, (low, high, decimals)
    (150456, "MDC_PULS_OXIM_SAT_O2", "SpO2", "%", (85, 100, 0)),
    (149530, "MDC_PULS_OXIM_PULS_RATE", "PR", "/min", (45, 140, 0)),
    (147842, "MDC_ECG_HEART_RATE", "HR", "bpm", (40, 150, 0)),
    (150021, "MDC_PRESS_BLD_NONINV_SYS", "NIBP sys", "mmHg", (85, 190, 0)),
    (150022, "MDC_PRESS_BLD_NONINV_DIA", "NIBP dia", "mmHg", (45, 110, 0)),
    (150364, "MDC_TEMP_BODY", "Temp", "Cel", (35.0, 40.5, 1)),
    (151562, "MDC_RESP_RATE", "RR", "/min", (8, 32, 0)),
    (160184, "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", "glucose", "mg/dL", (60, 320, 0)),
    (188736, "MDC_MASS_BODY_ACTUAL", "weight", "kg", (40.0, 140.0, 1)),
    (150488, "MDC_PULS_OXIM_PERF_REL", "PI", "%", (0.2, 12.0, 1)),
)

UNIT_CODES = {
    "%": "262688^MDC_DIM_PERCENT",
    "/min": "264864^MDC_DIM_BEAT_PER_MIN",
    "bpm": "264864^MDC_DIM_BEAT_PER_MIN",
    "mmHg": "266016^MDC_DIM_MMHG",
    "Cel": "268192^MDC_DIM_DEGC",
    "mg/dL": "264274^MDC_DIM_MILLI_G_PER_DL",
    "kg": "263875^MDC_DIM_KILO_G",
}

ERROR_CODES: tuple[str, ...] = (
    "E-102",
    "E-217",
    "ERR_SENSOR_OFF",
    "ERR_LEAD_OFF",
    "ALM-0042",
    "ALM-0107",
    "0x1F4A",
    "0x00C3",
    "INOP-23",
    "E45",
    "F-03",
    "W-118",
    "BATT_LOW",
    "OCCL_DOWN",
    "AIR_IN_LINE",
)
ALARM_TEXTS: tuple[str, ...] = (
    "LEAD OFF",
    "SpO2 probe off",
    "check cuff",
    "low battery",
    "occlusion downstream",
    "air in line",
    "signal artifact",
    "no pulse detected",
    "sensor disconnected",
    "replace battery",
    "pump paused",
    "apnea alert",
    "low perfusion",
    "desaturation",
)

COMMON_WORD_FIRST: tuple[str, ...] = (
    "April",
    "May",
    "June",
    "Will",
    "Hope",
    "Grace",
    "Faith",
    "Joy",
    "Rose",
    "Dawn",
    "Summer",
    "Mark",
    "Bill",
    "Art",
    "Pat",
    "Sue",
    "Ray",
    "Jack",
    "Max",
    "Frank",
    "Chase",
    "Hunter",
    "Ivy",
    "Holly",
    "Sky",
    "Star",
)
COMMON_WORD_LAST: tuple[str, ...] = (
    "May",
    "Hope",
    "Long",
    "Young",
    "King",
    "White",
    "Brown",
    "Green",
    "Black",
    "Hill",
    "Wood",
    "Stone",
    "Price",
    "Bell",
    "Hall",
    "Lane",
    "Rice",
    "Banks",
    "Wells",
    "Little",
    "Short",
    "Strong",
    "Love",
    "Day",
    "Field",
    "House",
    "Page",
    "Ward",
    "Cook",
    "Rich",
    "Small",
    "Gray",
    "Frost",
    "Snow",
    "Rose",
    "Lamb",
    "Bird",
    "Power",
    "Glass",
    "Church",
)
RELATIONS: tuple[tuple[str, str], ...] = (
    ("wife", "SPO"),
    ("husband", "SPO"),
    ("son", "CHD"),
    ("daughter", "CHD"),
    ("mother", "MTH"),
    ("father", "FTH"),
    ("brother", "BRO"),
    ("sister", "SIS"),
    ("neighbor", "OTH"),
    ("roommate", "OTH"),
    ("partner", "DOM"),
    ("guardian", "GRD"),
)
NAME_LOCALES: tuple[tuple[str, float], ...] = (
    ("en_US", 0.55),
    ("en_GB", 0.1),
    ("es_MX", 0.1),
    ("en_IN", 0.05),
    ("de_DE", 0.05),
    ("fr_FR", 0.05),
    ("it_IT", 0.05),
    ("en_IE", 0.05),
)
STATES = [
    "AL",
    "AZ",
    "CA",
    "CO",
    "CT",
    "FL",
    "GA",
    "IL",
    "IN",
    "KY",
    "LA",
    "MA",
    "MD",
    "MI",
    "MN",
    "MO",
    "NC",
    "NJ",
    "NV",
    "NY",
    "OH",
    "OR",
    "PA",
    "SC",
    "TN",
    "TX",
    "VA",
    "WA",
    "WI",
]
MONTHS = [
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


def _import_faker() -> Any:
    try:
        import faker
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the evaluation corpus needs faker (a dev dependency): pip install 'wardlink[dev]'"
        ) from exc
    return faker


# --- the world a corpus item lives in ------------------------------------------------


@dataclass
class Person:
    first: str
    last: str
    common_word: bool = False


class _World:
    """Random sources for one corpus; everything derives from the seed."""

    def __init__(self, seed: int) -> None:
        faker = _import_faker()
        self.rng = random.Random(seed)
        self.fakers: dict[str, Any] = {}
        for locale, _ in NAME_LOCALES:
            generator = faker.Faker(locale)
            generator.seed_instance(self.rng.randrange(2**32))
            self.fakers[locale] = generator
        for extra in ("en_US", "en_GB", "de_DE", "fr_FR"):
            if extra not in self.fakers:  # pragma: no cover - all listed above
                generator = faker.Faker(extra)
                generator.seed_instance(self.rng.randrange(2**32))
                self.fakers[extra] = generator
        self.us = self.fakers["en_US"]
        self.today = date(2026, 11, 3)

    # -- people --------------------------------------------------------------------

    def person(self, common_word_share: float = 0.12) -> Person:
        rng = self.rng
        if rng.random() < common_word_share:
            first = rng.choice(COMMON_WORD_FIRST)
            last = rng.choice(COMMON_WORD_LAST) if rng.random() < 0.6 else self._last("en_US")
        else:
            locale = self._locale()
            first = str(self.fakers[locale].first_name()).split()[0]
            last = self._last(locale)
        return Person(first, last, common_word=_ordinary_word(first) or _ordinary_word(last))

    def _last(self, locale: str) -> str:
        last = str(self.fakers[locale].last_name())
        return last.split()[-1] if " " in last and self.rng.random() < 0.5 else last

    def _locale(self) -> str:
        roll = self.rng.random()
        for locale, share in NAME_LOCALES:
            roll -= share
            if roll <= 0:
                return locale
        return "en_US"

    def case(self, text: str, person: Person | None = None) -> str:
        """Names in any case - except ordinary-word names, which need their capitals."""
        roll = self.rng.random()
        if roll < 0.15:
            return text.upper()
        if roll < 0.3 and (person is None or not person.common_word):
            return text.lower()
        return text

    # -- values --------------------------------------------------------------------

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(count))

    def alnum(self, count: int, letters: int = 2) -> str:
        head = "".join(self.rng.choice(string.ascii_uppercase) for _ in range(letters))
        return head + self.digits(count - letters)

    def birth_date(self, old: bool = False) -> date:
        years = self.rng.randint(90, 104) if old else self.rng.randint(18, 88)
        return self.today - timedelta(days=365 * years + self.rng.randint(0, 364))

    def event_date(self) -> datetime:
        moment = datetime(2026, 11, 3, tzinfo=UTC) - timedelta(
            minutes=self.rng.randint(0, 60 * 24 * 400)
        )
        return moment.replace(second=self.rng.randint(0, 59))

    def date_text(self, day: date) -> str:
        rng = self.rng
        month = MONTHS[day.month - 1]
        forms: list[Callable[[], str]] = [
            lambda: day.isoformat(),
            lambda: f"{day.month:02d}/{day.day:02d}/{day.year}",
            lambda: f"{day.month}/{day.day}/{day.year % 100:02d}",
            lambda: f"{day.day:02d}.{day.month:02d}.{day.year}",
            lambda: f"{month} {day.day}, {day.year}",
            lambda: f"{month[:3]} {day.day} {day.year}",
            lambda: f"{day.day} {month} {day.year}",
            lambda: f"{day.day:02d}-{month[:3]}-{day.year}",
            lambda: f"{day.day:02d}-{month[:3].upper()}-{day.year % 100:02d}",
            lambda: f"{day.year}{day.month:02d}{day.day:02d}",
            lambda: f"{day.year}/{day.month:02d}/{day.day:02d}",
            lambda: f"{month} {day.day}",
            lambda: f"{day.day}{_ordinal(day.day)} of {month}",
        ]
        return rng.choice(forms)()

    def datetime_text(self, moment: datetime) -> str:
        forms = (
            moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            moment.strftime("%m/%d/%Y %H:%M"),
            moment.strftime("%Y-%m-%d %H:%M"),
            moment.strftime("%d.%m.%Y %H:%M"),
        )
        return self.rng.choice(forms)

    def phone(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return str(self.us.phone_number())
        if roll < 0.75:
            return str(self.fakers["en_GB"].phone_number())
        if roll < 0.85:
            return str(self.fakers["de_DE"].phone_number())
        if roll < 0.9:
            return str(self.fakers["fr_FR"].phone_number())
        area, mid, end = self.digits(3), self.digits(3), self.digits(4)
        return rng.choice(
            (
                f"{area} {mid} {end}",
                f"+1 ({area}) {mid}-{end}",
                f"{area}.{mid}.{end} ext. {self.digits(3)}",
            )
        )

    def street(self) -> str:
        return str(self.us.street_address())

    def city(self) -> str:
        return str(self.us.city())

    def zip5(self) -> str:
        return f"{self.rng.randint(1001, 99950):05d}"

    def plate(self) -> str:
        while True:
            plate = str(self.us.license_plate())
            if any(ch.isdigit() for ch in plate):
                return plate

    def company(self) -> str:
        return str(self.us.company()).replace("&", "and")

    def model(self) -> str:
        return self.rng.choice(DEVICE_MODELS)

    def reading(self, metric: tuple[int, str, str, str, tuple[float, float, int]]) -> str:
        low, high, decimals = metric[4]
        value = self.rng.uniform(low, high)
        return f"{value:.{decimals}f}" if decimals else str(round(value))


_ORDINARY_WORDS = frozenset(w.lower() for w in (*COMMON_WORD_FIRST, *COMMON_WORD_LAST, *MONTHS))


def _ordinary_word(name: str) -> bool:
    """Names that are also everyday words need a capital letter or a cue to be seen."""
    return name.lower() in _ORDINARY_WORDS


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


# --- free-text snippets --------------------------------------------------------------


class _Text:
    """Builds one free-text message from PHI snippets and clinical snippets."""

    def __init__(self, world: _World) -> None:
        self.w = world
        self.parts: list[str] = []
        self.phi: list[Label] = []
        self.clinical: list[Label] = []

    def add(self, template: str, **values: tuple[str, str | None]) -> None:
        """``values``: name -> (text, label category or None)."""
        rendered = template.format(**{k: v[0] for k, v in values.items()})
        self.parts.append(rendered)
        for text, category in values.values():
            if category is None:
                continue
            if category.startswith("+"):
                self.clinical.append(Label(category[1:], text))
            else:
                self.phi.append(Label(category, text))

    def render(self) -> str:
        self.w.rng.shuffle(self.parts)
        separators = (". ", "; ", " - ", "\n", ". ")
        out = self.parts[0]
        for part in self.parts[1:]:
            out += self.w.rng.choice(separators) + part
        return out


def _name(world: _World, person: Person, form: int | None = None) -> str:
    rng = world.rng
    choice = rng.randrange(5) if form is None else form
    if choice == 0:
        text = f"{person.first} {person.last}"
    elif choice == 1:
        text = f"{person.last}, {person.first}"
    elif choice == 2:
        middle = rng.choice(string.ascii_uppercase)
        text = f"{person.first} {middle}. {person.last}"
    elif choice == 3:
        text = f"{person.first} {person.last}"
    else:
        text = f"{person.first} {person.last}"
    return world.case(text, person)


def _phi_snippets(world: _World, text: _Text, patient: Person) -> None:
    """Add one PHI snippet of a randomly chosen kind."""
    rng = world.rng
    kind = rng.choice(_SNIPPET_KINDS)
    kind(world, text, patient)


def _snip_patient_name(w: _World, t: _Text, p: Person) -> None:
    name = _name(w, p)
    template = w.rng.choice(
        (
            "Pt {n} seen at bedside",
            "patient {n} resting",
            "Patient: {n}",
            "Name: {n}",
            "{n} called about the alarm",
            "pt. {n} transferred",
            "{n} complained of dizziness",
            "visited {n} in room",
            "spoke with patient {n}",
        )
    )
    if p.common_word and template.startswith("{n}"):
        template = "Patient " + template
    t.add(template, n=(name, "NAME"))


def _snip_title(w: _World, t: _Text, p: Person) -> None:
    doctor = w.person()
    title = w.rng.choice(("Dr.", "Dr", "Mr.", "Mrs.", "Ms.", "Nurse"))
    last = w.case(doctor.last, doctor) if not doctor.common_word else doctor.last
    template = w.rng.choice(
        ("{t} {n} notified", "paged {t} {n}", "per {t} {n}", "{t} {n} at bedside")
    )
    t.add(template, t=(title, None), n=(last, "NAME"))


def _snip_relative(w: _World, t: _Text, p: Person) -> None:
    relative = w.person()
    relation = w.rng.choice(RELATIONS)[0]
    name = _name(w, relative, form=w.rng.choice((0, 1, 3)))
    template = w.rng.choice(
        (
            "{r} {n} at bedside",
            "spoke with {r} {n}",
            "{r} of {n}",
            "NOK: {n} ({r})",
            "contact {r} {n}",
            "called {r} {n}",
            "{r}: {n}",
        )
    )
    t.add(template, r=(relation, None), n=(name, "NAME"))


def _snip_employer(w: _World, t: _Text, p: Person) -> None:
    company = w.company()
    template = w.rng.choice(("employer: {c}", "works at {c}", "employed by {c}"))
    t.add(template, c=(company, "NAME"))


def _snip_file(w: _World, t: _Text, p: Person) -> None:
    day = w.birth_date()
    stamp = f"{day.year}{day.month:02d}{day.day:02d}"
    first, last = p.first, p.last
    forms = (
        (f"ECG_{last}_{first}_{stamp}.pdf", [(last, "NAME"), (first, "NAME"), (stamp, "DATE")]),
        (
            f"{first.lower()}.{last.lower()}_{stamp}.csv",
            [(first.lower(), "NAME"), (last.lower(), "NAME"), (stamp, "DATE")],
        ),
        (
            f"{last.upper()}-{first.upper()}-trend.png",
            [(last.upper(), "NAME"), (first.upper(), "NAME")],
        ),
        (f"{last}{first}_{stamp}.xml", [(last, "NAME"), (first, "NAME"), (stamp, "DATE")]),
    )
    name, labels = w.rng.choice(forms)
    if p.common_word:
        name, labels = w.rng.choice((forms[0], forms[3]))
    template = w.rng.choice(("uploaded {f}", "file {f} attached", "export {f} failed"))
    t.add(template, f=(name, None))
    for value, category in labels:
        t.phi.append(Label(category, value))


def _snip_date(w: _World, t: _Text, p: Person) -> None:
    roll = w.rng.random()
    if roll < 0.75:
        text = w.date_text(w.birth_date() if roll < 0.4 else w.event_date().date())
        template = w.rng.choice(
            (
                "DOB {d}",
                "born {d}",
                "admitted {d}",
                "discharged on {d}",
                "date of death {d}",
                "seen {d}",
                "last visit {d}",
            )
        )
    else:
        text = w.datetime_text(w.event_date())
        template = w.rng.choice(("admitted {d}", "surgery {d}", "fell at home {d}"))
    t.add(template, d=(text, "DATE"))


def _snip_age(w: _World, t: _Text, p: Person) -> None:
    years = str(w.rng.randint(90, 104))
    template = w.rng.choice(
        ("{a}-year-old female", "{a} y/o male", "age {a}", "aged {a}", "{a}yo pt", "{a} year old")
    )
    t.add(template, a=(years, "AGE"))


def _snip_phone(w: _World, t: _Text, p: Person) -> None:
    phone = w.phone()
    if w.rng.random() < 0.2:
        t.add(w.rng.choice(("fax: {x}", "fax {x}", "Fax No. {x}")), x=(phone, "FAX"))
        return
    template = w.rng.choice(
        (
            "call back {x}",
            "cell: {x}",
            "home phone {x}",
            "reach family at {x}",
            "tel {x}",
            "{x}",
            "phone number {x}",
            "mobile {x}",
        )
    )
    t.add(template, x=(phone, "PHONE"))


def _snip_email(w: _World, t: _Text, p: Person) -> None:
    address = str(w.rng.choice((w.us.email(), w.us.free_email(), w.us.company_email())))
    t.add(w.rng.choice(("email {e}", "sent report to {e}", "{e}")), e=(address, "EMAIL"))


def _snip_url(w: _World, t: _Text, p: Person) -> None:
    roll = w.rng.random()
    if roll < 0.4:
        url = str(w.us.url()) + w.rng.choice(
            ("", f"patients/{w.digits(6)}", "chart?id=" + w.digits(5))
        )
    elif roll < 0.7:
        url = str(w.us.uri())
    else:
        url = f"{w.us.domain_name()}/p/{w.digits(5)}"
    t.add(w.rng.choice(("portal link {u}", "see {u}", "uploaded to {u}")), u=(url, "URL"))


def _snip_ip(w: _World, t: _Text, p: Person) -> None:
    roll = w.rng.random()
    if roll < 0.4:
        address = str(w.us.ipv4())
    elif roll < 0.7:
        address = str(w.us.ipv4_private()) + (
            f":{w.rng.randint(1024, 65000)}" if w.rng.random() < 0.3 else ""
        )
    else:
        address = str(w.us.ipv6())
    t.add(
        w.rng.choice(("login from {i}", "home router {i}", "remote session {i}")), i=(address, "IP")
    )


def _snip_ssn(w: _World, t: _Text, p: Person) -> None:
    ssn = str(w.us.ssn())
    value = w.rng.choice((ssn, ssn.replace("-", ""), ssn.replace("-", " ")))
    label = (
        "SSN {s}"
        if "-" in value
        else w.rng.choice(("SSN {s}", "SS# {s}", "social security number {s}"))
    )
    t.add(label, s=(value, "SSN"))


def _snip_mrn(w: _World, t: _Text, p: Person) -> None:
    rng = w.rng
    if rng.random() < 0.2:  # unlabelled, but shaped like a record number
        value = rng.choice(("MR", "H", "A", "MRN")) + w.digits(7)
        t.add(rng.choice(("{m}", "chart {m}", "pulled {m}")), m=(value, "MRN"))
        return
    value = rng.choice((w.digits(7), w.digits(8), "00" + w.digits(6), w.alnum(9, 2), w.digits(6)))
    template = rng.choice(
        (
            "MRN {m}",
            "MRN: {m}",
            "MR# {m}",
            "medical record number {m}",
            "patient id {m}",
            "chart number {m}",
        )
    )
    t.add(template, m=(value, "MRN"))


def _snip_plan(w: _World, t: _Text, p: Person) -> None:
    value = w.rng.choice((w.alnum(12, 3), f"{w.digits(1)}EG4-TE5-MK{w.digits(2)}", w.digits(9)))
    template = w.rng.choice(
        (
            "member ID {v}",
            "policy no. {v}",
            "Medicare ID {v}",
            "insurance id {v}",
            "health plan number {v}",
        )
    )
    t.add(template, v=(value, "HEALTH_PLAN"))


def _snip_account(w: _World, t: _Text, p: Person) -> None:
    value = w.rng.choice(
        (w.digits(8), f"{w.digits(4)}-{w.digits(4)}-{w.digits(4)}", w.alnum(10, 1))
    )
    template = w.rng.choice(
        (
            "acct {v}",
            "account #{v}",
            "FIN: {v}",
            "billing id {v}",
            "account number {v}",
            "visit ID {v}",
        )
    )
    t.add(template, v=(value, "ACCOUNT"))


def _snip_license(w: _World, t: _Text, p: Person) -> None:
    value = w.rng.choice(
        (w.alnum(8, 1), f"{w.alnum(4, 1)}-{w.digits(4)}-{w.digits(4)}", w.digits(10), w.alnum(9, 2))
    )
    template = w.rng.choice(
        (
            "license {v}",
            "DL: {v}",
            "NPI {v}",
            "DEA {v}",
            "certificate no. {v}",
            "driver's license {v}",
        )
    )
    t.add(template, v=(value, "LICENSE"))


def _snip_vehicle(w: _World, t: _Text, p: Person) -> None:
    if w.rng.random() < 0.5:
        t.add(
            w.rng.choice(("VIN {v}", "car VIN {v}", "vehicle {v}")), v=(str(w.us.vin()), "VEHICLE")
        )
    else:
        t.add(
            w.rng.choice(("plate {v}", "license plate {v}", "tag: {v}")), v=(w.plate(), "VEHICLE")
        )


def _snip_device_id(w: _World, t: _Text, p: Person) -> None:
    roll = w.rng.random()
    if roll < 0.5:
        value = w.rng.choice((w.alnum(10, 2), f"{w.digits(4)}-{w.digits(6)}", w.alnum(12, 3)))
        template = w.rng.choice(
            ("serial number {v}", "S/N {v}", "SN: {v}", "implant serial {v}", "device id {v}")
        )
    elif roll < 0.8:
        value = str(w.us.mac_address()).upper() if w.rng.random() < 0.5 else str(w.us.mac_address())
        template = w.rng.choice(("MAC {v}", "pump mac address {v}", "BLE {v}"))
    else:
        value = "-".join(f"{w.rng.randrange(256):02X}" for _ in range(8))
        template = "EUI-64 {v}"
    t.add(template, v=(value, "DEVICE_ID"))


def _snip_biometric(w: _World, t: _Text, p: Person) -> None:
    if w.rng.random() < 0.5:
        value = "".join(w.rng.choice("0123456789abcdef") for _ in range(16))
        template = w.rng.choice(
            ("fingerprint ID {v}", "voiceprint {v}", "retina scan {v}", "biometric id {v}")
        )
        t.add(template, v=(value, "BIOMETRIC"))
    else:
        value = w.rng.choice(
            (f"IMG_{w.digits(4)}.jpg", f"face_{w.digits(6)}.png", f"DSC{w.digits(5)}.JPG")
        )
        t.add(
            w.rng.choice(("photo: {v}", "face photo {v}", "photo {v} attached")), v=(value, "PHOTO")
        )


def _snip_address(w: _World, t: _Text, p: Person) -> None:
    rng = w.rng
    street, city, state, zip5 = w.street(), w.city(), rng.choice(STATES), w.zip5()
    roll = rng.random()
    if roll < 0.35:
        t.add("lives at {s}", s=(street, "ADDRESS"))
    elif roll < 0.7:
        t.add(
            "{s}, {c}, {st} {z}",
            s=(street, "ADDRESS"),
            c=(city, "CITY"),
            st=(state, None),
            z=(zip5, "ZIP"),
        )
    elif roll < 0.8:
        t.add(rng.choice(("lives in {c}", "moved to {c}", "resides in {c}")), c=(city, "CITY"))
    elif roll < 0.9:
        t.add("{c}, {st}", c=(city, "CITY"), st=(state, None))
    else:
        t.add(rng.choice(("zip {z}", "ZIP code {z}")), z=(zip5, "ZIP"))


def _snip_other_id(w: _World, t: _Text, p: Person) -> None:
    value = w.alnum(9, 3)
    t.add(w.rng.choice(("case ID {v}", "record id: {v}", "identifier {v}")), v=(value, "ID"))


_SNIPPET_KINDS: tuple[Callable[[_World, _Text, Person], None], ...] = (
    _snip_patient_name,
    _snip_patient_name,
    _snip_title,
    _snip_relative,
    _snip_relative,
    _snip_employer,
    _snip_file,
    _snip_date,
    _snip_date,
    _snip_age,
    _snip_phone,
    _snip_phone,
    _snip_email,
    _snip_url,
    _snip_ip,
    _snip_ssn,
    _snip_mrn,
    _snip_mrn,
    _snip_plan,
    _snip_account,
    _snip_license,
    _snip_vehicle,
    _snip_device_id,
    _snip_biometric,
    _snip_address,
    _snip_address,
    _snip_other_id,
)


def _clinical_snippet(w: _World, t: _Text) -> None:
    rng = w.rng
    roll = rng.random()
    if roll < 0.35:
        chosen = rng.sample(METRICS[:8], 3)
        pieces = []
        values: dict[str, tuple[str, str | None]] = {}
        for index, metric in enumerate(chosen):
            values[f"v{index}"] = (w.reading(metric), "+NUMBER")
            values[f"u{index}"] = (metric[3], "+UNIT" if metric[3] != "%" else None)
            pieces.append(f"{metric[2]} {{v{index}}} {{u{index}}}")
        t.add(", ".join(pieces), **values)
    elif roll < 0.55:
        metric = rng.choice(METRICS)
        t.add(
            "{m} reports {n} ({c}) = {v} {u}",
            m=(w.model(), "+MODEL"),
            n=(metric[1], "+CODE"),
            c=(str(metric[0]), "+CODE"),
            v=(w.reading(metric), "+NUMBER"),
            u=(metric[3], "+UNIT" if metric[3] != "%" else None),
        )
    elif roll < 0.75:
        t.add(
            rng.choice(("{m} alarm {e} {a}", "alarm {e}: {a} on {m}", "{m} error {e}")),
            m=(w.model(), "+MODEL"),
            e=(rng.choice(ERROR_CODES), "+ERROR"),
            a=(rng.choice(ALARM_TEXTS), None),
        )
    elif roll < 0.9:
        sys_bp, dia_bp = str(rng.randint(90, 180)), str(rng.randint(50, 105))
        t.add(
            "NIBP {s}/{d} mmHg on {m}",
            s=(sys_bp, "+NUMBER"),
            d=(dia_bp, "+NUMBER"),
            m=(w.model(), "+MODEL"),
        )
    else:
        t.add(
            "{m} battery {b}%, fw {f}",
            m=(w.model(), "+MODEL"),
            b=(str(rng.randint(5, 100)), "+NUMBER"),
            f=(f"{rng.randint(1, 9)}.{rng.randint(0, 20)}", None),
        )


def _text_item(
    w: _World, item_id: str, patient: Person | None = None, phi_count: int | None = None
) -> tuple[str, list[Label], list[Label]]:
    text = _Text(w)
    patient = patient or w.person()
    for _ in range(phi_count if phi_count is not None else w.rng.randint(2, 3)):
        _phi_snippets(w, text, patient)
    for _ in range(w.rng.randint(1, 2)):
        _clinical_snippet(w, text)
    return text.render(), text.phi, text.clinical


# --- JSON ---------------------------------------------------------------------------


def _json_item(w: _World, item_id: str) -> CorpusItem:
    rng = w.rng
    patient = w.person()
    phi: list[Label] = []
    clinical: list[Label] = []

    def field_value(category: str, value: str) -> str:
        phi.append(Label(category, value, "field"))
        return value

    mrn = w.digits(rng.choice((7, 8)))
    readings: dict[str, Any] = {}
    for key, metric in (
        ("heartRate", METRICS[2]),
        ("bloodOxygen", METRICS[0]),
        ("systolicBP", METRICS[3]),
        ("diastolicBP", METRICS[4]),
        ("temperature", METRICS[5]),
        ("respiratoryRate", METRICS[6]),
    ):
        text = w.reading(metric)
        readings[key] = float(text) if "." in text else int(text)
        clinical.append(Label("NUMBER", json.dumps(readings[key]), "field"))
    old = rng.random() < 0.3
    born = w.birth_date(old)
    years = (w.today - born).days // 365
    document: dict[str, Any] = {
        "deviceId": f"dev-{w.digits(4)}",
        "deviceType": rng.choice(("pulse_oximeter", "bp_monitor", "multiparameter", "thermometer")),
        "deviceModel": w.model(),
        "patientId": field_value("MRN", mrn),
        "timestamp": w.event_date().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "readings": readings,
    }
    clinical.append(Label("MODEL", document["deviceModel"], "field"))
    clinical.append(Label("CODE", document["deviceType"], "field"))
    patient_block: dict[str, Any] = {
        "name": field_value("NAME", f"{patient.first} {patient.last}"),
        "dob": field_value("DATE", born.isoformat()),
        "age": years,
        "address": field_value("ADDRESS", w.street()),
        "city": field_value("CITY", w.city()),
        "zip": field_value("ZIP", w.zip5()),
        "phone": field_value("PHONE", w.phone()),
        "email": field_value("EMAIL", str(w.us.email())),
        "ssn": field_value("SSN", str(w.us.ssn())),
    }
    if years > 89:
        phi.append(Label("AGE", str(years), "field"))
    if rng.random() < 0.5:
        patient_block["firstName"] = field_value("NAME", patient.first)
        patient_block["lastName"] = field_value("NAME", patient.last)
    document["patient"] = patient_block
    if rng.random() < 0.6:
        relative = w.person()
        document["emergencyContact"] = {
            "name": field_value("NAME", f"{relative.first} {relative.last}"),
            "relation": rng.choice(RELATIONS)[0],
            "phone": field_value("PHONE", w.phone()),
        }
    if rng.random() < 0.5:
        document["serialNumber"] = field_value("DEVICE_ID", w.alnum(11, 3))
    if rng.random() < 0.4:
        document["insurance"] = {"memberId": field_value("HEALTH_PLAN", w.alnum(12, 3))}
    if rng.random() < 0.3:
        document["clientIp"] = field_value("IP", str(w.us.ipv4()))
    note, note_phi, note_clinical = _text_item(w, item_id, patient, phi_count=rng.randint(1, 2))
    document[rng.choice(("note", "notes", "comment"))] = note
    phi.extend(note_phi)
    clinical.extend(Label(c.category, c.value, "text") for c in note_clinical)
    return CorpusItem(item_id, "json", document, phi, clinical, "iomt")


# --- HL7 ------------------------------------------------------------------------------


def _hl7_safe(text: str) -> str:
    return (
        text.replace("|", "/")
        .replace("^", " ")
        .replace("~", "-")
        .replace("\\", "/")
        .replace("&", "and")
    )


def _hl7_item(w: _World, item_id: str) -> CorpusItem:
    rng = w.rng
    p = w.person()
    relative = w.person()
    doctor = w.person()
    phi: list[Label] = []
    clinical: list[Label] = []

    def fv(category: str, value: str) -> str:
        phi.append(Label(category, value, "field"))
        return value

    facility = w.company().split(",")[0].split()[0] + " General Hospital"
    stamp = w.event_date().strftime("%Y%m%d%H%M%S")
    born = w.birth_date(rng.random() < 0.2)
    admit = w.event_date().strftime("%Y%m%d%H%M")
    zip5, zip_nk = w.zip5(), w.zip5()
    state = rng.choice(STATES)
    control = f"MSG{w.digits(6)}"
    msh = "|".join(
        ["MSH", "^~\\&", "MONITOR", fv("FACILITY", facility), "WARDLINK", "WL", stamp, "",
         "ORU^R01^ORU_R01", control, "P", "2.6"]
    )  # fmt: skip
    name = f"{fv('NAME', p.last.upper())}^{fv('NAME', p.first.upper())}"
    address = (
        f"{fv('ADDRESS', _hl7_safe(w.street()))}^^{fv('CITY', w.city())}"
        f"^{state}^{fv('ZIP', zip5)}^USA"
    )
    pid = "|".join(
        ["PID", "1", "", f"{fv('MRN', w.digits(8))}^^^HOSP^MR", "",
         f"{name}^{rng.choice(string.ascii_uppercase)}", "", fv("DATE", born.strftime("%Y%m%d")),
         rng.choice("FMU"), "", "", address, "", fv("PHONE", _hl7_safe(w.phone())), "", "", "",
         "", fv("ACCOUNT", w.digits(9)), fv("SSN", str(w.us.ssn()))]
    )  # fmt: skip
    relation = rng.choice(RELATIONS)
    nk1_address = (
        f"{fv('ADDRESS', _hl7_safe(w.street()))}^^{fv('CITY', w.city())}^{state}"
        f"^{fv('ZIP', zip_nk)}"
    )
    nk1 = "|".join(
        ["NK1", "1", f"{fv('NAME', relative.last)}^{fv('NAME', relative.first)}",
         f"{relation[1]}^{relation[0]}^HL70063", nk1_address, fv("PHONE", _hl7_safe(w.phone()))]
    )  # fmt: skip
    room = str(rng.randint(100, 999))
    pv1_fields = [""] * 45
    pv1_fields[1] = "1"
    pv1_fields[2] = "I"
    pv1_fields[3] = f"ICU^{fv('LOCATION', room)}^B"
    pv1_fields[7] = f"{w.digits(6)}^{fv('NAME', doctor.last)}^{fv('NAME', doctor.first)}^^^Dr"
    pv1_fields[10] = "MED"
    pv1_fields[19] = fv("ACCOUNT", "V" + w.digits(8))
    pv1_fields[44] = fv("DATE", admit)
    pv1 = "PV1|" + "|".join(pv1_fields[1:])
    obr = f"OBR|1|{w.digits(6)}|{w.digits(6)}|182777000^monitoring of patient^SNOMED-CT|||{stamp}"
    segments = [msh, pid, nk1, pv1, obr]
    eui = "".join(f"{rng.randrange(256):02X}" for _ in range(8))
    for index, metric in enumerate(rng.sample(METRICS[:7], 3), start=1):
        value = w.reading(metric)
        unit = UNIT_CODES.get(metric[3], "262656^MDC_DIM_DIMLESS")
        segments.append(
            f"OBX|{index}|NM|{metric[0]}^{metric[1]}^MDC|1.1.1.{index}|{value}|{unit}^MDC|||||R|||{stamp}||||"
            f"{fv('DEVICE_ID', eui)}^EUI-64"
        )
        clinical += [
            Label("CODE", str(metric[0]), "field"),
            Label("CODE", metric[1], "field"),
            Label("NUMBER", value, "field"),
            Label("CODE", unit.split("^")[0], "field"),
        ]
    model = w.model()
    segments.append(f"OBX|4|ST|531969^MDC_ID_MODEL_NUMBER^MDC|1.0.0.0|{_hl7_safe(model)}||||||R")
    clinical.append(Label("MODEL", _hl7_safe(model), "field"))
    note, note_phi, note_clinical = _text_item(w, item_id, p, phi_count=rng.randint(1, 2))
    note = _hl7_safe(note.replace("\n", " "))
    where = rng.random()
    if where < 0.5:
        segments.append(f"OBX|5|TX|8867-4^Comment^LN||{note}||||||F")
    else:
        segments.append(f"NTE|1|L|{note}")
    phi.extend(Label(label.category, _hl7_safe(label.value)) for label in note_phi)
    clinical.extend(Label(c.category, _hl7_safe(c.value), "text") for c in note_clinical)
    if rng.random() < 0.3:
        segments.append(
            f"IN1|1|{w.alnum(6, 2)}|{w.digits(5)}|{fv('NAME', w.company().split(',')[0])}"
        )
    return CorpusItem(item_id, "hl7", "\r".join(segments), phi, clinical, "oru_r01")


# --- the generator ---------------------------------------------------------------------

DEFAULT_MIX: dict[Format, float] = {"text": 0.6, "json": 0.2, "hl7": 0.2}


def generate(seed: int, size: int, mix: dict[Format, float] | None = None) -> list[CorpusItem]:
    """``size`` labelled items, deterministic for ``seed``."""
    return list(iter_corpus(seed, size, mix))


def iter_corpus(
    seed: int, size: int, mix: dict[Format, float] | None = None
) -> Iterator[CorpusItem]:
    world = _World(seed)
    shares = mix or DEFAULT_MIX
    formats = list(shares)
    weights = [shares[f] for f in formats]
    for number in range(size):
        item_id = f"s{seed}-{number}"
        kind = world.rng.choices(formats, weights)[0]
        if kind == "json":
            yield _json_item(world, item_id)
        elif kind == "hl7":
            yield _hl7_item(world, item_id)
        else:
            text, phi, clinical = _text_item(world, item_id)
            yield CorpusItem(item_id, "text", text, phi, clinical, "free_text")
