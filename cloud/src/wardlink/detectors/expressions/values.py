"""Runtime values of the IoT Events expression language.

Values are plain Python objects so that evaluation stays cheap and state stays
JSON-serializable: ``bool``, ``int`` (Integer), ``float`` (Decimal), ``str``,
``None`` (JSON null from an input), and ``list``/``dict`` when a reference points
at a JSON array or object. ``UNDEFINED`` stands for both "no such data" and "this
operation has no valid result" (wrong operand types, a failed ``convert``,
division by zero): IoT Events documents both as making the enclosing condition
false, so one sentinel carries both.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final


class _Undefined:
    """Singleton type of ``UNDEFINED``; falsy and printable for debugging."""

    _instance: _Undefined | None = None
    __slots__ = ()

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()


def is_number(value: object) -> bool:
    """True for Integer and Decimal values (``bool`` is not a number here)."""
    kind = type(value)
    return kind is int or kind is float


def is_integer(value: object) -> bool:
    return type(value) is int


def format_decimal(value: float) -> str:
    """Render a Decimal the way a person expects: 15 significant digits, keep ``.0``.

    15 digits hide binary floating-point noise (``0.1 + 0.2`` renders ``0.3``)
    while keeping every digit a sensor can report.
    """
    if math.isnan(value) or math.isinf(value):
        return str(value)
    text = format(value, ".15g")
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}E{int(exponent)}"
    if "." not in text:
        text += ".0"
    return text


def to_text(value: Any) -> str | None:
    """Text of a value inside a substitution template, or None if it has none."""
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return format_decimal(value)
    if value is None:
        return "null"
    if kind is list or kind is dict:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return None


def type_name(value: Any) -> str:
    """Name of a value's type in IoT Events terms, for error messages."""
    if value is UNDEFINED:
        return "undefined"
    kind = type(value)
    return {
        bool: "Boolean",
        int: "Integer",
        float: "Decimal",
        str: "String",
        list: "Array",
        dict: "Object",
        type(None): "null",
    }.get(kind, kind.__name__)
