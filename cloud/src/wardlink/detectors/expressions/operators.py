"""Operator semantics on runtime values.

Every function returns ``UNDEFINED`` instead of raising when the operands do not
fit (a String plus an Integer, a Boolean compared with ``<``, division by zero),
because IoT Events treats such an expression as invalid, which makes the
condition false; it never aborts the detector.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from wardlink.detectors.expressions.values import UNDEFINED

BinaryFn = Callable[[Any, Any], Any]
UnaryFn = Callable[[Any], Any]

_NUMBER_TYPES = (int, float)


def _numbers(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    return (ta is int or ta is float) and (tb is int or tb is float)


def add(a: Any, b: Any) -> Any:
    """``+``: numeric addition or String concatenation (both operands the same kind)."""
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return a + b
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a + b
    return UNDEFINED


def subtract(a: Any, b: Any) -> Any:
    return a - b if _numbers(a, b) else UNDEFINED


def multiply(a: Any, b: Any) -> Any:
    return a * b if _numbers(a, b) else UNDEFINED


def divide(a: Any, b: Any) -> Any:
    """``/``: Integer by Integer gives a rounded Integer (half away from zero)."""
    if not _numbers(a, b) or b == 0:
        return UNDEFINED
    if type(a) is int and type(b) is int:
        quotient, remainder = divmod(abs(a), abs(b))
        if 2 * remainder >= abs(b):
            quotient += 1
        return quotient if (a < 0) == (b < 0) else -quotient
    return a / b


def remainder(a: Any, b: Any) -> Any:
    """``%`` (not in the IoT Events documentation): sign follows the dividend, as in Java."""
    if not _numbers(a, b) or b == 0:
        return UNDEFINED
    if type(a) is int and type(b) is int:
        result = abs(a) % abs(b)
        return -result if a < 0 else result
    return math.fmod(a, b)


def _integer_op(fn: BinaryFn) -> BinaryFn:
    def apply(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return fn(a, b)
        return UNDEFINED

    return apply


bit_or = _integer_op(operator.or_)
bit_and = _integer_op(operator.and_)
bit_xor = _integer_op(operator.xor)


def bit_not(a: Any) -> Any:
    return ~a if type(a) is int else UNDEFINED


def negate(a: Any) -> Any:
    ta = type(a)
    return -a if (ta is int or ta is float) else UNDEFINED


def logical_not(a: Any) -> Any:
    if a is True:
        return False
    if a is False:
        return True
    return UNDEFINED


def _comparison(fn: BinaryFn, *, ordering: bool) -> BinaryFn:
    def compare(a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if (ta is int or ta is float) and (tb is int or tb is float):
            return fn(a, b)
        if ta is str and tb is str:
            return fn(a, b)
        if ta is bool and tb is bool and not ordering:
            return fn(a, b)
        return UNDEFINED

    return compare


BINARY: dict[str, BinaryFn] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": remainder,
    "|": bit_or,
    "&": bit_and,
    "^": bit_xor,
    "==": _comparison(operator.eq, ordering=False),
    "!=": _comparison(operator.ne, ordering=False),
    "<": _comparison(operator.lt, ordering=True),
    "<=": _comparison(operator.le, ordering=True),
    ">": _comparison(operator.gt, ordering=True),
    ">=": _comparison(operator.ge, ordering=True),
}

UNARY: dict[str, UnaryFn] = {"-": negate, "!": logical_not, "~": bit_not}
