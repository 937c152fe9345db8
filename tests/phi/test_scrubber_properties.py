"""Properties of the free-text scrubber: names it has never seen, dates, ZIPs, ages, keep.

The names are invented here from random syllables (never from the lexicon's sources),
in every shape people write them - hyphenated, with apostrophes, with particles, in
upper case, lower case inside file names - and dropped into templates written for
these tests (notes, logistics, tickets, log lines, file names). The scrubber fails
closed on unknown words, so recall must not depend on the lexicon: the properties
run against an empty lexicon too.

A random name that happens to be an English word ("Lotion") is a word the gateway
cannot tell from prose without a cue; those draws are skipped (``assume``) in the
templates where no cue stands before the name, and kept where one does (except
device and clinical words such as "Very" or "Lead", which stay devices).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wardlink.phi.generalize import RESTRICTED_ZIP3
from wardlink.phi.lexicon import NameLexicon
from wardlink.phi.safewords import load_safe_words
from wardlink.phi.scrubber import Scrubber
from wardlink.phi.vocabulary import CLINICAL_TERMS

SETTINGS = settings(
    max_examples=int(os.environ.get("PHI_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much],
)

_SYLLABLES = (
    "ka", "ve", "lo", "ry", "zu", "mi", "ta", "no", "be", "ri", "sha", "qui", "dro", "fen",
    "gal", "hux", "jor", "kev", "lim", "mar", "nev", "pol", "rud", "sev", "tov", "wyl", "xan",
    "yor", "zef", "oa", "ue", "ith", "bre", "clo", "dwi", "eg", "fro", "gny", "hal", "ost",
)  # fmt: skip
_SAFE = load_safe_words()

syllable_word = (
    st.lists(st.sampled_from(_SYLLABLES), min_size=2, max_size=4)
    .map("".join)
    .filter(lambda w: len(w) >= 4)
)


def _title(word: str) -> str:
    return word[0].upper() + word[1:]


@st.composite
def names(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A written full name and its identifying parts (what must not survive)."""
    given_name, family = draw(syllable_word), draw(syllable_word)
    shape = draw(
        st.sampled_from(["plain", "hyphen", "apostrophe", "particle", "upper", "last_first"])
    )
    if shape == "hyphen":
        second = draw(syllable_word)
        return f"{_title(given_name)} {_title(family)}-{_title(second)}", [
            given_name,
            family,
            second,
        ]
    if shape == "apostrophe":
        return f"{_title(given_name)} O'{_title(family)}", [given_name, family]
    if shape == "particle":
        particle = draw(st.sampled_from(["van der", "de la", "von", "di", "bin"]))
        return f"{_title(given_name)} {particle} {_title(family)}", [given_name, family]
    if shape == "upper":
        return f"{given_name.upper()} {family.upper()}", [given_name, family]
    if shape == "last_first":
        return f"{family.upper()}, {given_name.upper()}", [given_name, family]
    return f"{_title(given_name)} {_title(family)}", [given_name, family]


# Templates written for these tests: {n} is the name. Cued templates put a person cue
# or a title right before it; the others rely on the name's shape alone.
CUED_TEMPLATES = (
    "Pt {n} resting comfortably, SpO2 97 %, HR 72 bpm.",
    "spoke with wife of {n} about the home kit",
    "Dr. {n} paged re: NIBP 182/95 mmHg alarm",
    "NOK: {n} (daughter), call before 9",
    "ticket #4412 opened by nurse {n}: pump occlusion on bed 12",
    "INFO wardlink.proxy: patient {n} bound to device dev-0042",
    "patient name: {n}",
)
OPEN_TEMPLATES = (
    "Home kit shipped to {n} on Tuesday.",
    "readings for {n} look stable; no alarms overnight",
    "{n} called back about the glucose meter",
    "Courier picked up the return box from {n} at the loading dock",
    "Re-sent the pairing code, {n} confirmed the cuff inflates",
    "WARN uplink: backlog of 14 records held for {n}",
    "Escalated: {n} reports the sensor falls off at night.",
)
FILE_TEMPLATES = (
    "uploaded {f}_1134316.csv to the share",
    "export ECG_{f}_19620704.pdf attached",
    "see {f}.xml in the outbox",
    "attachment: readings_{f}_v2.json",
)


def _left(parts: list[str], output: str) -> list[str]:
    return [
        p
        for p in parts
        if re.search(rf"(?<![A-Za-z]){re.escape(p)}(?![A-Za-z])", output, re.IGNORECASE)
    ]


def _all_unknown(parts: list[str]) -> bool:
    return not any(p.lower() in _SAFE for p in parts)


@pytest.fixture(scope="module", params=["lexicon", "no_lexicon"])
def scrubber(request: pytest.FixtureRequest) -> Scrubber:
    if request.param == "lexicon":
        return Scrubber()
    return Scrubber(lexicon=NameLexicon(frozenset()))


@SETTINGS
@given(name=names(), template=st.sampled_from(CUED_TEMPLATES))
def test_any_name_after_a_cue_is_removed(scrubber: Scrubber, name: tuple[str, list[str]],
                                         template: str) -> None:  # fmt: skip
    written, parts = name
    # device and clinical words ("Very", "Lead", "Welch") stay devices unless the name
    # around them says otherwise: that trade is tested in test_scrubber.py
    assume(not any(p.lower() in CLINICAL_TERMS for p in parts))
    output = scrubber.scrub(template.format(n=written))
    assert _left(parts, output) == [], output
    assert "[NAME]" in output


@SETTINGS
@given(name=names(), template=st.sampled_from(OPEN_TEMPLATES))
def test_any_unknown_name_without_a_cue_is_removed(
    scrubber: Scrubber, name: tuple[str, list[str]], template: str
) -> None:
    written, parts = name
    assume(_all_unknown(parts))
    output = scrubber.scrub(template.format(n=written))
    assert _left(parts, output) == [], output


@SETTINGS
@given(
    first=syllable_word,
    last=syllable_word,
    joiner=st.sampled_from(["_", "-", ".", ""]),
    case=st.sampled_from(["lower", "title", "upper"]),
    template=st.sampled_from(FILE_TEMPLATES),
)
def test_any_name_glued_into_a_file_name_is_removed(
    scrubber: Scrubber, first: str, last: str, joiner: str, case: str, template: str
) -> None:
    assume(_all_unknown([first, last]))
    if case == "title":
        first, last = _title(first), _title(last)
    elif case == "upper":
        first, last = first.upper(), last.upper()
    elif joiner == "":
        first, last = first, _title(last)  # "forteKaylene": camel case shows the join
    output = scrubber.scrub(template.format(f=f"{last}{joiner}{first}"))
    assert _left([first, last], output) == [], output


_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


@st.composite
def full_dates(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """A full date as written, its year, and the pieces that must not stay."""
    year = draw(st.integers(1900, 2030))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    name = _MONTHS[month - 1]
    written = draw(
        st.sampled_from(
            [
                f"{month:02d}/{day:02d}/{year}",
                f"{month}/{day}/{year}",
                f"{year}-{month:02d}-{day:02d}",
                f"{year}-{month:02d}-{day:02d}T14:22:05Z",
                f"{name} {day}, {year}",
                f"{day} {name} {year}",
                f"{day:02d}-{name[:3]}-{year}",
                f"{day:02d}.{month:02d}.{year}",
                f"{year}{month:02d}{day:02d}",
            ]
        )
    )
    return written, str(year), [written]


DATE_TEMPLATES = (
    "DOB {d}, allergies none",
    "admitted {d} with CHF exacerbation",
    "Replacement cuff shipped {d}; tracking pending",
    "INFO sync: last upload {d} from gateway gw-07",
    "surgery {d} - SpO2 94 %",
)


@SETTINGS
@given(date=full_dates(), template=st.sampled_from(DATE_TEMPLATES))
def test_every_full_date_keeps_only_its_year(
    scrubber: Scrubber, date: tuple[str, str, list[str]], template: str
) -> None:
    written, year, _ = date
    output = scrubber.scrub(template.format(d=written))
    # a year that could be a birth more than 89 years ago is not kept either
    kept = year if int(year) >= datetime.now(UTC).year - 89 else "[DATE]"
    assert output == template.format(d=kept)


@st.composite
def partial_dates(draw: st.DrawFn) -> tuple[str, str]:
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    name = _MONTHS[month - 1]
    ordinal = {1: "st", 2: "nd", 3: "rd"}.get(day if day < 20 else day % 10, "th")
    cue, written = draw(
        st.sampled_from(
            [
                ("on ", f"{month}/{day}"),
                ("since ", f"{month:02d}/{day:02d}"),
                ("", f"{month}/{day}"),
                ("", f"{month}/{day} 08:30"),
                ("", f"{name} {day}{ordinal}"),
                ("", f"{name} {day}"),
                ("", f"{day}{ordinal} of {name}"),
                ("", f"{day} {name}"),
            ]
        )
    )  # fmt: skip
    return cue, written


@SETTINGS
@given(date=partial_dates(), template=st.sampled_from(DATE_TEMPLATES))
def test_every_date_without_a_year_is_dropped(
    scrubber: Scrubber, date: tuple[str, str], template: str
) -> None:
    cue, written = date
    output = scrubber.scrub(template.format(d=cue + written))
    assert output == template.format(d=cue + "[DATE]")


@SETTINGS
@given(
    zip_code=st.integers(0, 99999).map(lambda n: f"{n:05d}"),
    plus4=st.booleans(),
    template=st.sampled_from(
        [
            "zip {z}",
            "ship to 12 Orchard Lane, Monrovia, CA {z}",
            "return label: Springfield, IL {z}",
            "postal code: {z}",
        ]
    ),
)
def test_zip_codes_keep_three_digits_restricted_ones_none(
    scrubber: Scrubber, zip_code: str, plus4: bool, template: str
) -> None:
    written = f"{zip_code}-1234" if plus4 else zip_code
    output = scrubber.scrub(template.format(z=written))
    prefix = "000" if zip_code[:3] in RESTRICTED_ZIP3 else zip_code[:3]
    assert zip_code not in output, output
    assert f"{prefix}**" in output, output


@SETTINGS
@given(
    years=st.integers(0, 130),
    template=st.sampled_from(["a {a}-year-old female", "age {a}", "{a} y/o male", "aged {a}."]),
)
def test_ages_over_89_become_90_plus_and_younger_stay(
    scrubber: Scrubber, years: int, template: str
) -> None:
    output = scrubber.scrub(template.format(a=years))
    if years > 89:
        assert output == template.format(a="90+")
    else:
        assert output == template.format(a=years)


# -- keep -----------------------------------------------------------------------------

_PROFILES = Path(__file__).resolve().parents[2] / "components/wardlink/profiles/builtin"


def _profile_sentences() -> list[str]:
    """Clinical sentences from the built-in profiles: model, MDC name and code, unit."""
    sentences: list[str] = []
    for path in sorted(_PROFILES.glob("*.yaml")):
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        for metric in (profile.get("metrics") or {}).values():
            sentences.append(
                f"{profile['manufacturer']} {profile['model']}: {metric['mdc_name']} "
                f"({metric['mdc_code']}) = {metric.get('max', 0)} {metric['unit']}"
            )
    return sentences


# Our own device, alarm, ticket and log sentences: nothing in them is PHI.
KEEP_SENTENCES = (
    "Philips IntelliVue MX450 alarm LEAD OFF on MDC_ECG_HEART_RATE (147842)",
    "Masimo Radical-7 SpO2 97 %, PI 2.3, PVi 14; alarm silenced 2 min",
    "Smiths Medical CADD-Solis error ERR_SENSOR_OFF, occlusion downstream",
    "Baxter Sigma Spectrum code OCCL_DOWN, BATT_LOW at 15%",
    "Welch Allyn Connex 6000: NIBP 128/84 mmHg, MAP 99 mmHg, Temp 37.2 Cel",
    "Nonin 3150 WristOx2 battery 82%, fw 4.14",
    "Medtronic Nellcor PM1000N alarm ALM-0042 low perfusion",
    "Omron HEM-907XL reports MDC_PULS_OXIM_PULS_RATE (149530) = 107 /min",
    "GE Carescape B450 ECG lead II noisy; replace electrodes",
    "Dexcom G6 sensor warm-up complete, glucose 104 mg/dL",
    "Will recheck in 5 min. RR 16 may be artifact.",
    "pain 7/10 at rest, pain 3/10 after the 1/2 tab; strength 5/5 bilaterally",
    "INFO wardlink.uplink: published 12 records to the broker in 0.4 s",
    "ERROR wardlink.codecs: RuntimeError while decoding frame 17; Traceback follows",
    "Ticket 4411: firmware update 2.3.1 failed on gateway gw-12, retry scheduled",
    "Mindray BeneVision N12 battery 36%, fw 6.3",
    "Hamilton C6 reports MDC_PULS_OXIM_SAT_O2 (150456) = 97 %",
)


@pytest.mark.parametrize("sentence", [*_profile_sentences(), *KEEP_SENTENCES])
def test_clinical_sentences_survive_unchanged(scrubber: Scrubber, sentence: str) -> None:
    assert scrubber.scrub(sentence) == sentence
