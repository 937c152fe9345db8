"""HL7 v2: parse the message for real, then rebuild it from the fields the policy allows.

The ``hl7`` library parses the message (and rejects what is not HL7); the output is
rebuilt segment by segment with the message's own separators:

* segments the policy does not list are dropped whole (IN1, GT1, ...);
* in listed segments, only listed fields survive; the rest are emptied, so field
  positions - and therefore every downstream parser - stay intact;
* ``OBX-5`` follows ``OBX-2``: numbers and coded values stay, text (TX, ST, FT)
  goes through the scrubber, anything else (ED, RP, ...) is dropped.

Identifying values of the dropped fields (PID-5 name, NK1-2, PID-13 phone ...) are
collected first and handed to the scrubber as known values, so the same name in an
NTE comment or an OBX text is removed too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wardlink.model.errors import RedactionError
from wardlink.phi.config import FieldRule
from wardlink.phi.fields import DROP, FieldActions

_NUMERIC_TYPES = frozenset({"NM", "SN", "NR", "NA", "MA"})
_CODED_TYPES = frozenset({"CE", "CWE", "CNE", "CF", "CD", "ID", "IS"})
_TEXT_TYPES = frozenset({"TX", "ST", "FT"})
_DATE_TYPES = frozenset({"DT", "DTM", "TS", "TM"})
_NUMBER_RE = re.compile(r"^[<>=~^+-]*\d+(?:\.\d+)?$")
_CODE_COMPONENT_RE = re.compile(r"^[A-Za-z0-9._:+/-]{0,40}$")
_SN_RE = re.compile(r"^[<>=~^+\-\d.:/]*$")
_FRAMING = "\x0b\x1c"
_VERBATIM = frozenset(
    {"keep", "code", "coded", "number", "match", "obx_value", "text", "timestamp"}
)


@dataclass(frozen=True)
class _Separators:
    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str


class Hl7Redactor:
    """Applies the policy's per-segment field rules to one HL7 v2 message."""

    def __init__(self, segments: Mapping[str, Mapping[int, str]], actions: FieldActions) -> None:
        self._rules: dict[str, dict[int, FieldRule]] = {
            segment: {number: FieldRule.parse(rule) for number, rule in fields.items()}
            for segment, fields in segments.items()
        }
        self._actions = actions

    def redact(self, message: str | bytes, known: Sequence[str] = ()) -> str:
        """The redacted message (segments joined by CR). Raises RedactionError if malformed."""
        import hl7  # only a site with HL7 documents to redact pays for the parser

        text = _normalize(message)
        seps = _separators(text)
        try:
            parsed = hl7.parse(text)
        except Exception as exc:  # hl7 raises several types for bad input
            raise RedactionError(f"not a parseable HL7 v2 message: {type(exc).__name__}") from exc
        segments = [[str(part) for part in segment] for segment in parsed]
        collected = list(known)
        for fields in segments:
            self._collect_known(fields, seps, collected)
        out = [self._segment(fields, seps, collected) for fields in segments]
        return "\r".join(segment for segment in out if segment)

    # -- segments ----------------------------------------------------------------

    def _segment(self, fields: list[str], seps: _Separators, known: list[str]) -> str | None:
        segment_id = fields[0]
        rules = self._rules.get(segment_id)
        if rules is None:
            return None
        first = 3 if segment_id == "MSH" else 1
        values: list[str] = []
        for number in range(first, len(fields)):
            rule = rules.get(number)
            raw = fields[number]
            values.append(
                "" if rule is None or not raw else self._field(rule, raw, fields, seps, known)
            )
        while values and not values[-1]:
            values.pop()
        head = f"MSH{seps.field}{fields[2]}" if segment_id == "MSH" else segment_id
        return seps.field.join([head, *values])

    def _field(
        self, rule: FieldRule, raw: str, fields: list[str], seps: _Separators, known: list[str]
    ) -> str:
        kind = rule.kind
        if kind == "keep":
            return raw
        if kind == "text":
            return _safe(self._actions.text(raw, known), seps, allow_components=True)
        if kind == "code":
            return _safe(self._actions.code(raw, known), seps, allow_components=True)
        if kind == "coded":
            return self._coded(raw, seps, known)
        if kind == "obx_value":
            return self._obx_value(raw, fields, seps, known)
        if kind == "address":
            return self._address(raw, seps)
        first = _first_component(raw, seps)
        if kind == "match":
            return raw if rule.pattern is not None and rule.pattern.fullmatch(raw) else ""
        return _safe(self._actions.apply(rule, first, known), seps)

    def _obx_value(self, raw: str, fields: list[str], seps: _Separators, known: list[str]) -> str:
        value_type = _first_component(fields[2], seps).upper() if len(fields) > 2 else ""
        if value_type in _NUMERIC_TYPES:
            parts = raw.split(seps.repetition)
            if all(
                _NUMBER_RE.match(p)
                or (value_type == "SN" and _SN_RE.match(p.replace(seps.component, "")))
                for p in parts
            ):
                return raw
            return _safe(self._actions.text(raw, known), seps, allow_components=True)
        if value_type in _CODED_TYPES:
            return self._coded(raw, seps, known)
        if value_type in _TEXT_TYPES:
            return _safe(self._actions.text(raw, known), seps, allow_components=True)
        if value_type in _DATE_TYPES:
            return _safe(
                self._actions.apply(
                    FieldRule(kind="timestamp"), _first_component(raw, seps), known
                ),
                seps,
            )
        return ""  # ED, RP, unknown: never passed

    def _coded(self, raw: str, seps: _Separators, known: list[str]) -> str:
        """CE/CWE: code and coding-system components kept if code-shaped, texts scrubbed."""
        out: list[str] = []
        for repetition in raw.split(seps.repetition)[:1]:
            components = repetition.split(seps.component)
            for index, component in enumerate(components):
                if index in (1, 4, 8) or not _CODE_COMPONENT_RE.match(component):
                    component = _safe(self._actions.code(component, known), seps)
                out.append(component)
        while out and not out[-1]:
            out.pop()
        return seps.component.join(out)

    def _address(self, raw: str, seps: _Separators) -> str:
        """XAD: keep state (4), ZIP -> ZIP3 (5) and country (6); empty the rest."""
        components = raw.split(seps.repetition)[0].split(seps.component)
        state = components[3] if len(components) > 3 else ""
        postal = components[4] if len(components) > 4 else ""
        country = components[5] if len(components) > 5 else ""
        zip_value = self._actions.apply(FieldRule(kind="zip"), postal, ()) if postal else DROP
        kept = [
            "", "", "",
            state if re.fullmatch(r"[A-Za-z][A-Za-z .]{0,24}", state) else "",
            zip_value if isinstance(zip_value, str) else "",
            country if re.fullmatch(r"[A-Za-z]{2,3}", country) else "",
        ]  # fmt: skip
        while kept and not kept[-1]:
            kept.pop()
        return seps.component.join(kept)

    def _collect_known(self, fields: list[str], seps: _Separators, known: list[str]) -> None:
        rules = self._rules.get(fields[0], {})
        first = 3 if fields[0] == "MSH" else 1
        for number in range(first, len(fields)):
            rule = rules.get(number)
            if rule is not None and rule.kind in _VERBATIM:
                continue
            for repetition in fields[number].split(seps.repetition):
                parts = [p for p in re.split(_split_pattern(seps), repetition) if len(p) >= 2]
                known.extend(parts)
                if len(parts) > 1 and fields[0] in {"PID", "NK1", "PV1"}:
                    known.append(" ".join(parts[:2]))


def _normalize(message: str | bytes) -> str:
    if isinstance(message, bytes):
        try:
            decoded = message.decode("utf-8")
        except UnicodeDecodeError:
            decoded = message.decode("latin-1")
    else:
        decoded = message
    text = decoded.strip(_FRAMING + "\r\n\t ")
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    if not text.startswith("MSH") or len(text) < 8:
        raise RedactionError("an HL7 v2 message must start with an MSH segment")
    return text


def _separators(text: str) -> _Separators:
    field = text[3]
    encoding = text[4:9].split(field)[0]
    if field.isalnum() or len(encoding) < 4 or len(set(encoding + field)) < 5:
        raise RedactionError("MSH-1/MSH-2 do not define HL7 separators")
    return _Separators(field, encoding[0], encoding[1], encoding[2], encoding[3])


def _split_pattern(seps: _Separators) -> str:
    return "[" + re.escape(seps.component + seps.subcomponent + seps.repetition) + "]"


def _first_component(raw: str, seps: _Separators) -> str:
    return raw.split(seps.repetition)[0].split(seps.component)[0].split(seps.subcomponent)[0]


def _safe(value: object, seps: _Separators, *, allow_components: bool = False) -> str:
    """Render a rule result as field text that cannot break the message structure."""
    if value is DROP or value is None:
        return ""
    text = str(value)
    forbidden = {seps.field, seps.repetition, "\r", "\n"}
    if not allow_components:
        forbidden |= {seps.component, seps.subcomponent}
    return "" if any(ch in text for ch in forbidden) else text
