"""The outcome of redacting one item: its redacted output, or why there is none.

Malformed input never raises out of the batch APIs and never passes through: it
becomes a ``RedactionResult`` with ``error`` set and no output (fail closed), so one
bad message costs one item, not the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Format = Literal["json", "hl7", "text"]
FORMATS: tuple[Format, ...] = ("json", "hl7", "text")


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """``output`` is a ``str`` for text and HL7, a JSON value for json; None on error."""

    output: object | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def success(cls, output: object) -> RedactionResult:
        return cls(output=output)

    @classmethod
    def failure(cls, reason: str) -> RedactionResult:
        return cls(error=reason)
