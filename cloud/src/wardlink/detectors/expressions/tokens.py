"""Tokens produced by the lexer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class TokenKind(Enum):
    NUMBER = "number"
    STRING = "string"  # quoted text without substitutions
    TEMPLATE = "template"  # single-quoted text with ${...} substitutions
    IDENT = "identifier"
    QUOTED_IDENT = "quoted identifier"  # `backtick quoted`
    INPUT = "$input"
    VARIABLE = "$variable"
    OPERATOR = "operator"
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    DOT = "."
    COMMA = ","
    END = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    position: int
    value: object = None
    """NUMBER: int or float; STRING/QUOTED_IDENT: decoded text;
    TEMPLATE: tuple of parts, each a ``str`` or a tuple of ``Token`` (a sub-expression)."""

    def describe(self) -> str:
        if self.kind is TokenKind.END:
            return "end of expression"
        return f"{self.kind.value} {self.text!r}"
