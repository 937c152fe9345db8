"""Syntax tree of an expression: what the parser produces and the compiler consumes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PathSegment = str | int
"""A field name or an array index in ``$input.Name.a.b[0]``."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Name:
    """A bare identifier; only meaningful as ``convert``'s type (String/Boolean/Decimal)."""

    name: str
    position: int


@dataclass(frozen=True, slots=True)
class InputRef:
    input_name: str
    path: tuple[PathSegment, ...]


@dataclass(frozen=True, slots=True)
class VariableRef:
    name: str


@dataclass(frozen=True, slots=True)
class Unary:
    operator: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    operator: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    arguments: tuple[Node, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Template:
    """``'text ${expr} text'``: literal text parts interleaved with expressions."""

    parts: tuple[str | Node, ...]


Node = Literal | Name | InputRef | VariableRef | Unary | Binary | Call | Template
