"""Errors raised while reading an expression (never while evaluating one)."""

from __future__ import annotations


class ExpressionError(ValueError):
    """An expression that cannot be tokenized, parsed or compiled.

    Carries the source and the character position so a model author sees where
    the problem is, e.g. ``$input.X.a = 3`` -> "position 11: use '==' to compare".
    """

    def __init__(self, message: str, source: str, position: int) -> None:
        self.message = message
        self.source = source
        self.position = position
        super().__init__(f"{message} (at position {position} in {source!r})")
