"""HL7 v2 field data types, and what each type means for redaction.

A policy that lists fields by position misses the fields it does not list: a
person's name sits in OBX-16, PV1-7/8/9/17, ORC-12, OBR-16/28, NK1, IN1, GT1 and
many more, always in one of a handful of data types (XPN, XCN, PN, CN, XON ...).
Knowing each field's data type lets the redactor treat a name as a name wherever
it stands: never passed, whatever rule the policy gives the field, and harvested so
that the same name is removed from the message's free text.

The types come from the standard's field definitions for versions 2.3 to 2.8,
generated at development time (``wardlink.phieval.hl7_tables_build``, which reads
hl7apy) into the committed ``data/hl7_fields.json``; the gateway reads only that
file. Where versions disagree on a field, the builder keeps the type whose class
below is the more sensitive one (``TypeClass`` is ordered by sensitivity).

The table is held as one tuple of classes per segment (a few tens of kB), loaded on
first use by the HL7 redactor only.
"""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from typing import Final

TABLE_FILE: Final = Path(__file__).with_name("data") / "hl7_fields.json"


class TypeClass(IntEnum):
    """How a data type is redacted, ordered from least to most sensitive.

    When HL7 versions give one field different types, the more sensitive class
    (the larger value) wins.
    """

    WITHDRAWN = 0  # "WD" or no type: carries no information of its own
    CODE = 1  # ID, IS, NM, SI, HD, TQ, ...: short codes and numbers; rule as written
    CODED = 2  # CE, CWE, CNE: code components kept, text components scrubbed
    TEXT = 3  # ST, TX, FT: free text, scrubbed
    UNKNOWN = 4  # "varies", Z-segments, unknown segments: never passed raw
    DATE = 5  # DT, DTM, TS: year in patient/visit context, else the timestamp policy
    ADDRESS = 6  # XAD, AD: state, ZIP3 and country at most
    ENCAPSULATED = 7  # ED, RP: never passed
    IDENTIFIER = 8  # CX, EI, PL, DLN ...: removed unless the policy pseudonymises it
    TELECOM = 9  # XTN, TN: removed
    NAME = 10  # XPN, XCN, PN, CN, XON ...: removed, whatever the policy says


# XON (organisation name) counts as a name: the "organisation" in GT1-21, IN1-4 or
# IN2-70 is often a person (a sole practitioner, a self-pay guarantor's employer),
# and an organisation's name has no clinical value to lose.
_NAME_TYPES = ("XPN", "XCN", "PN", "CN", "PPN", "XON", "CNN", "NDL", "CM_NDL", "LA1", "LA2",
               "CM_LA1", "PIP", "CM_PIP")  # fmt: skip
_IDENTIFIER_TYPES = ("CX", "CK", "EI", "EIP", "CM_EIP", "DLN", "PL", "PI", "CM_PI", "PLN",
                     "CM_PLN", "DIN", "CM_DIN", "DLD", "CM_DLD", "AUI", "CM_AUI", "PRL",
                     "CM_PRL")  # fmt: skip
_CODE_TYPES = ("ID", "IS", "SI", "NM", "SN", "NR", "NA", "MA", "HD", "TQ", "TM", "CQ", "CP",
               "MO", "MOP", "CM_PEN", "MOC", "CM_MOC", "MSG", "CM_MSG", "VID", "PT", "FC",
               "RI", "RPT", "RFR", "CM_RFR", "CM_RANGE", "CM_ABS_RANGE", "PCF", "CM_PCF",
               "ICD", "DDI", "CM_DDI", "DTN", "CM_DTN", "PTA", "CM_PTA", "RMC", "CM_RMC",
               "UVC", "CM_UVC", "OCD", "CM_OCD", "OSP", "CM_OSP", "SPD", "CM_SPD", "VR",
               "CM_VR", "CCD", "CM_CCD", "ELD", "CM_ELD", "DLT", "CM_DLT", "ERL", "VH", "QIP",
               "QSC", "RCD", "SRT", "SCV", "WVI", "WVS", "GTS")  # fmt: skip

#: Data type -> class. A type not listed here is UNKNOWN (never passed raw).
_CLASSES: Final[dict[str, TypeClass]] = {
    **dict.fromkeys(("WD", "wd", ""), TypeClass.WITHDRAWN),
    **dict.fromkeys(_NAME_TYPES, TypeClass.NAME),
    **dict.fromkeys(("XTN", "TN"), TypeClass.TELECOM),
    **dict.fromkeys(_IDENTIFIER_TYPES, TypeClass.IDENTIFIER),
    **dict.fromkeys(("ED", "RP"), TypeClass.ENCAPSULATED),
    **dict.fromkeys(("XAD", "AD"), TypeClass.ADDRESS),
    **dict.fromkeys(("DT", "DTM", "TS", "DR"), TypeClass.DATE),
    "varies": TypeClass.UNKNOWN,
    **dict.fromkeys(("ST", "TX", "FT"), TypeClass.TEXT),
    **dict.fromkeys(("CE", "CWE", "CNE", "CF", "SPS", "CM_SPS", "JCC"), TypeClass.CODED),
    **dict.fromkeys(_CODE_TYPES, TypeClass.CODE),
}

#: Segments about the patient, their relatives, guarantors, insurance or the visit
#: (EVN: the time of an admission, transfer or discharge): a date there is "directly
#: related to an individual" (45 CFR 164.514(b)(2)(i)(C)) and keeps only its year,
#: whatever the policy's timestamp setting. Observation and message times (OBX-14,
#: OBR-7, MSH-7) follow the policy's ``dates.timestamps``.
PATIENT_CONTEXT: Final[frozenset[str]] = frozenset(
    {"EVN", "PID", "PD1", "PDA", "NK1", "PV1", "PV2", "GT1", "IN1", "IN2", "IN3", "ACC", "DG1",
     "DRG", "PR1", "AL1", "IAM", "MRG", "DB1", "UB1", "UB2", "ROL", "CON", "CSR", "PEO",
     "PES", "PTH", "PRB", "GOL", "VAR", "OH1", "OH2", "OH3", "OH4", "PRT", "ARV", "AUT",
     "RF1", "IVC", "PSS", "PSG", "PSL", "ADJ", "PMT", "IPR"}
)  # fmt: skip

#: Fields that hold a person's date of birth: the patient's (PID-7), a next of kin's
#: (NK1-16), the guarantor's (GT1-8) and the insured's (IN1-18). Whatever rule a policy
#: gives them, they follow ``birth_date``: the year, dropped as well when it implies an
#: age over 89 (45 CFR 164.514(b)(2)(i)(C)).
BIRTH_DATE_FIELDS: Final[frozenset[tuple[str, int]]] = frozenset(
    {("PID", 7), ("NK1", 16), ("GT1", 8), ("IN1", 18)}
)

#: The name-bearing components (1-based) of each NAME type, harvested as known
#: names: family, given and middle names and the person's id, not the prefix
#: ("Dr"), suffix, degree or name-type code. A NAME type not listed: every component.
NAME_COMPONENTS: Final[dict[str, tuple[int, ...]]] = {
    "XPN": (1, 2, 3),
    "PN": (1, 2, 3),
    "XCN": (1, 2, 3, 4),
    "CN": (1, 2, 3, 4),
    "PPN": (1, 2, 3, 4),
    "CNN": (1, 2, 3, 4),
    "XON": (1, 3, 10),
}

#: Components of an address that identify (street, other designation, city, ZIP,
#: county); state and country do not.
ADDRESS_COMPONENTS: Final = (1, 2, 3, 5, 9)


def type_class(data_type: str) -> TypeClass:
    """The redaction class of an HL7 data type (UNKNOWN for a type not known)."""
    return _CLASSES.get(data_type, TypeClass.UNKNOWN)


class FieldTypes:
    """Segment -> field number -> data type and class, from the committed table."""

    __slots__ = ("_classes", "_types", "versions")

    def __init__(self, document: dict[str, object]) -> None:
        segments = document.get("segments")
        identifying = document.get("identifying", {})
        versions = document.get("versions", [])
        if not isinstance(segments, dict) or not isinstance(identifying, dict):
            raise ValueError("segments and identifying must be mappings")
        if not isinstance(versions, list):
            raise ValueError("versions must be a list")
        self.versions: tuple[str, ...] = tuple(str(v) for v in versions)
        self._types: dict[str, tuple[str, ...]] = {}
        self._classes: dict[str, tuple[TypeClass, ...]] = {}
        for segment, types in segments.items():
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise ValueError(f"{segment}: a list of data types expected")
            classes = [type_class(t) for t in types]
            for number in identifying.get(segment, ()):
                classes[int(number) - 1] = max(classes[int(number) - 1], TypeClass.IDENTIFIER)
            self._types[segment] = tuple(sys.intern(t) for t in types)  # ~120 distinct
            self._classes[segment] = tuple(classes)

    def known_segment(self, segment: str) -> bool:
        return segment in self._types

    def field_count(self, segment: str) -> int:
        """How many fields the standard defines for ``segment`` (0 if it defines none)."""
        types = self._types.get(segment)
        return 0 if types is None else len(types)

    def data_type(self, segment: str, number: int) -> str:
        """The field's data type, or "" when the segment or field is not in the table."""
        types = self._types.get(segment)
        return types[number - 1] if types is not None and 0 < number <= len(types) else ""

    def field_class(self, segment: str, number: int) -> TypeClass:
        """How the field is redacted. Z-segments, unknown segments and fields past the
        standard's end are UNKNOWN (never passed raw)."""
        classes = self._classes.get(segment)
        if classes is None or not 0 < number <= len(classes):
            return TypeClass.UNKNOWN
        found = classes[number - 1]
        return TypeClass.UNKNOWN if found is TypeClass.WITHDRAWN else found


@lru_cache(maxsize=1)
def load_field_types() -> FieldTypes:
    """The committed table (read once per process)."""
    try:
        return FieldTypes(json.loads(TABLE_FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, IndexError) as exc:  # pragma: no cover - packaging
        raise RuntimeError(f"HL7 field table {TABLE_FILE} is missing or corrupt: {exc}") from exc
