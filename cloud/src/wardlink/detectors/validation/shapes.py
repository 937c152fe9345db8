"""Validate request parameters against a botocore service description (service-2.json).

Walks the operation's input shape the way botocore's own parameter validation
does: required members, unknown members, types, enums, string and list lengths,
numeric ranges, and ``pattern`` where Python's ``re`` can compile it (Smithy
patterns are ECMAScript regexes, searched, not implicitly anchored).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_CLASS_ESCAPE_THEN_HYPHEN = re.compile(r"(\\[wdsWDS])-(?=[^\]])")


@lru_cache(maxsize=256)
def _compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile an ECMAScript pattern with Python's ``re``; None if it cannot be translated.

    ECMAScript reads ``[\\w- ]`` as "word character, hyphen or space"; Python rejects
    the range, so a hyphen right after a class escape is escaped first.
    """
    for candidate in (pattern, _CLASS_ESCAPE_THEN_HYPHEN.sub(r"\1\\-", pattern)):
        try:
            return re.compile(candidate)
        except re.error:
            continue
    return None


class ShapeValidator:
    def __init__(self, service: Mapping[str, Any]) -> None:
        self._shapes: Mapping[str, Any] = service["shapes"]
        self._operations: Mapping[str, Any] = service["operations"]

    def input_shape(self, operation: str) -> str:
        try:
            return str(self._operations[operation]["input"]["shape"])
        except KeyError as exc:
            raise KeyError(f"operation {operation!r} is not in this service description") from exc

    def validate_input(self, operation: str, params: Any) -> list[ShapeProblem]:
        """Problems with ``params`` as the request of ``operation`` (empty list: valid)."""
        problems: list[ShapeProblem] = []
        self._check(self.input_shape(operation), params, "$", problems)
        return problems

    def _check(self, shape_name: str, value: Any, path: str, out: list[ShapeProblem]) -> None:
        shape = self._shapes[shape_name]
        kind = shape["type"]
        checker = getattr(self, f"_check_{kind}", None)
        if checker is None:
            return
        checker(shape, value, path, out)

    def _check_structure(
        self, shape: Mapping[str, Any], value: Any, path: str, out: list[ShapeProblem]
    ) -> None:
        if not isinstance(value, Mapping):
            out.append(ShapeProblem(path, f"expected an object, got {_kind(value)}"))
            return
        members: Mapping[str, Any] = shape.get("members", {})
        for required in shape.get("required", []):
            if value.get(required) is None:
                out.append(ShapeProblem(path, f"missing required member {required!r}"))
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                known = ", ".join(sorted(members)) or "none"
                out.append(ShapeProblem(path, f"unknown member {name!r} (known: {known})"))
                continue
            self._check(member["shape"], item, f"{path}.{name}", out)

    def _check_list(
        self, shape: Mapping[str, Any], value: Any, path: str, out: list[ShapeProblem]
    ) -> None:
        if not isinstance(value, list):
            out.append(ShapeProblem(path, f"expected a list, got {_kind(value)}"))
            return
        _check_length(shape, len(value), path, out, "items")
        member = shape["member"]["shape"]
        for index, item in enumerate(value):
            self._check(member, item, f"{path}[{index}]", out)

    def _check_map(
        self, shape: Mapping[str, Any], value: Any, path: str, out: list[ShapeProblem]
    ) -> None:
        if not isinstance(value, Mapping):
            out.append(ShapeProblem(path, f"expected an object (map), got {_kind(value)}"))
            return
        _check_length(shape, len(value), path, out, "entries")
        for key, item in value.items():
            self._check(shape["key"]["shape"], key, f"{path}<key {key!r}>", out)
            self._check(shape["value"]["shape"], item, f"{path}.{key}", out)

    def _check_string(
        self, shape: Mapping[str, Any], value: Any, path: str, out: list[ShapeProblem]
    ) -> None:
        if not isinstance(value, str):
            out.append(ShapeProblem(path, f"expected a string, got {_kind(value)}"))
            return
        enum = shape.get("enum")
        if enum is not None and value not in enum:
            out.append(ShapeProblem(path, f"{value!r} is not one of {enum}"))
        _check_length(shape, len(value), path, out, "characters")
        pattern = shape.get("pattern")
        if pattern:
            compiled = _compiled_pattern(pattern)
            if compiled is not None and compiled.search(value) is None:
                out.append(ShapeProblem(path, f"{value!r} does not match pattern {pattern!r}"))

    def _check_integer(
        self, shape: Mapping[str, Any], value: Any, path: str, out: list[ShapeProblem]
    ) -> None:
        if type(value) is not int:
            out.append(ShapeProblem(path, f"expected an integer, got {_kind(value)}"))
            return
        _check_range(shape, value, path, out)

    _check_long = _check_integer

    def _check_double(
        self, shape: Mapping[str, Any], value: Any, path: str, out: list[ShapeProblem]
    ) -> None:
        if type(value) not in (int, float):
            out.append(ShapeProblem(path, f"expected a number, got {_kind(value)}"))
            return
        _check_range(shape, value, path, out)

    _check_float = _check_double

    def _check_boolean(
        self, shape: Mapping[str, Any], value: Any, path: str, out: list[ShapeProblem]
    ) -> None:
        if type(value) is not bool:
            out.append(ShapeProblem(path, f"expected a boolean, got {_kind(value)}"))


def _check_length(
    shape: Mapping[str, Any], length: int, path: str, out: list[ShapeProblem], unit: str
) -> None:
    low, high = shape.get("min"), shape.get("max")
    if low is not None and length < low:
        out.append(ShapeProblem(path, f"has {length} {unit}; at least {low} required"))
    if high is not None and length > high:
        out.append(ShapeProblem(path, f"has {length} {unit}; at most {high} allowed"))


def _check_range(
    shape: Mapping[str, Any], value: float, path: str, out: list[ShapeProblem]
) -> None:
    low, high = shape.get("min"), shape.get("max")
    if low is not None and value < low:
        out.append(ShapeProblem(path, f"{value} is below the minimum {low}"))
    if high is not None and value > high:
        out.append(ShapeProblem(path, f"{value} is above the maximum {high}"))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return type(value).__name__
