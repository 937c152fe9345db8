"""Field rules applied to single values, shared by the JSON and HL7 redactors.

Each rule returns the outbound value or ``DROP``. Anything a rule cannot read is
dropped, never passed through: a number field holding a name, a date field holding
"unknown", a code field holding a paragraph.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Final, Protocol

from wardlink.model.errors import RedactionError
from wardlink.phi.config import FieldRule, PolicyConfig
from wardlink.phi.generalize import age, generalize_date, generalize_timestamp, zip3
from wardlink.phi.pseudonym import Pseudonymizer

log = logging.getLogger(__name__)


class _Drop:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()

_NUMERIC_RE = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")
MAX_CODE_CHARS = 128


class Scrubs(Protocol):
    def scrub(self, text: str, known: Sequence[str] = ()) -> str: ...


class FieldActions:
    """The scalar half of the policy: what each rule does to one value."""

    def __init__(
        self,
        config: PolicyConfig,
        scrubber: Scrubs,
        pseudonyms: Pseudonymizer,
        today: Callable[[], date],
    ) -> None:
        self.config = config
        self.scrubber = scrubber
        self.pseudonyms = pseudonyms
        self.today = today

    def apply(self, rule: FieldRule, value: object, known: Sequence[str]) -> object:
        """Apply ``rule`` to a JSON scalar (or HL7 component string)."""
        kind = rule.kind
        if value is None:
            return DROP
        if kind == "keep":
            return value if isinstance(value, (str, int, float, bool)) else DROP
        if kind == "number":
            return self.number(value)
        if kind in ("code", "coded"):
            return self.code(value, known)
        if kind == "text":
            return self.text(value, known)
        if kind in ("date", "birth_date"):
            result = generalize_date(
                value, self.config.dates.fields, birth=kind == "birth_date", today=self.today()
            )
            return DROP if result is None else result
        if kind == "timestamp":
            stamp = generalize_timestamp(value, self.config.dates.timestamps)
            return DROP if stamp is None else stamp
        if kind == "age":
            years = age(value)
            return DROP if years is None else years
        if kind == "zip":
            if self.config.zip == "drop":
                return DROP
            prefix = zip3(value)
            return DROP if prefix is None else prefix
        if kind == "match":
            assert rule.pattern is not None
            text = str(value) if isinstance(value, (str, int, float)) else None
            return value if text is not None and rule.pattern.fullmatch(text) else DROP
        if kind == "pseudonym":
            return self.pseudonym(rule.argument, value)
        return DROP  # drop, and rules that need a structure (address, obx_value)

    def number(self, value: object) -> object:
        if isinstance(value, bool):
            return DROP
        if isinstance(value, (int, float)):
            return value if math.isfinite(value) else DROP
        if isinstance(value, str) and _NUMERIC_RE.match(value):
            return value.strip()
        return DROP

    def code(self, value: object, known: Sequence[str]) -> object:
        if isinstance(value, bool):
            return DROP
        if isinstance(value, (int, float)):
            return self.number(value)
        if not isinstance(value, str) or len(value) > MAX_CODE_CHARS or "\n" in value:
            return DROP
        return self.scrubber.scrub(value, known)

    def text(self, value: object, known: Sequence[str]) -> object:
        if not isinstance(value, str):
            return DROP
        if not value:
            return value
        cleaned = self.scrubber.scrub(value, known)
        return cleaned

    def pseudonym(self, kind: str, value: object) -> object:
        try:
            token = self.pseudonyms.pseudonym(kind, value)
        except RedactionError as exc:
            log.error("pseudonym for %s unavailable, identifier dropped: %s", kind, exc)
            return DROP
        return DROP if token is None else token
