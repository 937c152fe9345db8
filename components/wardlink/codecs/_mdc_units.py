"""IEEE 11073-10101 dimension (unit) codes and their UCUM equivalents.

IHE PCD-01 writes units in OBX-6 as ``code^MDC_DIM_NAME^MDC``. The code is
``partition << 16 | term`` with partition 4 (MDC_PART_DIM), so MDC_DIM_PERCENT,
term 544, is 4 * 65536 + 544 = 262688. Terms of one base unit differ only by a
decimal-prefix offset (milli = +18, centi = +17, kilo = +3), which is how
MDC_DIM_MILLI_L (1618) follows from MDC_DIM_X_L (1600).

Sources, cross-checked: the term numbers in the IEEE 11073-20601 PHD reference
headers (e.g. the Antidote / CSR PHDC ``nomenclature`` headers: MDC_DIM_PERCENT 544,
MDC_DIM_BEAT_PER_MIN 2720, MDC_DIM_RESP_PER_MIN 2784, MDC_DIM_MMHG 3872,
MDC_DIM_KILO_PASCAL 3843, MDC_DIM_DEGC 6048, MDC_DIM_KILO_G 1731, MDC_DIM_LB 1760,
MDC_DIM_KG_PER_M_SQ 1952, MDC_DIM_MILLI_G_PER_DL 2130, MDC_DIM_MILLI_MOLE_PER_L 4722,
MDC_DIM_X_L_PER_MIN 3072), and full codes seen in published PCD-01 messages (GE B40
manual: 264864 MDC_DIM_BEAT_PER_MIN, 266016 MDC_DIM_MMHG; 264274
MDC_DIM_MILLI_G_PER_DL, 264320 MDC_DIM_SEC, 268704 MDC_DIM_M_PER_MIN). UCUM codes are
case-sensitive (UCUM specification, "c/s" column).
"""

from __future__ import annotations

from typing import Final

MDC_PART_DIM: Final = 4
_BASE: Final = MDC_PART_DIM << 16

# term code -> (reference id, UCUM code)
_TERMS: Final[dict[int, tuple[str, str]]] = {
    512: ("MDC_DIM_DIMLESS", "1"),
    544: ("MDC_DIM_PERCENT", "%"),
    736: ("MDC_DIM_ANG_DEG", "deg"),
    1280: ("MDC_DIM_X_M", "m"),
    1297: ("MDC_DIM_CENTI_M", "cm"),
    1298: ("MDC_DIM_MILLI_M", "mm"),
    1344: ("MDC_DIM_X_FOOT", "[ft_i]"),
    1376: ("MDC_DIM_X_INCH", "[in_i]"),
    1600: ("MDC_DIM_X_L", "L"),
    1618: ("MDC_DIM_MILLI_L", "mL"),
    1728: ("MDC_DIM_X_G", "g"),
    1731: ("MDC_DIM_KILO_G", "kg"),
    1746: ("MDC_DIM_MILLI_G", "mg"),
    1760: ("MDC_DIM_LB", "[lb_av]"),
    1952: ("MDC_DIM_KG_PER_M_SQ", "kg/m2"),
    2112: ("MDC_DIM_X_G_PER_DL", "g/dL"),
    2130: ("MDC_DIM_MILLI_G_PER_DL", "mg/dL"),
    2176: ("MDC_DIM_SEC", "s"),
    2208: ("MDC_DIM_MIN", "min"),
    2240: ("MDC_DIM_HR", "h"),
    2272: ("MDC_DIM_DAY", "d"),
    2368: ("MDC_DIM_YR", "a"),
    2720: ("MDC_DIM_BEAT_PER_MIN", "/min"),
    2784: ("MDC_DIM_RESP_PER_MIN", "/min"),
    3072: ("MDC_DIM_X_L_PER_MIN", "L/min"),
    3090: ("MDC_DIM_MILLI_L_PER_MIN", "mL/min"),
    3843: ("MDC_DIM_KILO_PASCAL", "kPa"),
    3872: ("MDC_DIM_MMHG", "mm[Hg]"),
    3968: ("MDC_DIM_X_JOULES", "J"),
    4032: ("MDC_DIM_X_WATT", "W"),
    4416: ("MDC_DIM_FAHR", "[degF]"),
    4722: ("MDC_DIM_MILLI_MOLE_PER_L", "mmol/L"),
    6048: ("MDC_DIM_DEGC", "Cel"),
    6560: ("MDC_DIM_X_M_PER_MIN", "m/min"),
}

#: full 32-bit MDC unit code -> UCUM
UCUM_BY_MDC_CODE: Final[dict[int, str]] = {_BASE | term: ucum for term, (_, ucum) in _TERMS.items()}

#: reference id -> UCUM; a few aliases devices use for the same unit are added
UCUM_BY_MDC_NAME: Final[dict[str, str]] = {name: ucum for name, ucum in _TERMS.values()} | {
    "MDC_DIM_M": "m",
    "MDC_DIM_INCH": "[in_i]",
    "MDC_DIM_L_PER_MIN": "L/min",
    "MDC_DIM_M_PER_MIN": "m/min",
    "MDC_DIM_G_PER_DL": "g/dL",
}


def ucum_for_mdc(code: int | None, name: str | None) -> str | None:
    """The UCUM code for an MDC unit given by code, by reference id, or both.

    The numeric code wins when both are known, because device firmware is more
    often wrong about names than about the code it puts on the wire.
    """
    if code is not None:
        found = UCUM_BY_MDC_CODE.get(code)
        if found is not None:
            return found
    if name:
        return UCUM_BY_MDC_NAME.get(name.strip().upper())
    return None


# Free-text unit spellings of lab analyzers (ASTM R-5) -> UCUM.
_TEXT_UNITS: Final[dict[str, str]] = {
    "%": "%",
    "mg/dl": "mg/dL",
    "g/dl": "g/dL",
    "g/l": "g/L",
    "mg/l": "mg/L",
    "mmol/l": "mmol/L",
    "umol/l": "umol/L",
    "µmol/l": "umol/L",
    "μmol/l": "umol/L",
    "nmol/l": "nmol/L",
    "pmol/l": "pmol/L",
    "meq/l": "meq/L",
    "u/l": "U/L",
    "iu/l": "[IU]/L",
    "ng/ml": "ng/mL",
    "pg/ml": "pg/mL",
    "ug/dl": "ug/dL",
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "kpa": "kPa",
    "bpm": "/min",
    "/min": "/min",
    "1/min": "/min",
    "°c": "Cel",
    "degc": "Cel",
    "c": "Cel",
    "cel": "Cel",
    "°f": "[degF]",
    "degf": "[degF]",
    "kg": "kg",
    "g": "g",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "sec": "s",
    "s": "s",
    "10^3/ul": "10*3/uL",
    "10*3/ul": "10*3/uL",
    "10^9/l": "10*9/L",
    "10^6/ul": "10*6/uL",
    "10^12/l": "10*12/L",
    "fl": "fL",
    "pg": "pg",
    "ratio": "{ratio}",
    "inr": "{INR}",
}


def ucum_for_text(unit: str) -> str | None:
    """Normalise a free-text unit (``mg/dl``, ``mmol/L``) to UCUM, if we know it."""
    key = unit.strip().lower()
    if not key:
        return None
    return _TEXT_UNITS.get(key)
