"""Safe Harbor generalisations of quasi-identifiers: ZIP codes, ages and dates.

45 CFR 164.514(b)(2)(i)(B) lets the first three digits of a ZIP code stay when the
three-digit area holds more than 20,000 people, and requires ``000`` otherwise;
HHS lists the seventeen restricted prefixes from the 2000 census (the list below).
164.514(b)(2)(i)(C) removes every element of a date except the year, and ages over
89 together with any date element (including the year) that implies one; they may
be aggregated into a single "90 or older" category, which we write ``90+``.

Every function returns ``None`` when it cannot read its input: the caller then
drops the value (fail closed) instead of passing it through.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Literal

DateMode = Literal["keep", "year", "drop"]
TimestampMode = Literal["keep", "hour", "day", "year", "drop"]

#: Three-digit ZIP areas with 20,000 or fewer people (HHS de-identification guidance,
#: from the 2000 census); they become "000".
RESTRICTED_ZIP3: frozenset[str] = frozenset(
    {"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831",
     "878", "879", "884", "890", "893"}
)  # fmt: skip

AGE_CAP = 89
AGE_OVER_CAP = "90+"

_ZIP_RE = re.compile(r"^\s*(\d{5})(?:-?\d{4})?\s*$")
_NUMBER_RE = re.compile(r"^\s*(\d{1,3})(?:\.\d+)?\s*$")
_HL7_DTM_RE = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2}(?:\.\d{1,4})?)?([+-]\d{4})?$"
)
_ISO_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?)?)?$"
)
_US_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def zip3(value: object) -> str | None:
    """ "62704" -> "627"; restricted prefixes -> "000"; anything else -> None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = f"{value:05d}" if isinstance(value, int) else value
    match = _ZIP_RE.match(text)
    if match is None:
        return None
    prefix = match.group(1)[:3]
    return "000" if prefix in RESTRICTED_ZIP3 else prefix


def age(value: object) -> int | str | None:
    """Ages up to 89 stay (as whole years); above become "90+"; unreadable -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            return None
        years = int(value)
    elif isinstance(value, str):
        match = _NUMBER_RE.match(value)
        if match is None:
            return AGE_OVER_CAP if value.strip() == AGE_OVER_CAP else None
        years = int(match.group(1))
    else:
        return None
    return AGE_OVER_CAP if years > AGE_CAP else years


def year_of(value: str) -> int | None:
    """The year of an ISO, HL7 DTM or US (MM/DD/YYYY) date, else None."""
    text = value.strip()
    for pattern in (_ISO_RE, _HL7_DTM_RE):
        match = pattern.match(text)
        if match is not None:
            return _valid_year(match.group(1))
    match = _US_RE.match(text)
    if match is not None:
        return _valid_year(match.group(3))
    return None


def _valid_year(text: str) -> int | None:
    year = int(text)
    return year if 1800 <= year <= 2200 else None


def generalize_date(
    value: object, mode: DateMode, *, birth: bool = False, today: date | None = None
) -> str | None:
    """Apply the date policy to a date that is about the person.

    ``year`` keeps only the year, except that a birth year which could mean an age
    over 89 is dropped as well (164.514(b)(2)(i)(C): "all elements of dates
    (including year) indicative of such age").
    """
    if mode == "drop" or not isinstance(value, str) or not value.strip():
        return None
    year = year_of(value)
    if year is None:
        return None  # unreadable: never pass it through
    if mode == "keep":
        return value.strip()
    current = (today or datetime.now(UTC).date()).year
    if birth and current - year > AGE_CAP:
        return None
    return f"{year:04d}"


def truncate_datetime(moment: datetime, mode: TimestampMode) -> datetime | None:
    """Telemetry time policy for a parsed timestamp (``drop`` -> None)."""
    if mode == "keep":
        return moment
    if mode == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if mode == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if mode == "year":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


def generalize_timestamp(value: object, mode: TimestampMode) -> str | int | float | None:
    """Telemetry time policy for a JSON or HL7 timestamp string or epoch number."""
    if mode == "drop":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        if mode == "keep":
            return value
        seconds = value / 1000 if value > 1e11 else value
        moment = truncate_datetime(datetime.fromtimestamp(seconds, UTC), mode)
        return None if moment is None else int(moment.timestamp())
    if not isinstance(value, str) or year_of(value) is None:
        return None
    text = value.strip()
    if mode == "keep":
        return text
    dtm = _HL7_DTM_RE.match(text)
    if dtm is not None:
        keep = {"hour": 10, "day": 8, "year": 4}[mode]
        return text[: min(keep, len(text.split("+")[0].split("-")[0]))]
    iso = _ISO_RE.match(text)
    if iso is not None:
        year, month, day, hour = iso.group(1), iso.group(2), iso.group(3), iso.group(4)
        if mode == "year":
            return year
        if mode == "day":
            return "-".join(p for p in (year, month, day) if p)
        if hour is None:
            return "-".join(p for p in (year, month, day) if p)
        zone = iso.group(7) or ""
        return f"{year}-{month}-{day}T{hour}:00:00{zone}"
    return str(year_of(text)) if mode == "year" else None
