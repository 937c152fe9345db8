"""IHE PCD-01 (Communicate PCD Data, ORU^R01) content: HL7 v2 text -> observations.

What we read, per the IHE PCD Technical Framework Vol. 2 (PCD-01 static definition,
HL7 v2.6 chapter 7):

* OBX-2 value type; only ``NM`` (numeric) rows become observations. Rows without a
  value are the MDS/VMD/channel containment headers and are skipped.
* OBX-3 observation identifier ``code^MDC_REF_ID^MDC`` (IEEE 11073-10101 term,
  partition<<16 | term, e.g. 150456^MDC_PULS_OXIM_SAT_O2^MDC).
* OBX-5 value; OBX-6 unit, also MDC coded (262688^MDC_DIM_PERCENT^MDC), mapped to
  UCUM by ``_mdc_units``; a ``^^UCUM`` coded unit is taken as is.
* OBX-8 abnormal flags (HL7 table 0078); OBX-11 result status (table 0085);
  OBX-14 date/time of the observation (falls back to OBR-7, then MSH-7).
* OBX-4 (containment path MDS.VMD.CHAN.METRIC) and OBX-18 (equipment EUI-64) are
  not copied: the path has no use downstream and the EUI-64 is a device identifier
  (HIPAA Safe Harbor item 13), which the gateway replaces with its own device id.
* PID, NK1 and PV1 become the ``PatientContext``. The fields kept are the ones the
  HL7-to-Safe-Harbor mapping lists as identifying (PID-2..7, 9, 11..14, 18..21,
  23..25, 29; NK1-2, 4..6, 12, 13, 16, 30..33; PV1-3, 5, 7..9, 17, 19, 44, 45, 50).
  Field positions as in the HL7 v2.5/v2.6 chapter 3 attribute tables (PID-13 home
  phone, PID-18 account number, PID-19 SSN; NK1-3 relationship, NK1-5 phone,
  NK1-13 organisation); v2.7 withdrew PID-13/14 and NK1-5/6 in favour of PID-40 and
  NK1-40, which are read as fallbacks.

A repeating PID starts a new patient group (ORU_R01 PATIENT_RESULT repeats); each
group becomes one ``Decoded``.

Escape sequences (HL7 v2.6 section 2.7) are undone here by ``unescape``, not by the
``hl7`` library: on a sequence it does not know (``\\Q\\``) the library logs the whole
raw field at ERROR - a patient's name or bed, in a log Greengrass may ship to
CloudWatch. Ours is pure and reports only how many sequences it dropped, and where
(``PID-5``). The library's own loggers are silenced as well, in case a path we do
not use today reaches them (``_silence_library_logs``).
"""

from __future__ import annotations

import importlib
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import hl7

from wardlink.codecs._mdc_units import ucum_for_mdc
from wardlink.codecs._unmapped import unmapped
from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError
from wardlink.model import Metric, Observation, PatientContext, Quality, RelatedPerson

_MDC_NAME = re.compile(r"^MDC_[A-Z0-9_]+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

# HL7 table 0078 (abnormal flags) -> our flag words
ABNORMAL_FLAGS: Final[dict[str, str]] = {
    "L": "low",
    "H": "high",
    "LL": "critical-low",
    "HH": "critical-high",
    "<": "below-measuring-range",
    ">": "above-measuring-range",
    "A": "abnormal",
    "AA": "critical-abnormal",
    "U": "significant-change-up",
    "D": "significant-change-down",
    "B": "better",
    "W": "worse",
}
# HL7 table 0085 (observation result status) -> (quality, flag)
RESULT_STATUS: Final[dict[str, tuple[Quality, str | None]]] = {
    "F": (Quality.VALID, None),
    "R": (Quality.VALID, None),  # PCD-01 devices report unverified results as R
    "U": (Quality.VALID, None),
    "C": (Quality.VALID, "corrected"),
    "P": (Quality.QUESTIONABLE, "preliminary"),
    "S": (Quality.QUESTIONABLE, "partial"),
    "X": (Quality.UNAVAILABLE, "not-obtained"),
    "N": (Quality.UNAVAILABLE, "not-asked"),
    "I": (Quality.UNAVAILABLE, "pending"),
    "D": (Quality.INVALID, "retracted"),
    "W": (Quality.INVALID, "retracted"),
}


#: Formatting commands (section 2.7.6): their text carries no meaning for a value.
_FORMATTING: Final = (".br", ".sp", ".fi", ".nf", ".in", ".ti", ".sk", ".ce")
_HEX: Final = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")


class _DropRecords(logging.Filter):
    """Refuses every record: the ``hl7`` library's messages quote raw fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def _silence_library_logs() -> None:
    """Drop whatever the ``hl7`` library logs: its messages embed raw message text.

    python-hl7 0.4 names its loggers after its source files (``.../hl7/util.py``), so
    they are found through the modules, not by a name. We never call the functions
    that log (the library's ``unescape``, ``split_file``), so nothing is lost.
    """
    for module_name in ("hl7.util", "hl7.containers"):
        module = importlib.import_module(module_name)
        logger = getattr(module, "logger", None)
        if not isinstance(logger, logging.Logger):
            logger = logging.getLogger(getattr(module, "__file__", module_name))
        if not any(isinstance(f, _DropRecords) for f in logger.filters):
            logger.addFilter(_DropRecords())


_silence_library_logs()


def unescape(value: str, separators: str, esc: str) -> tuple[str, int]:
    """``value`` with its HL7 escape sequences undone, and how many were not understood.

    ``separators`` is the message's segment, field, repetition, component and
    subcomponent separator (``"\\r|~^&"``), ``esc`` its escape character. Separator
    escapes (``\\F\\ \\R\\ \\S\\ \\T\\ \\E\\``) and hex data (``\\X41\\``) become their
    characters; highlighting (``\\H\\ \\N\\``) becomes nothing and formatting
    commands (``\\.br\\``) a space, since a value is one line of plain text. Anything
    else - character-set switches (``\\C..\\``, ``\\M..\\``), site-defined ``\\Z..\\``
    sequences, unknown or empty ones - is dropped and counted, never logged. An
    escape character with no closing one is kept as sent.
    """
    if esc not in value:
        return value, 0
    mapping = {
        "F": separators[1],
        "R": separators[2],
        "S": separators[3],
        "T": separators[4],
        "E": esc,
        "H": "",
        "N": "",
    }
    out: list[str] = []
    dropped = 0
    position = 0
    while True:
        start = value.find(esc, position)
        end = value.find(esc, start + 1) if start >= 0 else -1
        if end < 0:
            out.append(value[position:])
            return "".join(out), dropped
        out.append(value[position:start])
        sequence = value[start + 1 : end]
        position = end + 1
        if sequence in mapping:
            out.append(mapping[sequence])
        elif sequence[:1] == "X" and _HEX.match(sequence[1:]):
            out.append(bytes.fromhex(sequence[1:]).decode("latin-1"))
        elif sequence[:3] in _FORMATTING:
            out.append(" ")
        else:
            dropped += 1


class ContentError(ValueError):
    """The message parsed but its content is unusable (-> ACK code AE)."""


def hl7_datetime(value: str) -> datetime | None:
    """HL7 DTM -> aware datetime; a value without an offset is read as UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = hl7.parse_datetime(value)
    except (ValueError, OverflowError, TypeError):
        return None
    if not isinstance(parsed, datetime):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass
class _Seg:
    """Read access to one parsed segment, with HL7 escapes undone.

    ``bad_escapes`` (shared by the segments of one message) collects the positions
    (``PID-5``) whose escape sequences were dropped - positions only, never text.
    """

    message: Any
    segment: Any
    name: str = "?"
    bad_escapes: list[str] = field(default_factory=list)
    _cache: dict[int, list[list[str]]] = field(default_factory=dict)

    def reps(self, number: int) -> list[list[str]]:
        cached = self._cache.get(number)
        if cached is None:
            cached = self._cache[number] = self._reps(number)
        return cached

    def _reps(self, number: int) -> list[list[str]]:
        if number >= len(self.segment):
            return []
        out: list[list[str]] = []
        for rep in self.segment(number):
            if isinstance(rep, str):
                out.append([self._text(rep, number)])
                continue
            comps: list[str] = []
            for comp in rep:
                if isinstance(comp, str):
                    comps.append(self._text(comp, number))
                else:
                    comps.append(" ".join(self._text(str(s), number) for s in comp if str(s)))
            out.append(comps)
        return [r for r in out if any(c.strip() for c in r)]

    def comps(self, number: int) -> list[str]:
        reps = self.reps(number)
        return reps[0] if reps else []

    def comp(self, number: int, index: int = 0) -> str:
        comps = self.comps(number)
        return comps[index].strip() if len(comps) > index else ""

    def text(self, number: int, joiner: str = " ") -> str:
        return joiner.join(c.strip() for c in self.comps(number) if c.strip())

    def all_text(self, number: int) -> str:
        return "; ".join(" ".join(c.strip() for c in rep if c.strip()) for rep in self.reps(number))

    def _text(self, value: str, number: int) -> str:
        esc = str(self.message.esc)
        if esc not in value:
            return value
        text, dropped = unescape(value, str(self.message.separators), esc)
        if dropped:
            self.bad_escapes.append(f"{self.name}-{number}")
        return text


def _xtn(seg: _Seg, number: int) -> str | None:
    """A telephone number (XTN): the formatted number, else country/area/local parts."""
    comps = seg.comps(number)
    if not comps:
        return None
    if comps[0].strip():
        return comps[0].strip()
    parts = [comps[i].strip() for i in (4, 5, 6) if len(comps) > i and comps[i].strip()]
    email = comps[3].strip() if len(comps) > 3 else ""
    return " ".join(parts) or email or None


def _dob(value: str) -> str | None:
    value = value.strip()
    if len(value) >= 8 and value[:8].isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    return value or None


@dataclass
class _Group:
    pid: _Seg | None = None
    nk1: list[_Seg] = field(default_factory=list)
    pv1: _Seg | None = None
    obr_time: datetime | None = None
    observations: list[Observation] = field(default_factory=list)


def patient_context(group: _Group) -> PatientContext | None:
    if group.pid is None and group.pv1 is None and not group.nk1:
        return None
    extra: dict[str, str] = {}
    patient_id = id_type = ssn = None
    family = given = dob = sex = phone = address = account = None
    pid = group.pid
    if pid is not None:
        ids = pid.reps(3)
        for index, rep in enumerate(ids):
            value = rep[0].strip() if rep else ""
            kind = rep[4].strip() if len(rep) > 4 else ""
            if kind == "SS" and value:
                ssn = value
            elif patient_id is None and value:
                patient_id, id_type = value, kind or None
            elif value:
                extra[f"patient_identifier_{index + 1}"] = value
        name = pid.comps(5)
        family = name[0].strip() or None if name else None
        given = " ".join(n.strip() for n in name[1:3] if n.strip()) or None
        dob = _dob(pid.comp(7))
        sex = pid.comp(8) or None
        address = pid.text(11, ", ") or None
        phone = _xtn(pid, 13) or _xtn(pid, 40)  # PID-40 replaces PID-13/14 from v2.7
        account = pid.comp(18) or None
        ssn = pid.comp(19) or ssn
        for number, key in (
            (2, "patient_id_external"),
            (4, "alternate_patient_id"),
            (6, "mothers_maiden_name"),
            (9, "alias"),
            (12, "county"),
            (14, "business_phone"),
            (20, "drivers_license"),
            (21, "mothers_identifier"),
            (23, "birth_place"),
            (24, "multiple_birth"),
            (25, "birth_order"),
            (29, "death_date"),
        ):
            value = pid.all_text(number)
            if value:
                extra[key] = value
    related: list[RelatedPerson] = []
    for index, nk1 in enumerate(group.nk1, start=1):
        related.append(
            RelatedPerson(
                relationship=nk1.comp(3, 1) or nk1.comp(3) or None,
                name=" ".join(p for p in (nk1.comp(2, 1), nk1.comp(2, 2), nk1.comp(2, 0)) if p)
                or None,
                phone=_xtn(nk1, 5) or _xtn(nk1, 6) or _xtn(nk1, 40),  # NK1-40 from v2.7
                address=nk1.text(4, ", ") or None,
                employer=nk1.text(13) or None,
            )
        )
        for number, key in (
            (12, "employee_number"),
            (16, "birth_date"),
            (30, "contact_name"),
            (31, "contact_phone"),
            (32, "contact_address"),
            (33, "identifiers"),
        ):
            value = nk1.all_text(number)
            if value:
                extra[f"nk1_{index}_{key}"] = value
    location = attending = None
    pv1 = group.pv1
    if pv1 is not None:
        location = pv1.text(3, " ") or None
        attending = pv1.text(7) or None
        for number, key in (
            (5, "preadmit_number"),
            (8, "referring_doctor"),
            (9, "consulting_doctor"),
            (17, "admitting_doctor"),
            (19, "visit_number"),
            (44, "admit_time"),
            (45, "discharge_time"),
            (50, "alternate_visit_id"),
        ):
            value = pv1.all_text(number)
            if value:
                extra[key] = value
    return PatientContext(
        patient_id=patient_id,
        id_type=id_type,
        family_name=family,
        given_name=given,
        birth_date=dob,
        sex=sex,
        phone=phone,
        address=address,
        ssn=ssn,
        account_number=account,
        location=location,
        attending=attending,
        related=tuple(related),
        extra=extra,
    )


def _metric_for(
    obx: _Seg, metric_map: Mapping[str, tuple[int, str, str]]
) -> tuple[Metric, str | None] | str:
    """-> (metric, unit from the profile) or the key to report as unmapped."""
    code, name, system = obx.comp(3, 0), obx.comp(3, 1), obx.comp(3, 2)
    for key in (code, name):
        if key and key in metric_map:
            mdc_code, mdc_name, unit = metric_map[key]
            return Metric(mdc_code=mdc_code, mdc_name=mdc_name), unit
    if code.isdigit() and system.upper() in {"MDC", ""} and _MDC_NAME.match(name):
        number = int(code)
        if number <= 0xFFFFFFFF:
            return Metric(mdc_code=number, mdc_name=name), None
    return code or name or "?"


def _unit_for(obx: _Seg, profile_unit: str | None) -> str | None:
    code, name, system = obx.comp(6, 0), obx.comp(6, 1), obx.comp(6, 2)
    if system.upper() == "UCUM" and code:
        return code[:32]
    if code or name:
        number = int(code) if code.isdigit() else None
        ucum = ucum_for_mdc(number, name or (code if not code.isdigit() else None))
        if ucum:
            return ucum
    return profile_unit


def observation_from_obx(
    obx: _Seg, context: DecodeContext, fallback_time: datetime | None
) -> Observation | FrameError | None:
    """One OBX -> observation; None for rows that carry no numeric value by design."""
    value_type = obx.comp(2).upper()
    raw_value = obx.comp(5)
    if value_type != "NM":
        return None  # containment headers (no type) and non-numeric rows
    found = _metric_for(obx, context.metric_map)
    if isinstance(found, str):
        return unmapped(found, obx.text(6, "^"), what="observation identifier")
    metric, profile_unit = found
    unit = _unit_for(obx, profile_unit)
    if unit is None:
        return unmapped(obx.text(6, "^") or "(none)", what=f"unit of {metric.mdc_name}")

    flags: list[str] = []
    quality = Quality.VALID
    value: float | None = None
    if raw_value:
        if _NUMBER.match(raw_value) and math.isfinite(float(raw_value)):
            value = float(raw_value)
        else:
            return FrameError(
                f"OBX {obx.comp(1) or '?'} ({metric.mdc_name}) has a non-numeric NM value"
            )
    else:
        quality = Quality.UNAVAILABLE
    for rep in obx.reps(8):
        label = ABNORMAL_FLAGS.get(rep[0].strip().upper()) if rep else None
        if label:
            flags.append(label)
            if label.endswith("measuring-range"):
                quality = Quality.INVALID
    status_quality, status_flag = RESULT_STATUS.get(obx.comp(11).upper()[:1], (Quality.VALID, None))
    if status_flag:
        flags.append(status_flag)
    if status_quality is Quality.UNAVAILABLE:
        value, quality = None, Quality.UNAVAILABLE
    elif status_quality is not Quality.VALID and quality is Quality.VALID:
        quality = status_quality
    measured_at = hl7_datetime(obx.comp(14)) or fallback_time or context.now()
    return Observation(
        device_id=context.device_id,
        metric=metric,
        value=value,
        unit=unit,
        measured_at=measured_at,
        quality=quality,
        flags=tuple(dict.fromkeys(flags)),
    )


def decode_oru(
    message: Any, context: DecodeContext, bad_escapes: list[str] | None = None
) -> list[CodecEvent]:
    """A parsed ORU^R01 -> one ``Decoded`` per patient group plus per-row errors.

    Positions whose escape sequences were dropped are appended to ``bad_escapes``.
    Raises ``ContentError`` when the message has no usable structure at all.
    """
    events: list[CodecEvent] = []
    escapes: list[str] = [] if bad_escapes is None else bad_escapes
    msh = _Seg(message, message.segment("MSH"), "MSH", escapes)
    message_time = hl7_datetime(msh.comp(7))
    groups: list[_Group] = []
    current = _Group()
    groups.append(current)
    for segment in message:
        seg_id = str(segment[0][0]) if len(segment) and len(segment[0]) else ""
        seg = _Seg(message, segment, seg_id[:3] or "?", escapes)
        if seg_id == "PID":
            if current.pid is not None or current.observations:
                current = _Group()
                groups.append(current)
            current.pid = seg
        elif seg_id == "NK1":
            current.nk1.append(seg)
        elif seg_id == "PV1":
            current.pv1 = seg
        elif seg_id == "OBR":
            current.obr_time = hl7_datetime(seg.comp(7))
        elif seg_id == "OBX":
            made = observation_from_obx(seg, context, current.obr_time or message_time)
            if isinstance(made, Observation):
                current.observations.append(made)
            elif made is not None:
                events.append(made)
    for group in groups:
        patient = patient_context(group)
        if group.observations or patient is not None:
            events.append(Decoded(observations=tuple(group.observations), patient=patient))
    return events
