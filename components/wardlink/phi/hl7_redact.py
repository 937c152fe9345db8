"""HL7 v2: rebuild the message from the fields the policy allows, each bounded by its data type.

The policy lists, per segment, the fields that may leave the gateway and the rule
each follows; everything else is emptied (unlisted fields) or dropped whole
(unlisted segments). On top of that allow-list, every field is known by its HL7
data type (``hl7_types``, from the standard's definitions for v2.3-2.8), and the
type bounds what the policy's rule may do:

* a person's name (XPN, XCN, PN, CN, XON ...) never passes, whatever the rule;
* an address (XAD) keeps at most state, ZIP3 and country; a telephone or e-mail
  (XTN) never passes; an identifier (CX, EI, PL, DLN ...) passes only as the
  policy's pseudonym;
* a date in a patient or visit segment keeps only its year;
* free text (ST, TX, FT) and the text parts of coded values (CE, CWE) go through
  the scrubber, never as they came; so do fields of Z-segments and of segments the
  standard does not define, if a site policy lists them;
* ``OBX-5`` follows ``OBX-2``: numbers and codes stay, text is scrubbed, names and
  identifiers go, anything else (ED, RP ...) is dropped.

Before any field is written, the identifying values of the whole message - every
name, address, telephone and identifier field of every segment, and every value of
Z- and unknown segments - are harvested and handed to the scrubber as known values,
so the observer named in OBX-16 is also removed from an NTE comment, even when the
name is in no lexicon. The values that occur in no text the scrubber will see are
set aside once per message; a field no remaining value touches reuses the result
the same field had in an earlier message (codes, units and statuses repeat), so the
scrubber runs on what is new: the comments, and values never seen before.

The message is split on its own separators (MSH-1/MSH-2), escape sequences are
decoded before text is scrubbed and re-encoded after, and anything malformed raises
``RedactionError``: nothing of a message that cannot be read leaves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from wardlink.model.errors import RedactionError
from wardlink.phi.config import FieldRule
from wardlink.phi.fields import DROP, FieldActions
from wardlink.phi.generalize import AGE_CAP, AGE_OVER_CAP
from wardlink.phi.hl7_types import (
    ADDRESS_COMPONENTS,
    BIRTH_DATE_FIELDS,
    NAME_COMPONENTS,
    PATIENT_CONTEXT,
    FieldTypes,
    TypeClass,
    load_field_types,
    type_class,
)
from wardlink.phi.lexicon import fold
from wardlink.phi.patterns import SPELLED_AGE_RE, WORD_RE

_NUMERIC_TYPES = frozenset({"NM", "SN", "NR", "NA", "MA"})
_CODED_VALUE_TYPES = frozenset({"CE", "CWE", "CNE", "CF", "CD", "ID", "IS"})
_TIMESTAMP_VALUE_TYPES = frozenset({"DT", "DTM", "TS", "TM"})
_NUMBER_RE = re.compile(r"^[<>=~^+-]*\d+(?:\.\d+)?$")
_CODE_COMPONENT_RE = re.compile(r"^[A-Za-z0-9._:+/-]{0,40}$")
_SN_RE = re.compile(r"^[<>=~^+\-\d.:/]*$")
_SEGMENT_ID_RE = re.compile(r"[A-Z][A-Z0-9]{2}")
_NON_DIGIT_RE = re.compile(r"\D+")
_DIGIT_RE = re.compile(r"\d")
_HEX_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_FRAMING = "\x0b\x1c"
_CACHED_CHARS = 64
_CACHE_ENTRIES = 1024  # per cache; codes, units and statuses repeat, names rarely
#: Rules whose result depends only on the field (and, for OBX-5, OBX-2) once no
#: known value touches it: cached per field across messages.
_CACHED_KINDS = frozenset({"code", "coded", "text", "obx_value"})
#: Rules that hand (part of) a field to the scrubber, with the message's known values.
_SCRUBBING = _CACHED_KINDS
#: CE/CWE components (0-based) that hold text rather than codes: text, alternate
#: text, original text, second alternate text (v2.7).
_CODED_TEXT_COMPONENTS = frozenset({1, 4, 8, 10})

_TEXT = FieldRule(kind="text")
_CODED = FieldRule(kind="coded")
_ADDRESS = FieldRule(kind="address")
_DATE = FieldRule(kind="date")
_BIRTH_DATE = FieldRule(kind="birth_date")
_TIMESTAMP = FieldRule(kind="timestamp")
#: Rules that let (part of) a field's own content out; other kinds replace it.
_PASSING = frozenset({"keep", "code", "coded", "number", "match", "obx_value", "text"})
_HARVESTED = frozenset({TypeClass.NAME, TypeClass.TELECOM, TypeClass.IDENTIFIER, TypeClass.ADDRESS})


@dataclass(frozen=True, slots=True)
class _Separators:
    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str
    encoding: str  # MSH-2 as the message wrote it (may carry v2.7's truncation char)
    specials: frozenset[str]  # what free text must escape


def bounded_rule(
    rule: FieldRule, cls: TypeClass, patient_context: bool, *, birth: bool = False
) -> FieldRule | None:
    """The rule a field follows once its data type bounds the policy's rule; None: removed.

    ``birth``: the field is a date of birth (``BIRTH_DATE_FIELDS``), whose year goes too
    when it implies an age over 89, whatever the policy calls it."""
    kind = rule.kind
    if kind == "drop" or cls in (TypeClass.NAME, TypeClass.TELECOM, TypeClass.ENCAPSULATED):
        return None
    if birth and cls is TypeClass.DATE:
        return _BIRTH_DATE
    if cls is TypeClass.IDENTIFIER:
        return rule if kind == "pseudonym" else None
    if cls is TypeClass.ADDRESS:
        return _ADDRESS
    if cls is TypeClass.DATE:
        if patient_context:
            return rule if kind in ("date", "birth_date") else _DATE
        return rule if kind in ("date", "birth_date", "timestamp") else _TIMESTAMP
    if cls is TypeClass.UNKNOWN:  # Z-segments, unknown segments: never raw
        return _TEXT if kind in ("keep", "code", "coded", "match") else rule
    if cls is TypeClass.TEXT and kind == "keep":
        return _TEXT
    if cls is TypeClass.CODED and kind == "keep":
        return _CODED
    return rule


#: How a known value can occur in a text, by the way the scrubber uses known values
#: (``scrubber._prepare_known``; the contract is pinned in ``tests/phi/test_hl7_fastpath.py``):
#: a value with a digit is used only as a whole phrase or as its digit string, so it
#: can touch a text only if its digits are a run of the text's digits; a value without
#: digits is also used by its words, so the test is on words. (kind, digits, phrase, words)
_Probe = tuple[int, str, str, tuple[str, ...]]
_NUMBERED, _NAMED, _OTHER = 0, 1, 2


def _probe(value: str) -> _Probe | None:
    """How ``value`` (stripped) is tested against texts; None: it cannot touch any."""
    if len(value) < 2:
        return None  # the scrubber ignores it
    if value.isascii() and value.replace(" ", "").isalpha():  # "Kavin", "Ann Lee": most
        return (_NAMED, "", "", tuple(dict.fromkeys(value.lower().split())))
    if _DIGIT_RE.search(value):
        digits = _NON_DIGIT_RE.sub("", value)
        phrase = value.lower() if len(value) >= 3 and not value.isdigit() else ""
        if not phrase and len(digits) < 4:
            return None
        return (_NUMBERED, digits, phrase, ())
    words = tuple(dict.fromkeys(WORD_RE.findall(fold(value))))
    if words:
        return (_NAMED, "", "", words)
    return (_OTHER, "", value.lower(), ()) if len(value) >= 3 else None


class _Known:
    """The message's known identifying values, and which of them a given text can contain.

    The scrubber prepares its known values on every call; handing each field only
    the values that could occur in it (a superset of those that do) keeps that cost
    off the hot path, and lets a field that no known value touches use the
    redactor's caches across messages.
    """

    __slots__ = ("_entries", "_keys", "_named", "_numbered", "_other")

    def __init__(self, entries: Sequence[tuple[str, _Probe]]) -> None:
        numbered: list[tuple[str, str, str]] = []
        named: list[tuple[str, tuple[str, ...]]] = []
        other: list[tuple[str, str]] = []
        keys: dict[str, None] = {}
        for value, (kind, digits, phrase, words) in entries:
            if kind == _NUMBERED:
                numbered.append((value, digits, phrase))
            elif kind == _NAMED:
                named.append((value, words))
                # a word inside a text holds its first three letters there too
                keys.update(dict.fromkeys(word[:3] for word in words))
            else:
                other.append((value, phrase))
        self._entries = entries
        self._numbered = numbered
        self._named = named
        self._other = other
        self._keys = tuple(keys)

    @classmethod
    def touching(cls, values: Iterable[str], text: str, probes: dict[str, _Probe | None]) -> _Known:
        """The values that may occur in ``text`` (see ``narrowed``), each probed once
        (``probes``: a memo across messages, for values that repeat)."""
        folded = fold(text)
        digits = _digits(text)
        lowered: str | None = None
        entries: list[tuple[str, _Probe]] = []
        seen: set[str] = set()
        for raw in values:
            value = raw.strip()
            if value in seen:
                continue
            seen.add(value)
            if value.isascii() and value.replace(" ", "").isalpha():
                # most values are names: their words are the probe (see ``_probe``),
                # and a name of this message is rarely worth a place in the memo
                parts = value.lower().split()
                if len(value) >= 2 and any(part in folded for part in parts):
                    entries.append((value, (_NAMED, "", "", tuple(dict.fromkeys(parts)))))
                continue
            if value in probes:
                probe = probes[value]
            else:
                probe = _probe(value)
                if len(value) <= _CACHED_CHARS:  # codes and authorities repeat, names rarely
                    if len(probes) >= _CACHE_ENTRIES:
                        probes.clear()
                    probes[value] = probe
            if probe is None:
                continue
            kind, value_digits, phrase, words = probe
            if kind == _NAMED:
                hit = any(word in folded for word in words)
            elif kind == _NUMBERED:
                hit = value_digits in digits
                if hit and len(value_digits) < 4:
                    if lowered is None:
                        lowered = text.lower()
                    hit = phrase in lowered
            else:
                if lowered is None:
                    lowered = text.lower()
                hit = phrase in lowered
            if hit:
                entries.append((value, probe))
        return cls(entries) if entries else _NO_KNOWN

    def __bool__(self) -> bool:
        return bool(self._entries)

    def narrowed(self, text: str) -> _Known:
        """The values that may occur in ``text``: for any piece of it set off by spaces
        (or its ends), they include every value that may occur in that piece."""
        hits = self.relevant(text) if text else []
        if not hits:
            return _NO_KNOWN
        if len(hits) == len(self._entries):
            return self
        kept = set(hits)
        return _Known([entry for entry in self._entries if entry[0] in kept])

    def relevant(
        self, text: str, digits: str | None = None, folded: str | None = None
    ) -> list[str]:
        """The known values that may occur in ``text`` (a superset of those that do).

        ``digits`` and ``folded`` (the text's digits and ``fold(text)``) may be given
        when the caller has them already.
        """
        if not self._entries:
            return []
        hits: set[str] = set()
        if self._numbered:
            if digits is None:
                digits = _digits(text)
            if digits:
                lowered = None
                for value, value_digits, phrase in self._numbered:
                    if value_digits in digits:
                        if len(value_digits) >= 4:
                            hits.add(value)
                            continue
                        if lowered is None:
                            lowered = text.lower()
                        if phrase in lowered:
                            hits.add(value)
        if self._named:
            if folded is None:
                folded = fold(text)
            if any(key in folded for key in self._keys):
                hits.update(
                    value for value, words in self._named if any(w in folded for w in words)
                )
        if self._other:
            lowered = text.lower()
            hits.update(value for value, phrase in self._other if phrase in lowered)
        if not hits:
            return []
        return [value for value, _probe in self._entries if value in hits]


_NO_KNOWN = _Known([])


class _Context:
    """Per-message state: separators, known values and a memo of scrubbed texts."""

    __slots__ = ("key", "known", "memo", "seps")

    def __init__(self, seps: _Separators, known: _Known) -> None:
        self.seps = seps
        self.key = seps.field + seps.encoding  # what a cached field's result depends on
        self.known = known
        self.memo: dict[tuple[str, str], object] = {}


class Hl7Redactor:
    """Applies the policy's per-segment field rules, bounded by data types, to one message."""

    def __init__(
        self,
        segments: Mapping[str, Mapping[int, str]],
        actions: FieldActions,
        types: FieldTypes | None = None,
    ) -> None:
        self._policy = {
            segment: {number: FieldRule.parse(rule) for number, rule in fields.items()}
            for segment, fields in segments.items()
        }
        self._actions = actions
        self._types_given = types
        self._plans: dict[str, tuple[tuple[int, FieldRule | None], ...]] | None = None
        self._harvest_plans: dict[str, tuple[tuple[int, TypeClass, str], ...]] = {}
        self._cache: dict[tuple[str, str], object] = {}
        self._probes: dict[str, _Probe | None] = {}
        self._scrubbing: dict[str, tuple[int, ...]] | None = None
        #: (rule kind, raw field, separators, OBX-2) -> (result, the field's text as
        #: the known-value test reads it, its digits): codes, units and statuses repeat
        #: in every message, and a result no known value touched holds for the next.
        self._fields: dict[tuple[str, str, str, str], tuple[str, str, str]] = {}

    # -- set-up (on first message: the table is read only where HL7 is redacted) ----

    @property
    def _types(self) -> FieldTypes:
        if self._types_given is None:
            self._types_given = load_field_types()
        return self._types_given

    def _field_plans(self) -> dict[str, tuple[tuple[int, FieldRule | None], ...]]:
        if self._plans is None:
            types = self._types
            self._plans = {
                segment: tuple(
                    (
                        number,
                        bounded_rule(
                            rule,
                            types.field_class(segment, number),
                            segment in PATIENT_CONTEXT,
                            birth=(segment, number) in BIRTH_DATE_FIELDS,
                        ),
                    )
                    for number, rule in sorted(rules.items())
                )
                for segment, rules in self._policy.items()
            }
        return self._plans

    def _harvest_plan(self, segment: str) -> tuple[tuple[int, TypeClass, str], ...] | None:
        """Fields of ``segment`` whose values are harvested; None: every field (unknown segment)."""
        plan = self._harvest_plans.get(segment)
        if plan is not None:
            return plan
        types = self._types
        if not types.known_segment(segment):
            return None  # not cached: a sender could invent any number of segment ids
        rules = {number: rule for number, rule in self._field_plans().get(segment, ()) if rule}
        found: list[tuple[int, TypeClass, str]] = []
        for number in range(1, types.field_count(segment) + 1):
            cls = types.field_class(segment, number)
            rule = rules.get(number)
            if rule is not None and rule.kind == "pseudonym":
                cls = TypeClass.IDENTIFIER  # what the policy calls an identifier is one
            elif cls not in _HARVESTED or (rule is not None and rule.kind in _PASSING):
                continue
            found.append((number, cls, types.data_type(segment, number)))
        plan = tuple(found)
        self._harvest_plans[segment] = plan
        return plan

    def _passing(self, segment: str) -> frozenset[int]:
        return frozenset(
            number
            for number, rule in self._field_plans().get(segment, ())
            if rule is not None and rule.kind in _PASSING
        )

    # -- the message ---------------------------------------------------------------

    def redact(self, message: str | bytes, known: Sequence[str] = ()) -> str:
        """The redacted message (segments joined by CR). Raises RedactionError if malformed."""
        text = _normalize(message)
        seps = _separators(text)
        segments = _split(text, seps)
        plans = self._field_plans()
        harvested: dict[str, None] = dict.fromkeys(known)  # an ordered set
        seen: set[tuple[TypeClass, str, str]] = set()
        for fields in segments:
            self._harvest(fields, seps, harvested, seen)
        # Most values harvested from name and identifier fields occur in no text the
        # scrubber sees: dropping them once per message, then per segment, spares most
        # fields the test (a value that touches a field touches its segment's text and
        # the message's).
        texts = self._scrubbed_texts(segments, seps)
        known_values = _Known.touching(harvested, " ".join(filter(None, texts)), self._probes)
        context = _Context(seps, known_values)
        out: list[str] = []
        for index, fields in enumerate(segments):
            plan = plans.get(fields[0])
            if plan is not None:
                if known_values:
                    context.known = known_values.narrowed(texts[index])
                out.append(self._segment(fields, plan, context))
        return "\r".join(out)

    def _scrubbed_texts(self, segments: list[list[str]], seps: _Separators) -> list[str]:
        """Per segment, every text of it the scrubber may be given, each set off by
        spaces: the raw fields whose rule scrubs, the same with separators as spaces,
        and where a field holds escapes, its decoded repetitions and components."""
        scrubbing = self._scrubbing_fields()
        runs = _separator_runs(seps.component + seps.subcomponent + seps.repetition)
        texts: list[str] = []
        for fields in segments:
            numbers = scrubbing.get(fields[0])
            count = len(fields)
            raws = [fields[n] for n in numbers if n < count and fields[n]] if numbers else []
            if not raws:
                texts.append("")
                continue
            joined = " ".join(raws)
            parts = [joined, runs.sub(" ", joined)]
            if seps.escape in joined:
                for raw in raws:
                    for repetition in raw.split(seps.repetition):
                        parts.append(_plain(repetition, seps))
                        parts.extend(
                            _plain(component, seps)
                            for component in repetition.split(seps.component)
                        )
            texts.append(" ".join(parts))
        return texts

    def _scrubbing_fields(self) -> dict[str, tuple[int, ...]]:
        """Segment -> the fields whose rule hands (part of) them to the scrubber."""
        if self._scrubbing is None:
            self._scrubbing = {
                segment: tuple(
                    number for number, rule in plan if rule is not None and rule.kind in _SCRUBBING
                )
                for segment, plan in self._field_plans().items()
            }
        return self._scrubbing

    def _segment(
        self,
        fields: list[str],
        plan: tuple[tuple[int, FieldRule | None], ...],
        context: _Context,
    ) -> str:
        segment_id = fields[0]
        count = len(fields)
        first = 3 if segment_id == "MSH" else 1
        body: list[str] = []
        cache = self._fields
        known = context.known
        for number, rule in plan:  # sorted by number
            if number >= count:
                break
            if rule is None or number < first:
                continue
            raw = fields[number]
            if not raw:
                continue
            kind = rule.kind
            value = None
            if kind in _CACHED_KINDS:  # the hot path: a code, unit or status seen before
                entry = cache.get(
                    (kind, raw, context.key, fields[2] if kind == "obx_value" else "")
                )
                if entry is not None and not (
                    known and known.relevant(entry[1], entry[2], entry[1])
                ):
                    value = entry[0]
            if value is None:
                value = self._field(rule, raw, fields, context)
            if value:
                if len(body) < number - first:
                    body.extend([""] * (number - first - len(body)))
                body.append(value)
        seps = context.seps
        head = f"MSH{seps.field}{seps.encoding}" if segment_id == "MSH" else segment_id
        return seps.field.join([head, *body])

    # -- one field ------------------------------------------------------------------

    def _field(self, rule: FieldRule, raw: str, fields: list[str], context: _Context) -> str:
        kind = rule.kind
        if kind not in _CACHED_KINDS or len(raw) > _CACHED_CHARS:
            return self._field_now(rule, raw, fields, context)
        seps = context.seps
        if seps.escape in raw or not raw.isascii():
            return self._field_now(rule, raw, fields, context)
        # OBX-5's result depends on OBX-2, and for an age on OBX-3 and OBX-6 (OBX-2 is
        # there, since OBX-5 is; the others may not be)
        typed_by = "\x1f".join(fields[i] if i < len(fields) else "" for i in (2, 3, 6))
        key = (kind, raw, context.key, typed_by if kind == "obx_value" else "")
        entry = self._fields.get(key)
        if entry is not None:
            value, probe, digits = entry
            if context.known and context.known.relevant(probe, digits, probe):
                return self._field_now(rule, raw, fields, context)
            return value
        # Every text the rule scrubs is a piece of the raw field or of its pieces joined
        # by single spaces, so a known value that touches none of ``probe`` touches no
        # piece, and the result (computed without known values) holds in any message.
        runs = _separator_runs(seps.component + seps.subcomponent + seps.repetition)
        probe = f"{raw} {runs.sub(' ', raw)}".lower()
        digits = _digits(probe)
        value = self._field_now(rule, raw, fields, context)
        if not context.known.relevant(probe, digits, probe):
            if len(self._fields) >= _CACHE_ENTRIES:
                self._fields.clear()
            self._fields[key] = (value, probe, digits)
        return value

    def _field_now(self, rule: FieldRule, raw: str, fields: list[str], context: _Context) -> str:
        kind = rule.kind
        seps = context.seps
        if kind == "timestamp":  # OBX-14 of every observation of a message, mostly alike
            key = ("@timestamp", raw)
            stamp = context.memo.get(key)
            if stamp is None:
                first = _unescape(_first_component(raw, seps), seps)
                stamp = context.memo[key] = _safe(self._actions.apply(rule, first, ()), seps)
            return stamp  # type: ignore[return-value]
        if kind == "keep":
            return raw
        if kind == "text":
            return self._text(raw, context)
        if kind == "code":
            return self._code(raw, context)
        if kind == "coded":
            return self._coded(raw, context)
        if kind == "obx_value":
            return self._obx_value(raw, fields, context)
        if kind == "address":
            return self._address(raw, seps)
        if kind == "match":
            return raw if rule.pattern is not None and rule.pattern.fullmatch(raw) else ""
        first = _unescape(_first_component(raw, seps), seps)
        return _safe(self._actions.apply(rule, first, ()), seps)

    def _scrubbed(self, text: str, context: _Context, action: Callable[..., object]) -> object:
        """``action`` (the field actions' text or code) on ``text``, with the known values
        it may contain. A result that depends on no known value is cached across
        messages (short values only: codes, units, statuses repeat in every message)."""
        key = (action.__name__, text)
        found = context.memo.get(key)
        if found is not None:
            return found
        relevant = context.known.relevant(text)
        shared = not relevant and len(text) <= _CACHED_CHARS
        if shared:
            found = self._cache.get(key)
        if found is None:
            found = action(text, relevant)
            if shared:
                if len(self._cache) >= _CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[key] = found
        context.memo[key] = found
        return found

    def _text(self, raw: str, context: _Context) -> str:
        """Free text: each repetition decoded, scrubbed whole, re-encoded."""
        seps = context.seps
        out = []
        for repetition in raw.split(seps.repetition):
            plain = _plain(repetition, seps)
            cleaned = self._scrubbed(plain, context, self._actions.text) if plain else ""
            out.append(_escape(cleaned, seps) if isinstance(cleaned, str) else "")
        return _join(out, seps.repetition)

    def _code(self, raw: str, context: _Context) -> str:
        """A short code: scrubbed as a whole; dropped if it is not code-like."""
        seps = context.seps
        if seps.escape not in raw:
            return _safe(self._scrubbed(raw, context, self._actions.code), seps, components=True)
        out = []
        for repetition in raw.split(seps.repetition):
            parts = []
            for component in repetition.split(seps.component):
                plain = _plain(component, seps)
                value = self._scrubbed(plain, context, self._actions.code) if plain else ""
                parts.append(_escape(value, seps) if isinstance(value, str) else "")
            out.append(_join(parts, seps.component))
        return _join(out, seps.repetition)

    def _coded(self, raw: str, context: _Context) -> str:
        """CE/CWE: code components kept if code-shaped, text components scrubbed."""
        seps = context.seps
        out = []
        for repetition in raw.split(seps.repetition):
            parts = []
            for index, component in enumerate(repetition.split(seps.component)):
                if index not in _CODED_TEXT_COMPONENTS and _CODE_COMPONENT_RE.match(component):
                    parts.append(component)
                    continue
                plain = _plain(component, seps)
                value = self._scrubbed(plain, context, self._actions.code) if plain else ""
                parts.append(_escape(value, seps) if isinstance(value, str) else "")
            out.append(_join(parts, seps.component))
        return _join(out, seps.repetition)

    def _obx_value(self, raw: str, fields: list[str], context: _Context) -> str:
        seps = context.seps
        value_type = _first_component(fields[2], seps).upper() if len(fields) > 2 else ""
        observation = _observation(fields, seps)
        if observation is _AGE and _over_89(fields, raw.split(seps.repetition), seps):
            return AGE_OVER_CAP  # Safe Harbor: one category, 90 or older (any value type)
        if observation is _BIRTH and value_type in _TIMESTAMP_VALUE_TYPES:
            first = _unescape(_first_component(raw, seps), seps)
            return _safe(self._actions.apply(_BIRTH_DATE, first, ()), seps)
        if value_type in _NUMERIC_TYPES:
            parts = raw.split(seps.repetition)
            if all(
                _NUMBER_RE.match(p)
                or (value_type == "SN" and _SN_RE.match(p.replace(seps.component, "")))
                for p in parts
            ):
                return raw
            return self._text(raw, context)
        if value_type in _CODED_VALUE_TYPES:
            return self._coded(raw, context)
        cls = type_class(value_type)
        if cls is TypeClass.TEXT:
            return self._text(raw, context)
        if value_type in _TIMESTAMP_VALUE_TYPES:
            first = _first_component(raw, seps)
            return _safe(self._actions.apply(_TIMESTAMP, first, ()), seps)
        if cls is TypeClass.ADDRESS:
            return self._address(raw, seps)
        return ""  # names, identifiers, ED, RP, unknown: never passed

    def _address(self, raw: str, seps: _Separators) -> str:
        """XAD: keep state (4), ZIP -> ZIP3 (5) and country (6); empty the rest."""
        out = []
        for repetition in raw.split(seps.repetition):
            components = repetition.split(seps.component)
            state = components[3] if len(components) > 3 else ""
            postal = components[4] if len(components) > 4 else ""
            country = components[5] if len(components) > 5 else ""
            zip_value = self._actions.apply(FieldRule(kind="zip"), postal, ()) if postal else DROP
            kept = [
                "", "", "",
                state if re.fullmatch(r"[A-Za-z][A-Za-z .]{0,24}", state) else "",
                zip_value if isinstance(zip_value, str) and zip_value.isdigit() else "",
                country if re.fullmatch(r"[A-Za-z]{2,3}", country) else "",
            ]  # fmt: skip
            out.append(_join(kept, seps.component))
        return _join(out, seps.repetition)

    # -- harvesting identifying values ------------------------------------------------

    def _harvest(
        self,
        fields: list[str],
        seps: _Separators,
        known: dict[str, None],
        seen: set[tuple[TypeClass, str, str]],
    ) -> None:
        """Append the identifying values of one segment to ``known``. ``seen``: typed
        fields of the message harvested already (the same observer in every OBX)."""
        segment = fields[0]
        first = 3 if segment == "MSH" else 1
        plan = self._harvest_plan(segment)
        if plan is None:  # Z-segment or a segment the standard does not define: every
            # field, but those a site policy lets out (scrubbed) for itself
            passing = self._passing(segment)
            for number in range(first, len(fields)):
                if fields[number] and number not in passing:
                    _harvest_all(fields[number], seps, known)
            return
        count = len(fields)
        for number, cls, data_type in plan:  # sorted by number
            if number >= count:
                break
            if number < first:
                continue
            raw = fields[number]
            if raw:
                key = (cls, data_type, raw)
                if key not in seen:
                    seen.add(key)
                    _harvest_typed(raw, cls, data_type, seps, known)
        if segment == "OBX" and count > 5 and fields[5]:  # OBX-5 typed by OBX-2: XPN, CX ...
            value_type = _first_component(fields[2], seps).upper()
            value_class = type_class(value_type)
            if value_class in _HARVESTED:
                _harvest_typed(fields[5], value_class, value_type, seps, known)
        # fields past the standard's last field: unknown content
        for raw in fields[max(self._types.field_count(segment) + 1, first) :]:
            if raw:
                _harvest_all(raw, seps, known)


# -- harvesting helpers ---------------------------------------------------------------


def _harvest_typed(
    raw: str, cls: TypeClass, data_type: str, seps: _Separators, known: dict[str, None]
) -> None:
    if cls is TypeClass.NAME:
        _harvest_name(raw, data_type, seps, known)
    elif cls is TypeClass.ADDRESS:
        _harvest_components(raw, ADDRESS_COMPONENTS, seps, known)
    elif cls is TypeClass.TELECOM:
        _harvest_telecom(raw, seps, known)
    else:
        _harvest_identifier(raw, seps, known)


def _harvest_all(raw: str, seps: _Separators, known: dict[str, None]) -> None:
    for repetition in raw.split(seps.repetition):
        parts = [_plain(component, seps) for component in repetition.split(seps.component)]
        parts = [p for p in parts if p]
        known.update(dict.fromkeys(parts))
        for component in repetition.split(seps.component):
            if seps.subcomponent in component:
                known.update(
                    dict.fromkeys(_unescape(s, seps) for s in component.split(seps.subcomponent))
                )
        if len(parts) > 1:
            known[" ".join(parts)] = None


def _harvest_name(raw: str, data_type: str, seps: _Separators, known: dict[str, None]) -> None:
    indices = NAME_COMPONENTS.get(data_type)
    for repetition in raw.split(seps.repetition):
        components = repetition.split(seps.component)
        selected = (
            [components[i - 1] for i in indices if i <= len(components)]
            if indices is not None
            else components
        )
        words: list[str] = []
        for component in selected:
            if not component:
                continue
            plain = _plain(component, seps)
            known[plain] = None
            if seps.subcomponent in component:
                known.update(
                    dict.fromkeys(_unescape(s, seps) for s in component.split(seps.subcomponent))
                )
            if not _DIGIT_RE.search(plain):
                words.append(plain)
        if len(words) > 1:
            family, given = words[0], words[1]
            known.update(dict.fromkeys((f"{given} {family}", f"{family} {given}")))
            known[" ".join(words[1:] + words[:1])] = None  # given, middle, family


def _harvest_components(
    raw: str, indices: tuple[int, ...], seps: _Separators, known: dict[str, None]
) -> None:
    for repetition in raw.split(seps.repetition):
        components = repetition.split(seps.component)
        for i in indices:
            if i <= len(components) and components[i - 1]:
                component = components[i - 1]
                known[_plain(component, seps)] = None
                if seps.subcomponent in component:
                    known.update(
                        dict.fromkeys(
                            _unescape(s, seps) for s in component.split(seps.subcomponent)
                        )
                    )


def _harvest_telecom(raw: str, seps: _Separators, known: dict[str, None]) -> None:
    _harvest_components(raw, (1, 4, 7, 12), seps, known)
    for repetition in raw.split(seps.repetition):
        components = repetition.split(seps.component)
        if len(components) >= 7:
            known[_unescape(components[5], seps) + _unescape(components[6], seps)] = None


def _harvest_identifier(raw: str, seps: _Separators, known: dict[str, None]) -> None:
    for repetition in raw.split(seps.repetition):
        first = repetition.split(seps.component)[0]
        if first:
            known[_plain(first, seps)] = None


# -- message syntax ---------------------------------------------------------------------


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
    encoding = text[4:].split(field, 1)[0].split("\r", 1)[0]
    chars = encoding + field
    if (
        field.isalnum()
        or len(encoding) not in (4, 5)
        or len(set(chars)) != len(chars)
        or any(ch.isalnum() or ch in " \t\r\n" for ch in chars)
    ):
        raise RedactionError("MSH-1/MSH-2 do not define HL7 separators")
    specials = frozenset(field + encoding[:4] + "\r\n")
    return _Separators(
        field, encoding[0], encoding[1], encoding[2], encoding[3], encoding, specials
    )


def _split(text: str, seps: _Separators) -> list[list[str]]:
    """Segments as field lists, indexed by field number (MSH-1 is the field separator)."""
    segments: list[list[str]] = []
    for index, line in enumerate(text.split("\r")):
        if not line.strip():
            continue
        segment_id = line[:3]
        if (
            not _SEGMENT_ID_RE.fullmatch(segment_id)
            or (len(line) > 3 and line[3] != seps.field)
            or (index > 0 and segment_id == "MSH")
        ):
            raise RedactionError(
                f"segment {len(segments) + 1} is not an HL7 segment"
                if segment_id != "MSH"
                else "more than one MSH segment: one message at a time"
            )
        fields = line.split(seps.field)
        if segment_id == "MSH":
            fields.insert(1, seps.field)
        segments.append(fields)
    return segments


def _digits(text: str) -> str:
    """The digits of ``text``, in order."""
    if text.isascii():
        return text.encode("ascii").translate(None, _NON_DIGIT_BYTES).decode("ascii")
    return _NON_DIGIT_RE.sub("", text)


_NON_DIGIT_BYTES = bytes(b for b in range(128) if not 48 <= b <= 57)


@lru_cache(maxsize=16)
def _separator_runs(chars: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(chars)}]+")


def _first_component(raw: str, seps: _Separators) -> str:
    first = raw.split(seps.repetition, 1)[0].split(seps.component, 1)[0]
    return first.split(seps.subcomponent, 1)[0]


def _plain(value: str, seps: _Separators) -> str:
    """A component or repetition as plain text: escapes decoded, sub-parts joined by spaces."""
    if seps.component in value or seps.subcomponent in value:
        value = " ".join(
            part
            for piece in value.split(seps.component)
            for part in piece.split(seps.subcomponent)
            if part
        )
    return _unescape(value, seps) if seps.escape in value else value


def _unescape(value: str, seps: _Separators) -> str:
    """Decode HL7 escape sequences; formatting becomes spaces or newlines, unknown ones go."""
    escape = seps.escape
    if escape not in value:
        return value
    out: list[str] = []
    position = 0
    while True:
        start = value.find(escape, position)
        if start < 0:
            out.append(value[position:])
            break
        end = value.find(escape, start + 1)
        if end < 0:  # a lone escape character: take it literally
            out.append(value[position:])
            break
        out.append(value[position:start])
        out.append(_decode_sequence(value[start + 1 : end], seps))
        position = end + 1
    return "".join(out)


def _decode_sequence(sequence: str, seps: _Separators) -> str:
    simple = {
        "F": seps.field,
        "S": seps.component,
        "T": seps.subcomponent,
        "R": seps.repetition,
        "E": seps.escape,
        "P": seps.encoding[4:5],  # v2.7's truncation character, if MSH-2 declares one
    }
    if sequence in simple:
        return simple[sequence]
    if sequence[:1] == "X" and _HEX_RE.fullmatch(sequence[1:]):
        data = bytes.fromhex(sequence[1:])
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    if sequence in (".br", ".fi", ".nf") or sequence.startswith(".sp"):
        return "\n"
    if sequence.startswith((".in", ".ti", ".sk", ".ce")):
        return " "
    return ""  # \H\ \N\ highlighting, \Zxx\ local, \Cxxyy\ \Mxxyyzz\ character sets


def _escape(text: str, seps: _Separators) -> str:
    """Encode text for a field: separators as escape sequences, newlines as ``\\.br\\``."""
    escape = seps.escape
    if seps.specials.isdisjoint(text):
        return text
    out = text.replace(escape, f"{escape}E{escape}")
    for char, code in (
        (seps.field, "F"),
        (seps.component, "S"),
        (seps.subcomponent, "T"),
        (seps.repetition, "R"),
    ):
        out = out.replace(char, f"{escape}{code}{escape}")
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", f"{escape}.br{escape}")


def _join(parts: list[str], separator: str) -> str:
    while parts and not parts[-1]:
        parts.pop()
    return separator.join(parts)


def _safe(value: object, seps: _Separators, *, components: bool = False) -> str:
    """Render a rule result as field text that cannot break the message structure."""
    if value is DROP or value is None:
        return ""
    text = str(value)
    forbidden = {seps.field, seps.repetition, "\r", "\n"}
    if not components:
        forbidden |= {seps.component, seps.subcomponent}
    return text if forbidden.isdisjoint(text) else ""


#: OBX-3 codes of a person's age (LOINC: age, reported, estimated, calculated, current
#: or at death): an age observation over 89 is PHI (Safe Harbor), its number is not.
_AGE_CODES = frozenset({"30525-0", "21612-7", "21611-9", "29553-5", "63900-5"})
#: "Age", "AGE_YRS", "Patient age", "PatientAge" - not "Stage", "Usage", "Dosage".
_AGE_TEXT_RE = re.compile(r"(?<![A-Za-z])(?i:age)(?![a-z])|(?<=[a-z])Age(?![a-z])")
#: OBX-3 codes and texts of a birth date (LOINC 21112-8).
_BIRTH_CODES = frozenset({"21112-8"})
_BIRTH_TEXT_RE = re.compile(r"(?i)birth|(?<![A-Za-z])DOB(?![A-Za-z])")
_AGE, _BIRTH = "age", "birth"
#: OBX-6 units an age may be given in, as divisors to years (none given: years).
_AGE_UNITS = {"": 1.0, "a": 1.0, "yr": 1.0, "y": 1.0, "year": 1.0, "years": 1.0,
              "mo": 12.0, "month": 12.0, "months": 12.0, "wk": 52.0, "d": 365.0}  # fmt: skip
#: A number in an age value, with the unit written after it ("1140 months", "96 y").
_AGE_VALUE_RE = re.compile(r"(\d+(?:\.\d+)?)[ \t]*([A-Za-z]*)")


def _observation(fields: list[str], seps: _Separators) -> str | None:
    """Whether OBX-3 names a person's age or a birth date: by LOINC code in the first
    or the alternate triplet (components 1 and 4), or by its text (2 and 5)."""
    if len(fields) < 4 or not fields[3]:
        return None
    code = fields[3].split(seps.repetition)[0].split(seps.component)
    codes = (code[0], code[3] if len(code) > 3 else "")
    texts = (code[1] if len(code) > 1 else "", code[4] if len(code) > 4 else "")
    if any(c in _AGE_CODES for c in codes) or any(_AGE_TEXT_RE.search(t) for t in texts):
        return _AGE
    if any(c in _BIRTH_CODES for c in codes) or any(_BIRTH_TEXT_RE.search(t) for t in texts):
        return _BIRTH
    return None


def _over_89(fields: list[str], parts: list[str], seps: _Separators) -> bool:
    """An age observation's value (OBX-5) over 89 years: a number in the unit of OBX-6
    or of the word after it (years when none is given; an unknown unit is read as
    years: fail closed), or a spelled age ("ninety-three")."""
    unit = _first_component(fields[6], seps).strip().lower() if len(fields) > 6 else ""
    for part in parts:
        number = _AGE_VALUE_RE.search(part)
        if number is None:
            if SPELLED_AGE_RE.search(part):
                return True
            continue
        written = unit or number.group(2).lower()
        per_year = _AGE_UNITS.get(written.strip("{}"), 1.0)
        if float(number.group(1)) / per_year > AGE_CAP:
            return True
    return False
    code = fields[3].split(seps.repetition)[0].split(seps.component)
    if code[0] not in _AGE_CODES and not (len(code) > 1 and _AGE_TEXT_RE.search(code[1])):
        return False
    unit = _first_component(fields[6], seps).strip().lower() if len(fields) > 6 else ""
    per_year = _AGE_UNITS.get(unit.strip("{}"), 1.0)  # an unknown unit is read as years
    for part in parts:
        number = re.search(r"\d+(?:\.\d+)?", part)
        if number and float(number.group()) / per_year > AGE_CAP:
            return True
    return False
