"""Built-in functions that depend only on their argument values.

``timeout``, ``currentInput`` and ``triggerType`` read the evaluation context and
are compiled in ``compiler.py``; ``isUndefined``/``isNull`` are here but must see
``UNDEFINED`` arguments, so the compiler never short-circuits them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from wardlink.detectors.expressions.operators import bit_and, bit_not, bit_or, bit_xor
from wardlink.detectors.expressions.values import UNDEFINED, format_decimal

_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
CONVERT_TYPES = ("String", "Boolean", "Decimal")


def is_undefined(value: Any) -> Any:
    return value is UNDEFINED


def is_null(value: Any) -> Any:
    return value is None


def _strings(fn: Callable[[str, str], bool]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if type(a) is str and type(b) is str:
            return fn(a, b)
        return UNDEFINED

    return apply


starts_with = _strings(str.startswith)
ends_with = _strings(str.endswith)
contains = _strings(lambda a, b: b in a)


def convert(target: Any, value: Any) -> Any:
    """``convert(String|Boolean|Decimal, x)``.

    Documented conversions: Boolean->String ("true"/"false"), Decimal->String,
    String->Boolean, String->Decimal (must be a valid decimal). Inferred: an
    Integer counts as a Decimal on both sides, converting a value to its own type
    returns it, String->Boolean accepts "true"/"false" in any letter case.
    Everything else is ``UNDEFINED`` (the documented "invalid" result).
    """
    if target == "String":
        kind = type(value)
        if kind is str:
            return value
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return str(value)
        if kind is float:
            return format_decimal(value)
        return UNDEFINED
    if target == "Boolean":
        if type(value) is bool:
            return value
        if type(value) is str:
            lowered = value.strip().lower()
            if lowered == "true":
                return True
            if lowered == "false":
                return False
        return UNDEFINED
    if target == "Decimal":
        kind = type(value)
        if kind is float:
            return value
        if kind is int:
            return float(value)
        if kind is str and _DECIMAL_TEXT.fullmatch(value.strip()):
            return float(value)
        return UNDEFINED
    return UNDEFINED


PURE_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "isUndefined": (1, is_undefined),
    "isNull": (1, is_null),
    "startsWith": (2, starts_with),
    "endsWith": (2, ends_with),
    "contains": (2, contains),
    "bitand": (2, bit_and),
    "bitor": (2, bit_or),
    "bitxor": (2, bit_xor),
    "bitnot": (1, bit_not),
}
"""name -> (arity, implementation) for functions of argument values only."""

UNDEFINED_AWARE = frozenset({"isUndefined", "isNull"})
