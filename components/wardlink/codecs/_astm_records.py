"""ASTM E1394 / CLSI LIS2-A2 records: syntax, and how a message becomes observations.

Record syntax (E1394 section 7, LIS2-A2 section 6):

* A message is a header record ``H``, then patient ``P`` records, each followed by
  its test orders ``O``, each followed by its results ``R``; comments ``C`` may
  follow any of them; the terminator ``L`` closes the message. ``Q`` (request),
  ``M`` (manufacturer) and ``S`` (scientific) records exist but carry nothing we
  publish.
* The header's second to fifth characters define the delimiters: ``H|\\^&`` means
  field ``|``, repeat ``\\``, component ``^``, escape ``&``. Every other record of
  the message uses them.
* Escapes inside a field: ``&F&`` field, ``&S&`` component, ``&R&`` repeat, ``&E&``
  escape delimiter, ``&Xhh..&`` hexadecimal bytes.
* Fields are numbered from 1, the record type being field 1 (so the universal test
  id of a result is R-3, its value R-4). Field positions used here, as defined in
  E1394-97 / LIS2-A2: P-3 practice patient id, P-4 laboratory patient id, P-5
  patient id no. 3, P-6 name (last^first^middle^suffix^title), P-7 mother's maiden
  name, P-8 birthdate, P-9 sex, P-10 race, P-11 address, P-13 telephone, P-14
  attending physician, P-26 location; O-3 specimen id; R-3 universal test id
  (``^^^local-code``), R-4 value, R-5 units, R-6 reference range, R-7 abnormal
  flags, R-9 result status, R-13 date/time test completed; C-4 comment text; H-12
  processing id; H-14 message date/time.

This module is pure: it turns record text into ``Decoded`` events. The framing
(ENQ/ACK, frames, checksums) lives in ``astm_e1381``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from wardlink.codecs._mdc_units import ucum_for_text
from wardlink.codecs._unmapped import unmapped
from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError
from wardlink.model import Metric, Observation, PatientContext, Quality
from wardlink.model import nomenclature as mdc

RECORD_TYPES: Final = frozenset("HPORCLQMS")
MAX_RECORDS_PER_MESSAGE: Final = 10_000

# Analyzer test codes we understand without a profile. Codes are upper-cased before
# lookup. Glucose defaults to capillary whole blood because the ASTM devices a ward
# gateway meets are point-of-care meters; a lab analyzer's profile overrides it.
# MDC terms: IEEE 11073-10417 (glucose) - MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD 2::29112,
# MDC_CONC_GLU_CAPILLARY_PLASMA 2::29116, MDC_CONC_GLU_VENOUS_PLASMA 2::29124,
# MDC_CONC_HBA1C 2::29148.
_GLU_CAP_WB = (mdc.GLUCOSE_CAPILLARY.mdc_code, mdc.GLUCOSE_CAPILLARY.mdc_name, mdc.UCUM_MG_DL)
DEFAULT_TEST_CODES: Final[dict[str, tuple[int, str, str]]] = {
    "GLU": _GLU_CAP_WB,
    "GLUC": _GLU_CAP_WB,
    "GLUCOSE": _GLU_CAP_WB,
    "BG": _GLU_CAP_WB,
    "GLU-P": (160188, "MDC_CONC_GLU_CAPILLARY_PLASMA", mdc.UCUM_MG_DL),
    "GLU-VP": (160196, "MDC_CONC_GLU_VENOUS_PLASMA", mdc.UCUM_MG_DL),
    "HBA1C": (160220, "MDC_CONC_HBA1C", mdc.UCUM_PERCENT),
    "A1C": (160220, "MDC_CONC_HBA1C", mdc.UCUM_PERCENT),
}

_ABNORMAL_FLAGS: Final[dict[str, str]] = {
    "L": "low",
    "H": "high",
    "LL": "critical-low",
    "HH": "critical-high",
    "<": "below-measuring-range",
    ">": "above-measuring-range",
    "A": "abnormal",
    "U": "significant-change-up",
    "D": "significant-change-down",
    "B": "better",
    "W": "worse",
}
_OUT_OF_RANGE_FLAGS: Final = frozenset({"<", ">"})

# R-9 result status -> (quality, flag)
_STATUS: Final[dict[str, tuple[Quality, str | None]]] = {
    "F": (Quality.VALID, None),
    "V": (Quality.VALID, None),
    "C": (Quality.VALID, "corrected"),
    "R": (Quality.VALID, "retransmitted"),
    "P": (Quality.QUESTIONABLE, "preliminary"),
    "S": (Quality.QUESTIONABLE, "partial"),
    "W": (Quality.QUESTIONABLE, "warning"),
    "X": (Quality.UNAVAILABLE, "not-performed"),
    "I": (Quality.UNAVAILABLE, "pending"),
}
_PROCESSING_FLAGS: Final[dict[str, str]] = {
    "Q": "quality-control",
    "T": "training",
    "D": "debugging",
}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SAFE_RANGE = re.compile(r"^[0-9.,<>=+\- ]{1,32}$|^[0-9.]+ ?to ?[0-9.]+$")


class RecordError(ValueError):
    """A record does not follow E1394 syntax. Its message never quotes field content."""


@dataclass(frozen=True)
class Delimiters:
    field: str = "|"
    repeat: str = "\\"
    component: str = "^"
    escape: str = "&"

    @classmethod
    def from_header(cls, text: str) -> Delimiters:
        if len(text) < 5 or text[0] != "H":
            raise RecordError("header record too short to define delimiters")
        found = cls(field=text[1], repeat=text[2], component=text[3], escape=text[4])
        chars = (found.field, found.repeat, found.component, found.escape)
        if len(set(chars)) != 4 or any(c.isalnum() or c in "\r\n" for c in chars):
            raise RecordError("header record defines invalid delimiters")
        return found


def unescape(text: str, d: Delimiters) -> str:
    """Undo E1394 escape sequences; an unknown or unterminated one is kept verbatim."""
    esc = d.escape
    if esc not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        end = text.find(esc, i + 1) if ch == esc else -1
        if end == -1:
            out.append(ch)
            i += 1
            continue
        seq = text[i + 1 : end]
        replacement = {"F": d.field, "S": d.component, "R": d.repeat, "E": d.escape}.get(seq)
        if replacement is None and seq[:1] == "X" and len(seq) > 1 and len(seq) % 2 == 1:
            try:
                replacement = bytes.fromhex(seq[1:]).decode("latin-1")
            except ValueError:
                replacement = None
        if replacement is None:
            out.append(ch)
            i += 1
            continue
        out.append(replacement)
        i = end + 1
    return "".join(out)


def escape(text: str, d: Delimiters) -> str:
    """Escape delimiter characters so that ``text`` travels as one component."""
    out = text.replace(d.escape, f"{d.escape}E{d.escape}")
    for char, code in ((d.field, "F"), (d.component, "S"), (d.repeat, "R")):
        out = out.replace(char, f"{d.escape}{code}{d.escape}")
    return out


@dataclass(frozen=True)
class Record:
    """One record, split into fields; field numbers are E1394's (type = field 1)."""

    type: str
    fields: tuple[str, ...]
    delimiters: Delimiters

    def raw(self, number: int) -> str:
        index = number - 1
        return self.fields[index] if 0 <= index < len(self.fields) else ""

    def repeats(self, number: int) -> list[list[str]]:
        """Every repetition of a field, each split into unescaped components."""
        d = self.delimiters
        raw = self.raw(number)
        if not raw:
            return []
        return [
            [unescape(part, d) for part in rep.split(d.component)] for rep in raw.split(d.repeat)
        ]

    def components(self, number: int) -> list[str]:
        reps = self.repeats(number)
        return reps[0] if reps else []

    def text(self, number: int, joiner: str = " ") -> str:
        """The first repetition of a field, its non-empty components joined."""
        return joiner.join(c.strip() for c in self.components(number) if c.strip())


def parse_record(text: str, d: Delimiters) -> Record:
    text = text.strip("\r\n")
    if not text:
        raise RecordError("empty record")
    kind = text[0].upper()
    if kind not in RECORD_TYPES:
        raise RecordError(
            f"unknown record type {kind!r}" if kind.isalnum() else "unknown record type"
        )
    if len(text) > 1 and text[1] != d.field:
        raise RecordError(f"{kind} record does not use the header's field delimiter")
    if kind == "H":
        # H|\^&|... : field 2 is the delimiter definition itself and must not be split.
        rest = text[5:]
        fields = ("H", text[2:5], *(rest[1:].split(d.field) if rest else ()))
    else:
        fields = tuple(text.split(d.field))
    return Record(type=kind, fields=fields, delimiters=d)


def format_record(kind: str, fields: Sequence[str | Sequence[str]], d: Delimiters) -> str:
    """Build record text from fields 2.. (each a string or a list of components).

    Used by the simulator and the tests; the header's delimiter field is written
    for ``H`` automatically, so ``fields`` start at H-3 for a header.
    """
    parts: list[str] = []
    for value in fields:
        if isinstance(value, str):
            parts.append(escape(value, d))
        else:
            parts.append(d.component.join(escape(v, d) for v in value))
    if kind == "H":
        head = f"H{d.field}{d.repeat}{d.component}{d.escape}"
        return d.field.join([head, *parts])
    return d.field.join([kind, *parts])


def parse_astm_datetime(value: str) -> datetime | None:
    """``YYYYMMDD[HH[MM[SS]]]`` -> aware datetime.

    E1394 timestamps carry no zone; instruments keep local time. We read them as
    UTC, which is what a gateway expects devices on its site to be set to; the
    profile's device-time correction (pipeline) is the place to fix a skewed clock.
    """
    digits = value.strip()[:14]
    if len(digits) < 8 or not digits.isdigit():
        return None
    padded = digits.ljust(14, "0")
    try:
        return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _birth_date(value: str) -> str | None:
    value = value.strip()
    if len(value) >= 8 and value[:8].isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    return value or None


def patient_from_record(rec: Record, more: Mapping[str, str] | None = None) -> PatientContext:
    """P record -> PatientContext. Every identifying field ends up here and only here.

    ``more`` adds identifying data found elsewhere in the message (specimen ids from
    O records, free-text comments about the patient) so that it is held as PHI too.
    """
    practice_id = rec.text(3)
    lab_id = rec.text(4)
    name = rec.components(6)
    extra: dict[str, str] = dict(more or {})
    if practice_id and lab_id:
        extra["laboratory_patient_id"] = lab_id
    for number, key in (
        (5, "patient_id_3"),
        (7, "mothers_maiden_name"),
        (10, "race"),
        (17, "height"),
        (18, "weight"),
        (19, "diagnosis"),
        (20, "medications"),
        (24, "admission_dates"),
    ):
        value = rec.text(number)
        if value:
            extra[key] = value
    return PatientContext(
        patient_id=practice_id or lab_id or None,
        id_type=("practice" if practice_id else "laboratory") if (practice_id or lab_id) else None,
        family_name=(name[0].strip() or None) if name else None,
        given_name=" ".join(n.strip() for n in name[1:3] if n.strip()) or None,
        birth_date=_birth_date(rec.raw(8)),
        sex=rec.text(9) or None,
        address=rec.text(11, ", ") or None,
        phone=rec.text(13) or None,
        attending=rec.text(14) or None,
        location=rec.text(26, " ") or None,
        extra=extra,
    )


@dataclass
class _Result:
    record: Record
    order_comments: list[str]  # shared by the results of one O record
    comments: list[str] = field(default_factory=list)


@dataclass
class _Group:
    patient: Record | None
    results: list[_Result] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    specimens: list[str] = field(default_factory=list)


def _lookup(
    code: str, metric_map: Mapping[str, tuple[int, str, str]]
) -> tuple[int, str, str] | None:
    return (
        metric_map.get(code) or metric_map.get(code.upper()) or DEFAULT_TEST_CODES.get(code.upper())
    )


def _test_code(rec: Record) -> str:
    comps = rec.components(3)
    for index in (3, 0):
        if len(comps) > index and comps[index].strip():
            return comps[index].strip()
    return ""


def _parse_value(text: str) -> tuple[float | None, str | None, str | None]:
    """-> (value, out-of-range flag, non-numeric text)."""
    text = text.strip()
    if not text:
        return None, None, None
    if text[0] in "<>" and _NUMBER.match(text[1:].strip()):
        number = float(text[1:].strip())
        flag = "below-measuring-range" if text[0] == "<" else "above-measuring-range"
        return number, flag, None
    if _NUMBER.match(text):
        number = float(text)
        return (number, None, None) if math.isfinite(number) else (None, None, text)
    upper = text.upper()
    if upper in {"HI", "HIGH"}:
        return None, "above-measuring-range", None
    if upper in {"LO", "LOW"}:
        return None, "below-measuring-range", None
    return None, None, text


def observation_from_result(
    result: _Result, context: DecodeContext, header: Record | None
) -> Observation | FrameError:
    rec = result.record
    code = _test_code(rec)
    if not code:
        return FrameError("result record without a test code")
    reported_unit = rec.text(5)
    mapping = _lookup(code, context.metric_map)
    if mapping is None:
        return unmapped(code, reported_unit)
    mdc_code, mdc_name, default_unit = mapping
    unit = ucum_for_text(reported_unit) if reported_unit else None
    unit = unit or (reported_unit if reported_unit and len(reported_unit) <= 32 else default_unit)

    value, range_flag, text_value = _parse_value(rec.components(4)[0] if rec.components(4) else "")
    flags: list[str] = []
    quality = Quality.VALID
    for flag_code in (rep[0].strip() for rep in rec.repeats(7) if rep and rep[0].strip()):
        label = _ABNORMAL_FLAGS.get(flag_code.upper())
        if label:
            flags.append(label)
        if flag_code in _OUT_OF_RANGE_FLAGS:
            quality = Quality.INVALID
    if range_flag:
        quality = Quality.INVALID
        if range_flag not in flags:
            flags.append(range_flag)
    status_quality, status_flag = _STATUS.get(rec.text(9).upper()[:1], (Quality.VALID, None))
    if status_flag:
        flags.append(status_flag)
    if status_quality is Quality.UNAVAILABLE:
        value, quality = None, Quality.UNAVAILABLE
    elif status_quality is Quality.QUESTIONABLE and quality is Quality.VALID:
        quality = Quality.QUESTIONABLE
    if value is None and text_value is None and quality is Quality.VALID:
        quality = Quality.UNAVAILABLE
    if text_value is not None:
        flags.append("non-numeric")
    ref_range = rec.text(6)
    if ref_range and _SAFE_RANGE.match(ref_range):
        flags.append(f"reference-range:{ref_range}")
    if header is not None:
        processing = _PROCESSING_FLAGS.get(header.text(12).upper()[:1])
        if processing:
            flags.append(processing)

    measured_at = (
        parse_astm_datetime(rec.raw(13))
        or parse_astm_datetime(rec.raw(12))
        or (parse_astm_datetime(header.raw(14)) if header is not None else None)
        or context.now()
    )
    notes = [*result.order_comments, *result.comments]
    if text_value is not None:
        notes.insert(0, text_value)
    return Observation(
        device_id=context.device_id,
        metric=Metric(mdc_code=mdc_code, mdc_name=mdc_name),
        value=value,
        unit=unit,
        measured_at=measured_at,
        quality=quality,
        flags=tuple(dict.fromkeys(flags)),
        annotation="; ".join(notes) or None,
    )


def comment_text(rec: Record) -> str:
    return rec.text(4)


def interpret_message(records: Sequence[Record], context: DecodeContext) -> list[CodecEvent]:
    """One complete H..L message -> one ``Decoded`` per patient, plus any errors."""
    events: list[CodecEvent] = []
    header = records[0] if records and records[0].type == "H" else None
    groups: list[_Group] = []
    current: _Group | None = None
    order_comments: list[str] = []
    last = "H"
    for rec in records[1:] if header else records:
        if rec.type == "P":
            current = _Group(patient=rec)
            groups.append(current)
            order_comments = []
            last = "P"
            continue
        if current is None:
            current = _Group(patient=None)
            groups.append(current)
        if rec.type == "O":
            order_comments = []
            specimen = rec.text(3)
            if specimen:
                current.specimens.append(specimen)
            last = "O"
        elif rec.type == "R":
            current.results.append(_Result(record=rec, order_comments=order_comments))
            last = "R"
        elif rec.type == "C":
            text = comment_text(rec)
            if not text:
                continue
            if last == "R" and current.results:
                current.results[-1].comments.append(text)
            elif last == "O":
                order_comments.append(text)
            else:
                current.comments.append(text)
        # Q, M, S and L carry nothing we publish.

    for group in groups:
        observations: list[Observation] = []
        for result in group.results:
            made = observation_from_result(result, context, header)
            if isinstance(made, Observation):
                observations.append(made)
            else:
                events.append(made)
        patient: PatientContext | None = None
        if group.patient is not None:
            more: dict[str, str] = {}
            if group.specimens:
                more["specimen_id"] = ", ".join(group.specimens)
            if group.comments:
                more["comment"] = "; ".join(group.comments)
            patient = patient_from_record(group.patient, more)
        if observations or patient is not None:
            events.append(Decoded(observations=tuple(observations), patient=patient))
    return events
