"""The free-text scrubber: recall first, clinical values kept, fast enough for a gateway.

A message is read in one linear pass over its words and one over its digit runs:

1. Shapes (``patterns.py``): each identifier regex is tried only where it can
   start - at digit runs (dates, phones, SSNs, addresses, long numbers), at
   trigger words found by set lookup ("MRN", "serial", month names, "lives in"),
   or when a substring test says it may be present ("@", "://", "::").
2. Names, failing closed: a word in a name position (capitalised, upper case, in a
   file name, after a title or a person cue) is a name unless the gateway knows it
   is safe - an English, clinical, device or software word (``safewords.py``,
   ``vocabulary.py``, the site's ``keep_terms``). The decision is ``NAME_RULES``, an
   ordered list of small named rules (known value, code, device term, title, person
   cue, file name, lexicon, unknown capitalised, unknown upper case, unknown lower
   case in a name position: a chat mention, a speaker, two unknown words side by
   side); the first rule with an opinion decides and ``Scrubber.explain`` reports
   it. Each rule has a gate (the words it can have an opinion on) so that the others
   are not called; a word's lexicon and vocabulary answers are memoised. The name lexicon
   adds confidence for names that are also English words ("Will", "Rose"); recall
   of unknown names does not depend on it. A name then grows into its neighbours
   ("van der", initials, "Doe, Jane", ``ECG_Doe_Jane``).

3. Ages over 89 by unit, sex or context ("94 y/o", "94F", "she is 94", "turned 94",
   "ninety-four years"), and by their neighbours (a table cell after a name or a
   date, a cell before a sex, "DOB 3/3/1931 (94)"): all become "90+".

Known values (what the codec split into ``PatientContext``) are also matched as
whole phrases in any case, and as digit strings however they are punctuated.

Everything found becomes a typed placeholder (``[NAME]``, ``[DATE]``, ...), with the
Safe Harbor generalisations: a full date keeps its year and a date with no year goes
(``dates="year"``), a ZIP keeps its first three digits (``627**``; restricted areas
``000**``), ages over 89 become ``90+``. The policy wraps the scrubber and drops the
text if it ever fails (fail closed).
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Callable, Container, Iterable, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Literal, NamedTuple

from wardlink.phi.generalize import AGE_CAP, AGE_OVER_CAP, zip3
from wardlink.phi.lexicon import PARTICLES, NameLexicon, fold, load_lexicon
from wardlink.phi.patterns import (
    ALPHA,
    CAMEL_RE,
    CITY_AFTER_RE,
    CITY_STATE_RE,
    COUNTY_WORDS,
    DATE_CUE_WORDS,
    DIGIT_MATCHERS,
    DIGIT_START_RE,
    EMAIL_RE,
    FRACTION_AFTER_RE,
    FRACTION_BEFORE_WORDS,
    HOST_BEFORE_RE,
    IPV6_RE,
    LABEL_BEFORE,
    MAC_RE,
    MDC_REF_RE,
    OTHER,
    PARTIAL_MONTH_DAY_RE,
    PATH_AFTER_RE,
    PLACE_BEFORE_RE,
    SPELLED_AGE_RE,
    STATE_ABBRS,
    STATE_LAST_WORDS,
    TLD_RE,
    TRIGGERS,
    URL_RE,
    VALUE_BEFORE_LABEL_RE,
    VIN_RE,
    WORD_RE,
    YEAR_RE,
    ZIP_AFTER_RE,
    ZIP_NEXT_RE,
    ZIP_VALUE_RE,
    Category,
    code_context_before,
    next_class,
)
from wardlink.phi.safewords import WordHashes, load_safe_words
from wardlink.phi.vocabulary import (
    ABBREVIATIONS,
    CLINICAL_TERMS,
    COMMON_WORDS,
    MONTHS,
    PERSON_CUES,
    STOPWORDS,
    TITLE_CUES,
    WEEKDAYS,
)
from wardlink.phi.vocabulary import words as _words

TextDateMode = Literal["drop", "year", "keep"]
ZipMode = Literal["three_digit", "drop"]
Span = tuple[int, int, Category, str]

_KNOWN_RUN_RE = re.compile(r"\d[\d().-]*\d")
_ASCII_WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")  # WORD_RE on ASCII text
#: "aBc" or "ABcd" inside a word (written to start at the capital, so that the regex
#: engine skips ahead to capitals: twice as fast as the plain alternation) - but not
#: the "mHg" of "mmHg", in nearly every device message (a name glued after "mm"
#: stays one unknown capitalised word, a name all the same).
_CAMEL_HINT_RE = re.compile(r"[A-Z](?:(?<=[a-z][A-Z])(?<!mmH)[a-z]|[A-Z][a-z]{2})")
_NAME_PREFIX_RE = re.compile(
    r"^(?:Mc|Mac|O['\u2019]|D['\u2019]|De|Di|Da|Du|La|Le|Van|Von|St)[A-Z][a-z]"
)
_NON_DIGIT_RE = re.compile(r"\D")
_AGE_NUMBER_RE = re.compile(
    r"(?<![\d.])(?:9\d|1[0-4]\d)(?:\.\d+)?(?:['\u2019]?s(?![A-Za-z]))?(?!\d)"
)
#: Words before "98 F" / "94F" / "90 m" that make the letter a unit or a place, not a sex.
_NOT_AGE_BEFORE = frozenset(
    {"temp", "temperature", "t", "tmax", "tm", "tc", "fever", "febrile", "rm", "room", "bed",
     "bay", "unit", "ward", "floor", "fl", "suite", "apt", "box", "walked", "ambulated", "x"}
)  # fmt: skip
#: Words before "97m" / "92f" (lower case) that make it an age and sex.
_AGE_LOWER_BEFORE = frozenset({"", "pt", "patient", "admit", "admission", "age", "aged", "new"})
#: An age over 89 in a table cell or parentheses right after a name, a date or "pt":
#: "Doe, Jane,94,F", "Jane Doe;94;", "DOB 3/3/1931 (94)", "pt (97)".
_AGE_BESIDE_RE = re.compile(
    r"[ \t]*(?:[,;|\t][ \t]*|\()((?:9\d|1[0-4]\d))(?![\d.])(?=[ \t]*(?:[,;|\t)\n]|$))"
)
_CELL_ZIP_RE = re.compile(r"[ \t]*[,;|\t][ \t]*(\d{5}(?:-\d{4})?)(?=[ \t]*(?:[,;|\t\n]|$))")
#: "...,1931-02-11,94,F,4W": an age over 89 in the cell before a sex.
_CELL_STARTS = frozenset({"", ",", ";", "|", "\t", "\n", "("})
_AGE_SEX_CELL_RE = re.compile(
    r"(9\d|1[0-4]\d)(?:[,;|\t][ \t]*[MF](?![A-Za-z0-9])"
    r"|,[ \t]*(?i:female|male|woman|man|lady|gentleman)(?![A-Za-z]))"  # "Resident, 98, female"
)
_PT_PAREN_AGE_RE = re.compile(r"(?<![A-Za-z])(?i:pt|patient)[ \t]*\((9\d|1[0-4]\d)\)")
_ADJACENT_GAP = frozenset(" \t,._-^'\u2019/")
_SENTENCE_END = frozenset(".!?:;\n\r|>")
_LINK_WORDS = frozenset({"of", "is", "was", "named", "called", "to", "for", "with", "by", "at"})
_URL_TRAILING = ".,;:)]}!?"
#: Look-ups remembered per scrubber (a word's lexicon and vocabulary answers): device
#: text repeats its words, and a dict hit costs ~40 ns against ~2 us for the hash
#: searches. Two generations approximate an LRU at the price of a dict hit: a word is
#: looked up in the young one, then in the old one (and moved back to the young);
#: when the young one is full it becomes the old one. At most 2 x 2048 words (~0.35 MB).
_MEMO_SIZE = 2048
_IN_NAMES, _SAFE, _NOT_LOWER_NAME, _KNOWN = 1, 2, 4, 8
#: A word the name loop keeps at once unless a cue, a known value or a file name puts
#: it in a name position: a stop word or a single letter, a device word, or a safe
#: word that is no lexicon name.
_KEPT_OUTSIDE_NAME_POSITIONS = 16
_SEPARATORS = frozenset("-/.")
_SPACE_OR_SEP = frozenset(" \t-/.")
_NUMBER_AFTER_RE = re.compile(r" \d")
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_NAME_END_RE = re.compile(r"\s*(?:[;,)\n]|\.(?:\s|$)|$)")
_WORDS_WITH_NUMBER_RE = re.compile(r"[^\W\d_]{3,}\s+[^\W\d_]{2,}|\d\s+[^\W\d_]{3,}")
_COMPACT_YEAR_RE = re.compile(r"(1[89]\d\d|20\d\d)(?=\d{4})")  # 19620704, HL7 DTM
_FIVE_DIGITS_RE = re.compile(r"\d{5}")
#: Every folded word at which a trigger shape, a "City, ST" or a county can end or start.
_TRIGGER_BASES: frozenset[str] = (
    frozenset(TRIGGERS)
    | STATE_LAST_WORDS
    | COUNTY_WORDS
    | frozenset(abbr.lower() for abbr in STATE_ABBRS)
)


class Finding(NamedTuple):
    """One piece of PHI found in a text: where, what kind, and what replaces it (a
    named tuple: messages hold several, and a tuple is built ~5x faster than a frozen
    dataclass)."""

    start: int
    end: int
    category: Category
    replacement: str


def placeholder(category: Category) -> str:
    return f"[{category.value}]"


class Scrubber:
    """Replaces PHI in free text with typed placeholders. Share one freely: its only
    state is a small memo of vocabulary look-ups (safe to share between threads)."""

    def __init__(
        self,
        *,
        lexicon: NameLexicon | None = None,
        keep_terms: Iterable[str] = (),
        dates: TextDateMode = "year",
        zip_codes: ZipMode = "three_digit",
    ) -> None:
        # The lexicon's own set, not a copy: the log filter's scrubber and the policy's
        # share it (each used to hold a 0.5 MB union of its own).
        self._names = (lexicon if lexicon is not None else load_lexicon()).names
        site_terms = {fold(t) for t in keep_terms}
        self._protected: frozenset[str] = (
            CLINICAL_TERMS | site_terms if site_terms else CLINICAL_TERMS
        )
        self._common: frozenset[str] = COMMON_WORDS
        self._safe: WordHashes = load_safe_words()
        self._memo: dict[str, int] = {}  # folded word -> _IN_NAMES | _SAFE | ... bits
        self._memo_old: dict[str, int] = {}
        self._dates: TextDateMode = dates
        self._zip: ZipMode = zip_codes

    def _flags(self, base: str) -> int:
        """What the lexicon and the vocabularies say of a folded word (memoised)."""
        flags = self._memo.get(base)
        if flags is not None:
            return flags
        flags = self._memo_old.get(base)
        if flags is None:
            flags = _KNOWN
            if base in self._names:
                flags |= _IN_NAMES
            if base in self._safe or base in ABBREVIATIONS:
                flags |= _SAFE
            stop = len(base) < 2 or base in STOPWORDS
            protected = base in self._protected
            if stop or protected or len(base) < 3:
                flags |= _NOT_LOWER_NAME
            if stop or protected or flags & (_SAFE | _IN_NAMES) == _SAFE:
                flags |= _KEPT_OUTSIDE_NAME_POSITIONS
        if len(self._memo) >= _MEMO_SIZE:
            self._memo_old = self._memo
            self._memo = {}
        self._memo[base] = flags
        return flags

    def _is_safe(self, base: str) -> bool:
        """An English, clinical or device word."""
        return bool(self._flags(base) & _SAFE)

    # -- public API --------------------------------------------------------------

    def scrub(self, text: str, known: Sequence[str] = ()) -> str:
        """Return ``text`` with every PHI value replaced by its placeholder."""
        if not text:
            return text
        findings = self.find(text, known)
        if not findings:
            return text
        out: list[str] = []
        position = 0
        for finding in findings:
            out.append(text[position : finding.start])
            out.append(finding.replacement)
            position = finding.end
        out.append(text[position:])
        return "".join(out)

    def explain(self, text: str, known: Sequence[str] = ()) -> list[tuple[str, bool, str]]:
        """Each word the name rules looked at: (word, taken for a name, deciding rule).

        Words already inside another finding (a date, an address) and lower-case words
        of running text are not listed; neighbours a name grew into are not either.
        """
        reasons: list[tuple[str, bool, str]] = []
        self.find(text, known, _explain=reasons)
        return reasons

    def find(
        self,
        text: str,
        known: Sequence[str] = (),
        *,
        _explain: list[tuple[str, bool, str]] | None = None,
    ) -> list[Finding]:
        """All PHI in ``text``: sorted, non-overlapping, neighbouring names merged."""
        spans: list[Span] = []
        age_runs: list[int] = []  # where a number from 90 to 149 starts
        self._digit_shapes(text, spans, age_runs)
        self._rare_shapes(text, spans)
        starts, ends, words, bases = _tokenize(text, self._protected)
        self._trigger_shapes(text, starts, ends, words, bases, spans)
        known_tokens, phrases, digit_sigs = _prepare_known(known)
        if phrases or digit_sigs:
            _known_spans(text, phrases, digit_sigs, spans)
        blocked: list[tuple[int, int]] = []
        if "MDC_" in text:
            # IEEE 11073 reference ids ("MDC_DIM_BEAT_PER_MIN") are vocabulary, never names
            blocked = [m.span() for m in MDC_REF_RE.finditer(text)]
            spans = [sp for sp in spans if not any(a <= sp[0] and sp[1] <= b for a, b in blocked)]
        self._names_in(
            text,
            starts,
            ends,
            words,
            bases,
            spans,
            known_tokens,
            blocked,
            _weak_known(known),
            _explain,
        )
        if age_runs:
            self._ages_beside(text, spans, age_runs)
        towns = [sp[1] for sp in spans if sp[2] is Category.NAME or sp[2] is Category.CITY]
        if towns and _FIVE_DIGITS_RE.search(text):
            # "Monrovia 91016": a ZIP after a town the name rules took
            for end in towns:
                self._zip_after(text, end, spans)
        return _merge(text, spans)

    # -- shapes ------------------------------------------------------------------

    def _add(self, spans: list[Span], start: int, end: int, category: Category, value: str) -> None:
        if category is Category.AGE:
            # every age in the span ("ages 94, 96 and 101"); a spelled one goes whole
            replacement = _AGE_NUMBER_RE.sub(AGE_OVER_CAP, value)
            if replacement == value:  # "he is ninety-three": the spelled age
                replacement = SPELLED_AGE_RE.sub(AGE_OVER_CAP, value)
            if replacement == value:
                replacement = AGE_OVER_CAP
        elif category is Category.DATE and self._dates != "drop":
            if self._dates == "keep":
                return
            # a full date keeps its year; a date with no year ("3/17") is dropped
            year = YEAR_RE.search(value) or _COMPACT_YEAR_RE.match(value)
            if year is not None and int(year.group(1)) < _this_year() - AGE_CAP:
                year = None  # a year that may be a birth over 89 years ago goes too
            replacement = year.group(1) if year else placeholder(category)
        elif category is Category.ZIP:
            replacement = ZIP_VALUE_RE.sub(self._zip_replacement, value)
            if replacement == value:
                replacement = placeholder(category)
        else:
            replacement = placeholder(category)
        spans.append((start, end, category, replacement))

    def _zip_replacement(self, match: re.Match[str]) -> str:
        """Safe Harbor: the first three digits ("000" for the restricted areas)."""
        prefix = zip3(match.group()) if self._zip == "three_digit" else None
        return f"{prefix}**" if prefix is not None else placeholder(Category.ZIP)

    def _ages_beside(self, text: str, spans: list[Span], age_runs: list[int]) -> None:
        """An age over 89 with no unit, told by its neighbour: a table cell or a
        parenthesis after a name or a date ("Doe, Jane,94,F", "DOB 3/3/1931 (94)"), a
        cell before a sex ("...,94,F,4W"), or "pt (97)". Only at the numbers from 90
        to 149 the digit pass saw (``age_runs``)."""
        anchors = [sp[1] for sp in spans if sp[2] is Category.NAME or sp[2] is Category.DATE]
        for end in anchors:
            if not any(0 <= run - end <= 4 for run in age_runs):
                continue
            match = _AGE_BESIDE_RE.match(text, end)
            if match is not None:
                self._add(spans, *match.span(1), Category.AGE, match.group(1))
                cell = _CELL_ZIP_RE.match(text, match.end())
                if cell is not None:  # "Doe;94;32481;...": name, age, ZIP
                    self._add(spans, *cell.span(1), Category.ZIP, cell.group(1))
        for run in age_runs:
            if run > 0 and text[run - 1] in "./":
                continue  # "37.95", "120/95"
            match = _AGE_SEX_CELL_RE.match(text, run)
            if match is not None and text[:run].rstrip(" \t")[-1:] not in _CELL_STARTS:
                match = None  # a cell of its own ("Doe,94,F"), not "HR 96, male"
            if match is None and run > 0 and text[run - 1] == "(":
                match = _PT_PAREN_AGE_RE.search(text, max(0, run - 12), run + 4)
            if match is not None:
                self._add(spans, *match.span(1), Category.AGE, match.group(1))

    def _zip_after(self, text: str, end: int, spans: list[Span]) -> int:
        """A ZIP code right after a city or an address: its own, generalised span."""
        zip_code = ZIP_NEXT_RE.match(text, end)
        if zip_code is None:
            return end
        start, stop = zip_code.span(1)
        # "IL 05912-1234" also reads as a phone number: after a town it is a ZIP
        spans[:] = [sp for sp in spans if not (start <= sp[0] and sp[1] <= stop)]
        self._add(spans, start, stop, Category.ZIP, zip_code.group(1))
        return zip_code.end()

    def _address(self, text: str, start: int, end: int, value: str, spans: list[Span]) -> int:
        """A street address, the town after it and its ZIP (generalised apart)."""
        zip_code = ZIP_VALUE_RE.search(value, max(0, len(value) - 10))
        if zip_code is not None and zip_code.end() == len(value) and zip_code.start() > 0:
            street_end = start + len(value[: zip_code.start()].rstrip(" \t,"))
            spans.append((start, street_end, Category.ADDRESS, placeholder(Category.ADDRESS)))
            self._add(spans, start + zip_code.start(), end, Category.ZIP, zip_code.group())
            return end
        spans.append((start, end, Category.ADDRESS, placeholder(Category.ADDRESS)))
        city = CITY_AFTER_RE.match(text, end)
        if city is None:
            return end  # a number after a street is not its ZIP without a town between
        spans.append((city.start(1), city.end(1), Category.CITY, placeholder(Category.CITY)))
        return self._zip_after(text, city.end(), spans)

    def _digit_shapes(self, text: str, spans: list[Span], age_runs: list[int]) -> None:
        covered_to = -1
        length = len(text)
        matchers = DIGIT_MATCHERS
        for run in DIGIT_START_RE.finditer(text):
            start, digits_end = run.span()
            if start < covered_to:
                continue
            char = text[digits_end] if digits_end < length else "\n"
            digit_start = run.start(2)
            digits = digits_end - digit_start
            if (digits == 2 and text[digit_start] == "9") or (
                digits == 3 and text[digit_start] == "1" and text[digit_start + 1] in "01234"
            ):
                age_runs.append(digit_start)  # for ``_ages_beside``
            if digits <= 4 and start == digit_start and start > 0:
                before = text[start - 1]
                if (
                    (before.isalpha() and char not in _SEPARATORS)
                    or (before == "." and digits <= 3 and start > 1 and text[start - 2].isdigit())
                    or (
                        before == "-"
                        and start > 1
                        and text[start - 2].isalpha()
                        and char not in _SEPARATORS
                        and char not in "s'\u2019"  # "mid-90s"
                    )
                ):
                    continue  # "SpO2", "MX450", "37.2", "ALM-0107": no shape starts there
            if char.isalpha():
                nxt = ALPHA
            elif char in _SPACE_OR_SEP:
                nxt = next_class(text, digits_end)  # the detailed kinds (see patterns)
            else:
                nxt = OTHER
            match = None
            if digit_start != start:  # a "+" or "(" before the digits
                matcher = matchers.get((text[start], min(digits, 7), nxt))
                if matcher is not None:
                    match = matcher[0].match(text, start)
            if match is None:
                matcher = matchers.get(("d", min(digits, 7), nxt))
                if matcher is not None:
                    match = matcher[0].match(text, digit_start)
            if match is None:
                if digits >= 5:
                    self._prefixed_number(text, digit_start, digits_end, spans)
                continue
            assert matcher is not None
            category = matcher[1][match.lastgroup or ""]
            m_start, m_end = match.span()
            if category is Category.ID:
                if code_context_before(text, m_start):
                    continue  # "MDC 8454247", "error 1000234": a code, not a person's number
                m_start = _letter_prefix_start(text, m_start)
            elif category is Category.ADDRESS:
                covered_to = self._address(text, m_start, m_end, match.group(), spans)
                continue
            elif (
                category is Category.DATE
                and "." in match.group()
                and code_context_before(text, m_start)
            ):
                covered_to = m_end
                continue  # "fw 3.7.83", "version 1.2.24": a version, not a date
            elif category is Category.DATE and _a_fraction(text, m_start, match.group()):
                covered_to = m_end
                continue  # "pain 7/10", "1/2 tab": a score or a fraction, not March 10
            elif category is Category.AGE and not _age_and_sex(text, m_start, m_end):
                continue  # "Temp 98 F", "Rm 94F", "walked 90 m": a unit or a room
            self._add(spans, m_start, m_end, category, match.group())
            covered_to = m_end

    @staticmethod
    def _prefixed_number(text: str, start: int, end: int, spans: list[Span]) -> None:
        """Letters glued to 5+ digits ("MR0012345", "H-00012345") form an identifier, and
        so does a number of 5+ digits after "#" ("box #18796")."""
        if end - start < 5 or (end < len(text) and text[end].isalnum()):
            return
        head = _letter_prefix_start(text, start)
        hash_at = start - 1 if text[start - 1 : start] == "#" else start - 2
        if head == start and text[hash_at : hash_at + 1] == "#" and hash_at >= 0:
            if not code_context_before(text, hash_at):
                spans.append((start, end, Category.ID, placeholder(Category.ID)))
            return
        if head == start or code_context_before(text, head):
            return
        spans.append((head, end, Category.ID, placeholder(Category.ID)))

    def _rare_shapes(self, text: str, spans: list[Span]) -> None:
        """Shapes with a tell-tale character, tried only when that character is there."""
        if "@" in text:
            for match in EMAIL_RE.finditer(text):
                spans.append((*match.span(), Category.EMAIL, placeholder(Category.EMAIL)))
        if "://" in text or "www." in text or "WWW." in text:
            for match in URL_RE.finditer(text):
                start, end = match.span()
                end -= len(match.group()) - len(match.group().rstrip(_URL_TRAILING))
                spans.append((start, end, Category.URL, placeholder(Category.URL)))
        if "." in text:
            for match in TLD_RE.finditer(text):
                host = HOST_BEFORE_RE.search(text, max(0, match.start() - 80), match.start())
                if host is None:
                    continue
                end = match.end()
                path = PATH_AFTER_RE.match(text, end)
                if path is not None:
                    end = path.end()
                    end -= len(path.group()) - len(path.group().rstrip(_URL_TRAILING))
                spans.append((host.start(), end, Category.URL, placeholder(Category.URL)))
        colons = text.count(":")
        if colons >= 5 or "::" in text:
            for match in IPV6_RE.finditer(text):
                spans.append((*match.span(), Category.IP, placeholder(Category.IP)))
        if colons >= 5 or text.count("-") >= 5:
            for match in MAC_RE.finditer(text):
                spans.append((*match.span(), Category.DEVICE_ID, placeholder(Category.DEVICE_ID)))
        for match in VIN_RE.finditer(text):
            start, end = match.span()
            value = match.group()
            if (
                (start == 0 or not text[start - 1].isalnum())
                and (end == len(text) or not text[end].isalnum())
                and any(ch.isdigit() for ch in value)
                and any(ch.isalpha() for ch in value)
            ):
                spans.append((start, end, Category.VEHICLE, placeholder(Category.VEHICLE)))

    def _trigger_shapes(
        self,
        text: str,
        starts: list[int],
        ends: list[int],
        words: list[str],
        bases: list[str],
        spans: list[Span],
    ) -> None:
        """Labelled numbers, month-first dates, cities: tried only at their first words."""
        covered_to = -1
        interesting = _TRIGGER_BASES
        for i in [k for k, base in enumerate(bases) if base in interesting]:
            base = bases[i]
            start = starts[i]
            if start < covered_to:
                continue
            trigger = TRIGGERS.get(base)
            if trigger is not None:
                match = trigger[0].match(text, start)
                if match is not None:
                    category = trigger[1][match.lastgroup or ""]
                    end = match.end()
                    if category is Category.CITY:
                        end = self._town_end(text, start, end)
                    self._add(spans, start, end, category, text[start:end])
                    covered_to = end
                    continue
                if base in LABEL_BEFORE and _value_may_precede(text, start, bases, i):
                    for label, category in LABEL_BEFORE[base]:
                        if label.match(text, start) is None:
                            continue
                        value = VALUE_BEFORE_LABEL_RE.search(text, max(0, start - 40), start)
                        if value is not None:  # "0012345 (MRN)", "5726 6603 is the MRN"
                            spans.append((*value.span(1), category, placeholder(category)))
                        break
            word = words[i]
            if (len(word) == 2 and word in STATE_ABBRS) or (
                base in STATE_LAST_WORDS and word[0].isupper()
            ):
                self._city_state(text, start, ends[i], spans)
            elif base in COUNTY_WORDS and word[0].isupper():
                place = PLACE_BEFORE_RE.search(text, max(0, start - 40), start)
                if place is not None:
                    spans.append((place.start(), ends[i], Category.ADDRESS,
                                  placeholder(Category.ADDRESS)))  # fmt: skip

    def _town_end(self, text: str, start: int, end: int) -> int:
        """ "lives in Lake Amber Nellcor PM1000N": the town ends before a device word."""
        town = list(WORD_RE.finditer(text, start, end))
        while len(town) > 2 and fold(town[-1].group()) in self._protected:
            town.pop()
            end = town[-1].end()
        return end

    def _city_state(self, text: str, start: int, end: int, spans: list[Span]) -> None:
        """ "Lake Mary, FL" / "Springfield, Illinois 62704": the city before a state."""
        zip_code = ZIP_AFTER_RE.match(text, end)
        if zip_code is None and text[end : end + 3].lstrip()[:1].isdigit():
            return  # "PR 105", "IN 2 min": a label before a number, no ZIP (cheap test first)
        before = text[:start].rstrip(" \t")
        if not before or not (before[-1] == "," or before[-1].isalpha()):
            return  # a town name or a comma must stand before the state
        city = CITY_STATE_RE.search(text, max(0, start - 60), end)
        if city is None:
            return
        begin = city.start()
        for word in WORD_RE.finditer(text, begin, start):
            if fold(word.group()) not in self._protected:
                break
            begin = word.end() + 1  # "Perfusor Space Port Edward, SC": the town starts later
        if begin >= start:
            return
        if zip_code is None:
            if "," not in text[begin:start]:
                return  # "Lead II OK" is not a place; "Springfield IL 62704" is
            rest = text[end : end + 3].lstrip()
            if rest[:1].isdigit():
                return  # "mmHg, PR 105": a vital sign label, not a state
            words = [fold(w) for w in WORD_RE.findall(text[begin:start])]
            if all(w in self._protected or w in STOPWORDS or len(w) < 3 for w in words):
                return  # "Temp 37.2 Cel, PA": units and device words are not towns
        spans.append((begin, end, Category.CITY, placeholder(Category.CITY)))
        if zip_code is not None:
            self._zip_after(text, end, spans)

    # -- names -------------------------------------------------------------------

    def _names_in(
        self,
        text: str,
        starts: list[int],
        ends: list[int],
        words: list[str],
        bases: list[str],
        spans: list[Span],
        known_tokens: frozenset[str],
        blocked: list[tuple[int, int]],
        weak_known: frozenset[str] = frozenset(),
        explain: list[tuple[str, bool, str]] | None = None,
    ) -> None:
        """Decide word by word with ``NAME_RULES`` (first rule with an opinion wins)."""
        count = len(words)
        if not count:
            return
        covered = _covered(starts, ends, [(sp[0], sp[1]) for sp in spans] + blocked)
        ctx = _NameContext(self, text, starts, ends, words, bases, covered, known_tokens, blocked)
        names = self._names
        is_name = ctx.is_name
        found = False
        cue_words = _CUE_WORDS
        protected = self._protected
        file_words = ctx.file_words
        flags: list[int] = list(map(self._memo.get, bases))  # type: ignore[arg-type]
        if None in flags:  # a word the young memo lacks (a dict hit costs ~40 ns)
            lookup = self._flags
            flags = [lookup(b) if f is None else f for f, b in zip(flags, bases, strict=True)]
        # Candidates: capitalised words, lexicon names, known name words, words after a
        # cue and words in file names. A lower-case word of running text is not in a
        # name position and is never looked at (most words: this is the fast path).
        if explain is None:
            # the words the loop below would skip at once are no candidates (speed);
            # those a cue, a known value or a file name makes candidates come back
            candidate = [
                not f & _KEPT_OUTSIDE_NAME_POSITIONS and (f & _IN_NAMES > 0 or w[0].isupper())
                for w, f in zip(words, flags, strict=True)
            ]
        else:
            candidate = [
                w[0].isupper() or f & _IN_NAMES > 0 for w, f in zip(words, flags, strict=True)
            ]
        after_cue = [k + 1 for k, b in enumerate(bases[:-1]) if b in cue_words]
        for k in after_cue:
            candidate[k] = True
        if known_tokens or file_words is not None or "'" in text or "\u2019" in text:
            for k, b in enumerate(bases):
                if (
                    b in known_tokens
                    or (file_words is not None and file_words[k])
                    or ("'" in b and b.rsplit("'", 1)[-1] in names)
                ):
                    candidate[k] = True
        # Lower-case words the vocabulary does not know (typos, drug names - and names
        # typed in lower case): candidates for the rules that look at their position.
        lower_unknown: list[bool] | None = None
        for k in [k for k, f in enumerate(flags) if not f & (_SAFE | _NOT_LOWER_NAME)]:
            if words[k][0].islower():
                if lower_unknown is None:
                    lower_unknown = [False] * count
                lower_unknown[k] = candidate[k] = True
        ctx.lower_unknown = lower_unknown
        for i in [k for k, flag in enumerate(candidate) if flag and not covered[k]]:
            base = bases[i]
            if base in STOPWORDS or len(base) < 2:
                continue  # initials join a name later, never start one
            cued = i > 0 and bases[i - 1] in cue_words
            if not cued and explain is None and base not in known_tokens:
                # the rules' answer without calling them (speed): a device word, or a
                # safe word outside any name position, is kept
                if base in protected:
                    continue
                if flags[i] & (_SAFE | _IN_NAMES) == _SAFE and (
                    file_words is None or not file_words[i]
                ):
                    continue
            word = words[i]
            capital = word[0].isupper()
            in_names = flags[i] & _IN_NAMES > 0 or (
                "'" in base and base.rsplit("'", 1)[-1] in names
            )
            cue = _cue_before(text, starts, ends, bases, i) if cued else None
            if cue is None and explain is None and base not in known_tokens and base in protected:
                continue
            ctx.capital = capital
            ctx.in_names = in_names
            ctx.cue = cue
            # which rules can have an opinion on this word (the others would say None)
            upper = word.isupper()
            when = (
                _ANY
                | (_IF_KNOWN if base in known_tokens else 0)
                | (_IF_PROTECTED if base in protected else 0)
                | (_IF_TITLE if cue == "title" else _IF_PERSON if cue == "person" else 0)
                | (_IF_FILE if file_words is not None and file_words[i] else 0)
                | (_IF_IN_NAMES if in_names else 0)
                | (_IF_UPPER if upper else _IF_CAPITALISED if capital else 0)
                | (_IF_LOWER_UNKNOWN if lower_unknown is not None and lower_unknown[i] else 0)
            )
            for rule_name, rule, gate in NAME_RULES:
                if not gate & when:
                    continue
                decision = rule(ctx, i)
                if decision is not None:
                    if decision:
                        is_name[i] = found = True
                    if explain is not None:
                        explain.append((word, decision, rule_name))
                    break
            else:
                if explain is not None:
                    explain.append((word, False, "safe_word"))
        if weak_known:
            # A word of the patient's own full name that is also a common word ("Eco",
            # "Will", "Hope") is not a name on its own, but it is one when it stands,
            # capitalised, right next to a name: "Pt Eco, Etta", "Hope Will".
            for i in range(count):
                if is_name[i] or covered[i] or bases[i] not in weak_known:
                    continue
                left_gap = text[ends[i - 1] : starts[i]] if i > 0 else None
                right_gap = text[ends[i] : starts[i + 1]] if i + 1 < count else None
                capital = words[i][0].isupper()
                # in prose it must be capitalised; in a file name ("lena.ii_1995") not
                joins = _NAME_JOINS if capital else _FILE_NAME_JOINS
                # a neighbour already replaced (a known name phrase, a date) counts too
                left = left_gap is not None and (is_name[i - 1] or covered[i - 1])
                left = left and left_gap in joins
                right = right_gap is not None and (is_name[i + 1] or covered[i + 1])
                right = right and right_gap in joins
                if left or right:
                    is_name[i] = found = True
        known_names = [(sp[0], sp[1]) for sp in spans if sp[2] is Category.NAME]
        if known_names:
            # a known name phrase found earlier ("Christopher") is a name to grow from
            for k, flag in enumerate(_covered(starts, ends, known_names)):
                if flag:
                    is_name[k] = found = True
        if not found:
            return
        self._grow_names(text, starts, ends, words, bases, covered, is_name, file_words)
        placeholder_name = placeholder(Category.NAME)
        for i in range(count):
            if is_name[i]:
                spans.append((starts[i], ends[i], Category.NAME, placeholder_name))

    def _device_follows(
        self, text: str, starts: list[int], ends: list[int], bases: list[str], i: int
    ) -> bool:
        """'Edwards HemoSphere', 'Hamilton C6', 'CADD-Solis': part of a device name."""
        if self._device_after(text, starts, ends, bases, i):
            return True
        h = i - 1
        return (
            h >= 0
            and text[ends[h] : starts[i]] in ("-", " ")
            and (bases[h] in self._protected or _model_like(text, starts[h], ends[h]))
        )

    def _device_after(
        self, text: str, starts: list[int], ends: list[int], bases: list[str], i: int
    ) -> bool:
        """A device word or model code right after word ``i`` ("Zoll R Series", "C6")."""
        j = i + 1
        if (
            j < len(bases)
            and text[ends[i] : starts[j]] in ("", " ", "-")  # "Power, Art" is a name, not a device
            and (bases[j] in self._protected or _model_like(text, starts[j], ends[j]))
        ):
            return True
        return (  # "Zoll R Series"
            j + 1 < len(bases)
            and len(bases[j]) == 1
            and text[ends[i] : starts[j]] == " "
            and text[ends[j] : starts[j + 1]] == " "
            and bases[j + 1] in self._protected
        )

    def _next_is_name_word(
        self,
        text: str,
        starts: list[int],
        ends: list[int],
        bases: list[str],
        i: int,
        known_tokens: frozenset[str],
    ) -> bool:
        j = i + 1
        if j >= len(bases) or not _adjacent(text, ends[i], starts[j], bases[i]):
            return False
        return self._flags(bases[j]) & _IN_NAMES > 0 or bases[j] in known_tokens

    def _grow_names(
        self,
        text: str,
        starts: list[int],
        ends: list[int],
        words: list[str],
        bases: list[str],
        covered: list[bool],
        is_name: list[bool],
        file_words: list[bool] | None = None,
    ) -> None:
        """Spread names to the words beside them until nothing changes.

        A worklist of the words next to a name (a name only ever grows, so each word
        is looked at again only when a neighbour has just become a name).
        """
        count = len(words)
        pending = sorted({k for i in range(count) if is_name[i] for k in (i - 1, i + 1, i + 2)})
        while pending:
            grown: set[int] = set()
            for i in pending:
                if i < 0 or i >= count or is_name[i] or covered[i]:
                    continue
                left = (
                    i > 0
                    and is_name[i - 1]
                    and _adjacent(text, ends[i - 1], starts[i], bases[i - 1])
                )
                right = (
                    i + 1 < count
                    and is_name[i + 1]
                    and _adjacent(text, ends[i], starts[i + 1], bases[i])
                )
                if (left or right) and self._joins_name(
                    text, starts, ends, words, bases, i, left, right, file_words
                ):
                    is_name[i] = True
                    grown.update((i - 1, i + 1, i + 2))
                elif (
                    i > 1
                    and bases[i - 1] == "and"
                    and is_name[i - 2]
                    and words[i].istitle()
                    and (self._flags(bases[i]) & _IN_NAMES > 0)
                    and not _glued(text, starts[i], ends[i])
                ):
                    is_name[i] = True  # "Watson, Lewis and Abbott"
                    grown.update((i - 1, i + 1, i + 2))
            pending = sorted(grown)

    def _joins_name(
        self,
        text: str,
        starts: list[int],
        ends: list[int],
        words: list[str],
        bases: list[str],
        i: int,
        left: bool,
        right: bool,
        file_words: list[bool] | None = None,
    ) -> bool:
        """Does a word next to a name belong to it ("Jane <Doe>", "van der <Berg>")?"""
        base = bases[i]
        word = words[i]
        if _glued(text, starts[i], ends[i]):
            return False
        if len(word) == 1:
            # an initial: "J. Doe", "Jane Q. Public", "Jane Q Public", "katie b. curry"
            if file_words is not None and file_words[i] and word.isupper():
                return True  # "O-JERONIMO-trend.png"
            dotted = ends[i] < len(text) and text[ends[i]] == "."
            j = i + 1
            if (
                dotted
                and j < len(bases)
                and bases[j] in self._protected
                and self._device_follows(text, starts, ends, bases, j)
            ):
                return False  # "Donarelli B. Braun Perfusor": the device's initial
            if dotted and right and not left and i > 0 and self._flags(bases[i - 1]) & _IN_NAMES:
                return text[ends[i - 1] : starts[i]] == " "  # "grant g. [pierce]"
            return (word.isupper() or (dotted and left)) and (dotted or (left and right))
        if left and len(words[i - 1]) == 1 and text[ends[i - 1] : starts[i]] == ". ":
            # the word after "First M." is the surname, in the initial's case
            return base not in STOPWORDS and (words[i - 1].islower() or word[0].isupper())
        if base in PARTICLES:
            # "van der Berg", "Brijesh Das": a particle inside a name, or a surname after one
            if right and (left or word.islower() or word[0].isupper()):
                return True  # "van der Berg", "MAC BREEN", "De La Cruz"
            if file_words is not None and file_words[i]:
                return True  # "ECG_Le_Chase_2006.pdf": beside a name in a file name
            if not left:
                return False
            if len(base) >= 3 and _capitalized(word):
                return True
            j = i + 1  # "Ana van der Halve": particles between a name and a capital
            while j < len(bases) and bases[j] in PARTICLES and text[ends[j - 1] : starts[j]] == " ":
                j += 1
            return (
                j < len(bases)
                and text[ends[j - 1] : starts[j]] == " "
                and _capitalized(words[j])
                and bases[j] not in self._protected
            )
        if (
            right
            and word.isupper()
            and len(base) >= 3
            and text[ends[i] : starts[i + 1]] == ", "
            and words[i + 1].isupper()
            and (base not in self._protected or self._flags(base) & _IN_NAMES > 0)
        ):
            return True  # "partner: ECO, BARTOLOMEO", "BENNETT, DIANE": LAST, FIRST
        if left and base in _NAME_SUFFIXES and text[ends[i - 1] : starts[i]] in (" ", ", "):
            return True  # "Pauline Koch II", "John Doe, Jr."
        if base in STOPWORDS:
            # "eco, maria", "EcoMaria.xml": a lexicon name the stop list holds (faker's
            # odd entries) that is no English word, tight against a name
            if not self._flags(base) & _IN_NAMES or self._is_safe(base):
                return False
            tight = ("", "_", ", ", "-")
            return (right and text[ends[i] : starts[i + 1]] in tight) or (
                left and text[ends[i - 1] : starts[i]] in tight
            )
        if base in self._protected:
            # "Mary Edwards called" and "Bird, Ray" are people; "Doe Philips IntelliVue"
            # and "Amanda Nonin 3150" end at a device
            if file_words is not None and file_words[i] and self._flags(base) & _IN_NAMES:
                return True  # "EDWARDS-MICHAEL-trend.png": a surname in a file name
            if word.islower():
                if not self._flags(base) & _IN_NAMES:
                    return False  # "Krastov's bedside oximeter", "pt jane alert": prose
                if left and words[i - 1].islower() and text[ends[i - 1] : starts[i]] == " ":
                    return True  # "husband of heather bennett GE Dash": a surname
            if self._device_after(text, starts, ends, bases, i) and not (
                left and text[ends[i - 1] : starts[i]] in (", ", ",")
            ):
                return False  # "Amanda Braun Perfusor Space": a device name follows
            if _model_follows(text, starts, ends, i) or _NUMBER_AFTER_RE.match(text, ends[i]):
                return False
            j = i + 1
            if (
                right
                and bases[j] not in self._protected
                and _capitalized(word)
                and text[ends[i] : starts[j]] in _TIGHT_GAPS
            ):
                return True
            if not left:
                return False
            if j < len(words) and _adjacent(text, ends[i], starts[j], base):
                return (
                    bases[j] not in self._protected
                    and not _model_like(text, starts[j], ends[j])
                    and not _code_token_at(text, starts[j], ends[j])  # "alarm BATT_LOW"
                )
            return True
        if self._flags(base) & _IN_NAMES:
            return True
        if _model_follows(text, starts, ends, i):
            return False  # "Melanie AandD UA-651BLE": a maker before its model code
        if _capitalized(word) and base not in self._common:
            return True
        if _capitalized(word) and (
            (left and text[ends[i - 1] : starts[i]] == "-")
            or (right and text[ends[i] : starts[i + 1]] == "-")
        ):
            return True  # "Kavin Loebb-Love": a double-barrelled surname
        if (
            _capitalized(word)
            and left
            and text[ends[i - 1] : starts[i]] == " "
            and base not in MONTHS
            and base not in WEEKDAYS
        ):
            return True  # "Kavin Love": a capitalised common word right after a name
        if file_words is not None and file_words[i]:
            # "forte_kaylene_1134316.csv": beside a name in a file name, any word but
            # the file's own vocabulary is part of the name
            return base not in _FILE_WORDS and base not in _FILE_EXTENSIONS
        if len(base) >= 3 and not self._is_safe(base):
            return True  # an unknown word beside a name: fail closed
        if (
            left
            and word.islower()
            and words[i - 1].islower()
            and not self._is_safe(bases[i - 1])
            and text[ends[i - 1] : starts[i]] == " "
            and not base.endswith(_ENGLISH_ENDINGS)
            and _NAME_END_RE.match(text, ends[i])
        ):
            return True  # "spoke with son christopher gala.": the surname ends the clause
        neighbour = words[i - 1] if left else words[i + 1]
        return word.isupper() and len(base) >= 4 and neighbour.isupper()


# -- name rules -------------------------------------------------------------------


class _NameContext:
    """One message's words, as the name rules see them, and the word being decided."""

    __slots__ = (
        "bases",
        "capital",
        "covered",
        "cue",
        "ends",
        "file_words",
        "in_names",
        "is_name",
        "known",
        "lower_unknown",
        "scrubber",
        "starts",
        "text",
        "words",
    )  # fmt: skip

    def __init__(
        self,
        scrubber: Scrubber,
        text: str,
        starts: list[int],
        ends: list[int],
        words: list[str],
        bases: list[str],
        covered: list[bool],
        known: frozenset[str],
        blocked: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.scrubber = scrubber
        self.text = text
        self.starts = starts
        self.ends = ends
        self.words = words
        self.bases = bases
        self.covered = covered
        self.known = known
        self.is_name = [False] * len(words)
        # (the underscores of IEEE 11073 ids, "MDC_PULS_OXIM_SAT_O2", make no file name)
        underscores = text.count("_")
        if underscores and blocked:
            underscores -= sum(text.count("_", a, b) for a, b in blocked)
        self.file_words = (
            _file_words(text, starts, ends)
            if underscores or ("." in text and _FILE_ANCHOR_RE.search(text))
            else None
        )
        self.capital = False
        self.in_names = False
        self.cue: str | None = None
        self.lower_unknown: list[bool] | None = None

    def safe(self, base: str) -> bool:
        """An English, clinical or device word: never a name on its own."""
        return self.scrubber._is_safe(base)


def _rule_known_name(ctx: _NameContext, i: int) -> bool | None:
    """A word of the patient's own name (the codec's known values) - unless it is the
    manufacturer in "Edwards HemoSphere" while the relative is called Edwards."""
    base = ctx.bases[i]
    if base not in ctx.known:
        return None
    s = ctx.scrubber
    text, starts, ends, bases = ctx.text, ctx.starts, ctx.ends, ctx.bases
    return not (
        base in s._protected
        and not _beside_name(text, starts, ends, bases, ctx.is_name, ctx.known, i)
        and s._device_follows(text, starts, ends, bases, i)
    )


def _rule_code(ctx: _NameContext, i: int) -> bool | None:
    """Letters glued to digits ("SpO2", "MX450") and the words of an upper-case code
    ("OCCL_DOWN", "ERR_SENSOR_OFF") are codes, not names."""
    text, start, end = ctx.text, ctx.starts[i], ctx.ends[i]
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isdigit() or after.isdigit():
        return False  # "SpO2", "MX450"
    if after == "-" and _SHORT_CODE_AFTER_RE.match(text, end):
        return False  # "Qyzx-4"
    word = ctx.words[i]
    if (
        len(word) <= 5
        and not word[1:].islower()
        and not word[1:].isupper()
        and not _NAME_PREFIX_RE.match(word)
    ):
        return False  # "IoT", "QoS", "eGFR": a short word with an inner capital
    if (before == "_" or after == "_") and _code_token_at(text, start, end):
        return False  # "OCCL_DOWN" is a code; "KAVIN_LOEBB.xml" is a file name
    return None


def _code_token_at(text: str, start: int, end: int) -> bool:
    """Whether the word at start:end is part of an upper-case code such as BATT_LOW."""
    if not text[start:end].isupper():
        return False
    while start > 0 and (text[start - 1].isupper() or text[start - 1] in _CODE_CHARS):
        start -= 1
    while end < len(text) and (text[end].isupper() or text[end] in _CODE_CHARS):
        end += 1
    return bool(_CODE_TOKEN_RE.fullmatch(text, start, end)) and not _EXTENSION_AT_RE.match(
        text, end
    )


_CODE_CHARS = frozenset("_0123456789")
_VOWELS = frozenset("aeiouy")
#: Endings of English inflections and derivations: a lower-case word the word list
#: lacks but that ends so ("ambulating", "afebrile" does not) is prose, not a name.
_ENGLISH_ENDINGS = ("ing", "ed", "ly", "tion", "sion", "ment", "ness", "ous", "ive", "ful",
                    "able", "ible", "ize", "ise", "ized", "ised", "ity", "al", "ic")  # fmt: skip
_EXTENSION_AT_RE = re.compile(r"\.[A-Za-z]")
_SHORT_CODE_AFTER_RE = re.compile(r"-\d{1,3}(?![\d/.-])")


def _rule_device_term(ctx: _NameContext, i: int) -> bool | None:
    """Device and clinical vocabulary (and the site's keep_terms) stay, unless a title or
    a person cue with a name after it makes them a surname ("Dr. Welch", "wife of
    Power, Art", "employer: Hill Group")."""
    s = ctx.scrubber
    base = ctx.bases[i]
    if base not in s._protected:
        return None
    text, starts, ends, words, bases = ctx.text, ctx.starts, ctx.ends, ctx.words, ctx.bases
    cue = ctx.cue
    if cue == "title":
        return not _noun_after_title(ctx, i)  # "Dr. Welch"; not "nurse station"
    if cue != "person":
        return False
    protected = s._protected
    if (
        s._next_is_name_word(text, starts, ends, bases, i, ctx.known)
        and bases[i + 1] not in protected
    ):
        return True
    if _company_follows(text, starts, ends, bases, i):
        return True
    end = ends[i]
    if (
        end + 1 < len(text)
        and text[end] == "-"
        and text[end + 1].isupper()
        and _capitalized(words[i])
        and (
            i + 1 >= len(bases)
            or bases[i + 1] not in protected
            or bases[i + 1] == bases[i]
            or (s._flags(bases[i]) & _IN_NAMES > 0 and s._flags(bases[i + 1]) & _IN_NAMES > 0)
        )
    ):
        return True  # "employed by Edwards-Edwards", "Hamilton-Edwards": double-barrelled
    j = i + 1
    if (
        j < len(words)
        and words[i].isupper()
        and words[j].isupper()
        and len(words[j]) > 1
        and text[ends[i] : starts[j]] == ", "
        and bases[j] not in protected
    ):
        return True  # "Pt VERY, KAVIN": upper-case LAST, FIRST after a cue
    if (
        j < len(words)
        and (
            (_capitalized(words[i]) and _capitalized(words[j]))
            or (words[i].isupper() and words[j].isupper())
        )
        and text[ends[i] : starts[j]] == " "
        and (s._flags(bases[j]) & _IN_NAMES > 0 or bases[j] in s._protected)
        and not _model_follows(text, starts, ends, j)
        and (
            _NAME_END_RE.match(text, ends[j])
            or (
                s._flags(bases[i]) & _IN_NAMES > 0
                and s._flags(bases[j]) & _IN_NAMES > 0
                and not (
                    j + 1 < len(words)
                    and text[ends[j] : starts[j + 1]] == " "
                    and bases[j + 1] in s._protected
                )
            )
        )
    ):
        # "Patient: Art Hill;", "neighbor Art Cook at bedside", "husband ART HAMILTON":
        # two name-like words after a person cue, no device after them
        return True
    return (
        _capitalized(words[i])
        and _capital_follows(text, starts, ends, words, i)
        and (
            i + 1 >= len(words)
            or bases[i + 1] not in protected
            or text[ends[i] : starts[i + 1]] == ", "
        )
    )


def _rule_title(ctx: _NameContext, i: int) -> bool | None:
    """After a title ("Dr.", "Mrs", "Sister") comes a name, whatever the word - except
    a lower-case English word after a title that is also a noun ("nurse station",
    "sister ward")."""
    if ctx.cue != "title":
        return None
    return not _noun_after_title(ctx, i)


def _noun_after_title(ctx: _NameContext, i: int) -> bool:
    """ "nurse station", "sister ward": a lower-case English word after a title that is
    also a noun."""
    return (
        i > 0
        and ctx.bases[i - 1] in _NOUN_TITLES
        and ctx.words[i].islower()
        and ctx.safe(ctx.bases[i])
    )


_NOUN_TITLES = frozenset({"nurse", "sister", "brother", "father", "mother", "officer", "doctor"})


def _rule_person_cue(ctx: _NameContext, i: int) -> bool | None:
    """After a person cue ("patient", "wife of", "paged"): a capitalised word, an
    upper-case word, a lexicon name or a word the vocabulary does not know."""
    if ctx.cue != "person":
        return None
    s = ctx.scrubber
    text, starts, ends, words, bases = ctx.text, ctx.starts, ctx.ends, ctx.words, ctx.bases
    word, base = words[i], bases[i]
    if ctx.capital and _company_follows(text, starts, ends, bases, i):
        return True
    if ctx.in_names:
        if base not in s._common or ctx.capital:
            return True
        return s._next_is_name_word(text, starts, ends, bases, i, ctx.known)
    if _capitalized(word):
        return True  # "wife of Power, Art"
    if word.isupper():
        return True if len(base) >= 3 and base not in s._common else None
    if len(base) < 3 or ctx.safe(base) or base.endswith(_ENGLISH_ENDINGS):
        return None  # "pt ambulating": a verb the word list lacks
    return True  # "pt valery hanz"


def _rule_file_name(ctx: _NameContext, i: int) -> bool | None:
    """Inside a file name ("forte_kaylene_1134316.csv") a word the vocabulary does not
    know, or a lexicon name, is a name."""
    if ctx.file_words is None or not ctx.file_words[i]:
        return None
    base = ctx.bases[i]
    if base in _FILE_WORDS or base in _FILE_EXTENSIONS:
        return False
    if ctx.in_names and base not in ctx.scrubber._common:
        return True
    return True if len(base) >= 3 and not ctx.safe(base) else None


def _rule_lexicon(ctx: _NameContext, i: int) -> bool | None:
    """A name from the lexicon: alone when it is not also a common word; a common one
    ("Will", "Rose") only title-case, mid-sentence or before another name."""
    if not ctx.in_names:
        return None
    s = ctx.scrubber
    text, starts, ends, words, bases = ctx.text, ctx.starts, ctx.ends, ctx.words, ctx.bases
    word, base = words[i], bases[i]
    ambiguous = (
        base in s._common
        or len(base) <= 2
        or (len(base) <= 3 and word.isupper())
        or (word.islower() and ctx.safe(base))  # "with walker": prose, unless context says
    )
    if not ambiguous:
        return True
    if word.islower() and base not in s._common and len(base) > 2:
        # "grant g. pierce", "dean smith": a lower-case English word that is also a
        # name, when an initial or another name follows
        j = i + 1
        if j < len(words) and (
            (
                len(words[j]) == 1
                and text[ends[i] : starts[j]] == " "
                and text[ends[j] : ends[j] + 1] == "."
            )
            or s._next_is_name_word(text, starts, ends, bases, i, ctx.known)
        ):
            return True
        if (
            i >= 2
            and len(words[i - 1]) == 1
            and text[ends[i - 1] : starts[i]] == ". "
            and s._flags(bases[i - 2]) & _IN_NAMES > 0
        ):
            return True  # "grant g. pierce": the surname after a name and an initial
        if (
            i >= 2
            and text[ends[i - 1] : starts[i]] == ", "
            and s._flags(bases[i - 1]) & _IN_NAMES > 0
            and _cue_before(text, starts, ends, bases, i - 1) == "person"
        ):
            return True  # "patient eco, maria": LAST, first after a person cue
        return None
    if word.istitle() and (
        not _sentence_start(text, starts[i])
        or _initial_then_name(text, starts, ends, words, bases, i, s._names)
        or (
            s._next_is_name_word(text, starts, ends, bases, i, ctx.known)
            and words[i + 1][0].isupper()
        )
    ):
        return True
    return None


def _rule_unknown_capitalised(ctx: _NameContext, i: int) -> bool | None:
    """Fail closed: a capitalised word of 3+ letters the vocabulary does not know is a
    name ("shipped to Valery Hanz") - unless a model code follows ("Zentrix Q5"). Of
    two letters ("seen with Ly"), only mid-sentence and not a label before a number
    ("Na 140") or half of a hyphenated word ("Wi-Fi")."""
    word, base = ctx.words[i], ctx.bases[i]
    if len(base) < 2 or not _capitalized(word) or ctx.safe(base):
        return None
    text, start, end = ctx.text, ctx.starts[i], ctx.ends[i]
    if len(base) == 2 and (
        _sentence_start(text, start)
        or (start > 0 and text[start - 1] == "-")
        or text[end : end + 1] == "-"
        or _NUMBER_AFTER_RE.match(text, end) is not None
    ):
        return None
    return not _model_follows(text, ctx.starts, ctx.ends, i)


def _rule_unknown_upper(ctx: _NameContext, i: int) -> bool | None:
    """Fail closed in upper case: an unknown word of 4+ letters ("KAVIN, LOEBB"), or of
    3 next to another unknown upper-case word; acronyms are in the vocabulary."""
    word, base = ctx.words[i], ctx.bases[i]
    if not word.isupper() or len(base) < 3 or ctx.safe(base):
        return None
    if not any(ch in _VOWELS for ch in base):
        return False  # "DHCP", "HTTPS": no vowel, an acronym
    if _model_follows(ctx.text, ctx.starts, ctx.ends, i):
        return False
    if len(base) >= 4:
        return True
    text, starts, ends, words, bases = ctx.text, ctx.starts, ctx.ends, ctx.words, ctx.bases
    for j in (i - 1, i + 1):
        if 0 <= j < len(words) and words[j].isupper() and len(bases[j]) >= 3:
            gap = text[ends[min(i, j)] : starts[max(i, j)]]
            if gap in (" ", ", ", ",") and not ctx.safe(bases[j]):
                return True
    return None


def _rule_unknown_lower(ctx: _NameContext, i: int) -> bool | None:
    """Fail closed in lower case, but only in a name position: a word the vocabulary
    does not know after "@" or a chat cue ("@kidrir", "user=nka", "see hevil"), as a
    speaker ("vosayn: i think", "mayn said", "mayn is asking"), or next to another
    unknown lower-case word ("session for tlo ayin", "obachike al-oboobochike").
    A lone unknown word in running text (a typo, a drug) stays."""
    lower = ctx.lower_unknown
    if lower is None or not lower[i]:
        return None
    text, starts, ends, bases = ctx.text, ctx.starts, ctx.ends, ctx.bases
    start, end = starts[i], ends[i]
    count = len(bases)
    if start > 0 and text[start - 1] == "@":
        return True  # a chat mention (an e-mail address is found before)
    # a speaker opens a line or a clause ("wardlink.uplink:" is a logger, not a person)
    speaker = (start == 0 or text[start - 1] in " \t\n") and _sentence_start(text, start)
    if speaker and text[end : end + 2] == ": ":
        return True  # "vosayn: i think the alaris in 6 is broken"
    j = i + 1
    if j < count and text[end : starts[j]] == " ":
        following = bases[j]
        if following in _SPEECH_VERBS or (
            following in ("is", "was")
            and j + 1 < count
            and bases[j + 1] in _SPEECH_VERBS
            and text[ends[j] : starts[j + 1]] == " "
        ):
            return True  # "tytofyth said", "mayn is asking"
        if following == "from" and speaker:
            return True  # "Follow-up: faer from pharmacy says ..."
    h = i - 1
    if h >= 0 and bases[h] in _CHAT_CUES and text[ends[h] : start] in (" ", ": ", "=", ":"):
        return True  # "user=nka.duengao", "see hevil quixax", "cc kij"
    # a drug or an English derivation beside an unknown word ("titrate norepinephrine")
    # is prose; two such words are not a name
    english = bases[i].endswith(_PROSE_ENDINGS)
    for step in (-1, 1):
        k, gap_ok = i, True
        while gap_ok:
            nxt = k + step
            if not 0 <= nxt < count:
                break
            left, right = (nxt, k) if step < 0 else (k, nxt)
            gap_ok = text[ends[left] : starts[right]] in _LOWER_PAIR_GAPS
            k = nxt
            if gap_ok and bases[k] in PARTICLES and ctx.words[k].islower():
                continue  # "obachike al-oboobochike": look past the particle
            if gap_ok and lower[k] and not (english and bases[k].endswith(_PROSE_ENDINGS)):
                return True  # two unknown lower-case words side by side
            break
    return None


#: Endings of English derivations and of drug and procedure names (INN stems).
_PROSE_ENDINGS = (*_ENGLISH_ENDINGS, "ate", "ine", "ide", "ole", "one", "pril", "sartan",
                  "statin", "mycin", "cillin", "mab", "nib", "pam", "lam", "vir", "profen",
                  "fenac", "formin", "parin", "cycline", "xacin", "olol", "tidine", "oxetine",
                  "triptan", "itis", "osis", "emia", "ectomy", "otomy", "scopy", "gram",
                  "graphy", "algia", "pathy", "plasty", "ase", "ium", "ics")  # fmt: skip
_SPEECH_VERBS: frozenset[str] = _words(
    """
    said says say asked asks asking wants wanted needs needed called calls texted paged
    reports reported states stated thinks thought told tells mentioned wrote writes replied
    replies agrees agreed prefers refused refuses declined declines
    """
)
_CHAT_CUES: frozenset[str] = _words(
    "see ask tell user username login logon uid cc hi hey hello dear thanks thx ty bye ping"
)
_LOWER_PAIR_GAPS = frozenset({" ", ".", "-", "_"})


# When a rule can have an opinion at all (speed: the others are not called). Each
# rule returns None outside its gate, so the gate changes no decision.
_ANY, _IF_KNOWN, _IF_PROTECTED, _IF_TITLE, _IF_PERSON, _IF_FILE = 1, 2, 4, 8, 16, 32
_IF_IN_NAMES, _IF_CAPITALISED, _IF_UPPER, _IF_LOWER_UNKNOWN = 64, 128, 256, 512

#: The name rules, in order: the first with an opinion (True: a name, False: keep)
#: decides; a word no rule claims is kept. The rule's name is the reason
#: ``Scrubber.explain`` reports; the gate says which words the rule looks at.
NAME_RULES: tuple[tuple[str, Callable[[_NameContext, int], bool | None], int], ...] = (
    ("known_name", _rule_known_name, _IF_KNOWN),
    ("code", _rule_code, _ANY),
    ("device_term", _rule_device_term, _IF_PROTECTED),
    ("title", _rule_title, _IF_TITLE),
    ("person_cue", _rule_person_cue, _IF_PERSON),
    ("file_name", _rule_file_name, _IF_FILE),
    ("lexicon", _rule_lexicon, _IF_IN_NAMES),
    ("unknown_capitalised", _rule_unknown_capitalised, _IF_CAPITALISED),
    ("unknown_upper", _rule_unknown_upper, _IF_UPPER),
    ("unknown_lower", _rule_unknown_lower, _IF_LOWER_UNKNOWN),
)

_CUE_WORDS: frozenset[str] = PERSON_CUES | TITLE_CUES | _LINK_WORDS
_FILE_EXTENSIONS: frozenset[str] = _words(
    """
    csv pdf xml txt json hl7 dat log png jpg jpeg gif tif tiff bmp dcm zip gz tar xls xlsx doc
    docx rtf edf bin raw html htm md yaml yml ini cfg tmp bak
    """
)
#: Words a file name holds beside a patient's name that are not part of it.
_FILE_WORDS: frozenset[str] = _words(
    """
    export exports report reports reading readings data log logs scan scans upload download
    file files backup summary trend trends record records result results raw final draft copy
    tmp temp img image images vitals strip strips waveform waveforms ecg ekg spo nibp chart
    notes note pt patient session dump trace test tests sample samples batch new old
    """
)
#: Where a file name shows: an underscore or a known extension after a dot.
_FILE_ANCHOR_RE = re.compile(r"_|\.(?i:" + "|".join(sorted(_FILE_EXTENSIONS)) + r")(?![A-Za-z0-9])")
#: A whole run of characters between delimiters that holds an anchor: the run starts
#: after a delimiter, and the engine finds it in one pass.
_FILE_CHUNK_RE = re.compile(
    r"(?<![^ \t\r\n,;:()\[\]<>\"'])[^ \t\r\n,;:()\[\]<>\"']*?"
    rf"(?:{_FILE_ANCHOR_RE.pattern})[^ \t\r\n,;:()\[\]<>\"']*"
)


def _file_words(text: str, starts: list[int], ends: list[int]) -> list[bool] | None:
    """Which words sit inside a file-name-like chunk ("ECG_Doe_Jane_1962.pdf")."""
    chunks = [
        chunk.span()
        for chunk in _FILE_CHUNK_RE.finditer(text)
        if not _CODE_TOKEN_RE.fullmatch(text, *chunk.span())
    ]
    if not chunks:
        return None
    flags = [False] * len(starts)
    for chunk_start, chunk_end in chunks:
        k = bisect_right(ends, chunk_start)
        while k < len(starts) and starts[k] < chunk_end:
            flags[k] = True
            k += 1
    return flags


#: An upper-case code joined by underscores ("BATT_LOW", "ERR_SENSOR_OFF"), not a file.
_CODE_TOKEN_RE = re.compile(r"(?![A-Z0-9_]*\d{4})[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def _model_follows(text: str, starts: list[int], ends: list[int], i: int) -> bool:
    """'Zentrix Q5', 'Acme MX-450': a device model code right after the word."""
    position = ends[i]
    while position < len(text) and text[position].isalpha():
        position += 1  # the rest of a camel-case word: "AandD UA-651BLE"
    if position + 2 > len(text) or text[position] not in " -":
        return False
    match = _MODEL_CODE_RE.match(text, position + 1)
    return match is not None


_MODEL_CODE_RE = re.compile(r"(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]*(?![a-z])")


# -- tokens -----------------------------------------------------------------------


def _tokenize(
    text: str, protected: frozenset[str]
) -> tuple[list[int], list[int], list[str], list[str]]:
    """Words with their positions and folded forms; camel case split ("DoeJane")."""
    ascii = text.isascii()
    # on ASCII text the ASCII pattern finds the same words, about twice as fast
    matches = list((_ASCII_WORD_RE if ascii else WORD_RE).finditer(text))
    starts = [m.start() for m in matches]
    ends = [m.end() for m in matches]
    words = [m.group() for m in matches]
    if ascii and "'" not in text:
        lowered = text.lower()
        bases = [lowered[a:b] for a, b in zip(starts, ends, strict=True)]
    else:
        bases = [_base(word) for word in words]
    if ascii:
        # only the words with a camel hump in them ("DoeJane", "ECGDoe")
        hints = {bisect_right(starts, m.start()) - 1 for m in _CAMEL_HINT_RE.finditer(text)}
        if not hints:
            return starts, ends, words, bases  # no "DoeJane" anywhere: nothing to split
        indexes: Iterable[int] = sorted(k for k in hints if k >= 0)
    else:
        indexes = range(len(words))
    camel = [
        i
        for i in indexes
        if len(word := words[i]) > 3
        and not word.islower()
        and not word.istitle()
        and not word.isupper()
        and bases[i] not in protected
        and not _NAME_PREFIX_RE.match(word)
    ]
    for i in reversed(camel):  # rare: split in place, from the end so indexes hold
        start = starts[i]
        parts = _camel_parts(words[i])
        starts[i : i + 1] = [start + offset for offset, _ in parts]
        ends[i : i + 1] = [start + offset + len(piece) for offset, piece in parts]
        words[i : i + 1] = [piece for _, piece in parts]
        bases[i : i + 1] = [_base(piece) for _, piece in parts]
    return starts, ends, words, bases


def _camel_parts(word: str) -> list[tuple[int, str]]:
    """'DoeJane' -> Doe, Jane; 'ECGDoe' -> ECG, Doe; 'UreñaAdela' -> Ureña, Adela."""
    if word.isascii():
        return [(m.start(), m.group()) for m in CAMEL_RE.finditer(word)]
    cuts = [0]
    for k in range(1, len(word)):
        before, here = word[k - 1], word[k]
        after = word[k + 1] if k + 1 < len(word) else ""
        if (before.islower() and here.isupper()) or (
            before.isupper() and here.isupper() and after.islower()
        ):
            cuts.append(k)
    cuts.append(len(word))
    return [(a, word[a:b]) for a, b in pairwise(cuts) if b > a]


def _base(word: str) -> str:
    base = word.lower() if word.isascii() else fold(word)
    if len(base) > 3 and (base.endswith("'s") or base.endswith("\u2019s")):
        return base[:-2]
    return base


def _covered(starts: list[int], ends: list[int], spans: list[tuple[int, int]]) -> list[bool]:
    """Which words already sit inside a shape found earlier."""
    covered = [False] * len(starts)
    count = len(starts)
    for span_start, span_end in spans:
        i = bisect_right(ends, span_start)
        while i < count and starts[i] < span_end:
            covered[i] = True
            i += 1
    return covered


_GENERIC_ORG_WORDS = _words(
    """
    general hospital hospitals medical center centre clinic clinics health healthcare university
    memorial regional community county saint st inc llc ltd group corp company and sons partners
    associates the of
    """
)
_CUE_GAP = frozenset(" \t:,(#")
_TIGHT_GAPS = frozenset({"", " ", ",", ", ", "_", "-", "."})
_COMPANY_WORDS = frozenset(
    {"inc", "llc", "ltd", "plc", "group", "corp", "corporation", "co", "company", "partners",
     "associates", "sons", "holdings", "industries", "gmbh", "ag", "sa"}
)  # fmt: skip


def _company_follows(
    text: str, starts: list[int], ends: list[int], bases: list[str], i: int
) -> bool:
    """'Hill Group', 'Abbott Inc', 'Baxter and Sons': a company name after an employer cue."""
    j = i + 1
    if j < len(bases) and bases[j] == "and":
        j += 1
    return j < len(bases) and bases[j] in _COMPANY_WORDS and ends[i] <= starts[j] <= ends[i] + 6


#: Words between a value and its label after it: "is the MRN", "as MR#".
_VALUE_LINKS = frozenset({"is", "was", "as", "the", "his", "her", "their", "its"})


def _value_may_precede(text: str, start: int, bases: list[str], i: int) -> bool:
    """Cheap test before ``VALUE_BEFORE_LABEL_RE``: a "(" or "=" just before the label,
    or a linking word ("is the", "as")."""
    before = text[max(0, start - 3) : start].rstrip(" \t")
    return before.endswith(("(", "=")) or (i > 0 and bases[i - 1] in _VALUE_LINKS)


def _a_fraction(text: str, start: int, value: str) -> bool:
    """A month/day match that reads as a score or a fraction: "pain 7/10", "1/2 tab"
    (a date word before it - "on 3/4", "since 7/10" - keeps it a date)."""
    partial = PARTIAL_MONTH_DAY_RE.match(value)
    if partial is None or len(value) != partial.end():
        return False  # a full date, or one with a time after it
    before = _word_before(text, start)
    if before in DATE_CUE_WORDS:
        return False
    return (
        before in FRACTION_BEFORE_WORDS
        or FRACTION_AFTER_RE.match(text, start + len(value)) is not None
    )


def _age_and_sex(text: str, start: int, end: int) -> bool:
    """Whether an age followed by a letter ("94F", "96 M", "97m") reads as age and sex."""
    after = text[end : end + 3].lstrip(" \t,;|")[:1]
    if after not in ("M", "F", "m", "f"):
        return True  # "94 yo", "94-year-old": the unit says it
    before = _word_before(text, start)
    if after in ("m", "f"):
        return before in _AGE_LOWER_BEFORE
    return before not in _NOT_AGE_BEFORE and "\u00b0" not in text[end : end + 3]


_YEAR_UNTIL: list[float] = [0.0, 0.0]  # [this year, when it ends (epoch seconds)]


def _this_year() -> int:
    """The current UTC year, recomputed only when it ends (dates are common in text)."""
    now = time.time()
    if now >= _YEAR_UNTIL[1]:
        year = datetime.now(UTC).year
        _YEAR_UNTIL[:] = [float(year), datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()]
    return int(_YEAR_UNTIL[0])


def _word_before(text: str, start: int) -> str:
    """The folded word just before ``start``, across up to three spaces or marks."""
    end = start
    while end > 0 and start - end < 3 and not text[end - 1].isalnum():
        end -= 1
    begin = end
    while begin > 0 and text[begin - 1].isalpha():
        begin -= 1
    return text[begin:end].lower()


def _letter_prefix_start(text: str, start: int) -> int:
    """Where 1-4 letters glued before a number begin ("MR" in MR0012345), else ``start``."""
    head = start - 1 if start > 0 and text[start - 1] == "-" else start
    letters = 0
    while head > 0 and text[head - 1].isalpha() and letters < 5:
        head -= 1
        letters += 1
    if not 1 <= letters <= 4 or (head > 0 and text[head - 1].isalnum()):
        return start
    if text[head : head + 2].upper() == "HL":
        return start  # HL7 table references such as HL70063
    return head


def _capital_follows(
    text: str, starts: list[int], ends: list[int], words: list[str], i: int
) -> bool:
    """'Power, Art' / 'Art K. Church': another capitalised word or an initial next."""
    j = i + 1
    if j >= len(words) or text[ends[i] : starts[j]] not in (" ", ", "):
        return False
    nxt = words[j]
    if len(nxt) == 1:
        return nxt.isupper() and ends[j] < len(text) and text[ends[j]] == "."
    return _capitalized(nxt) and not _model_like(text, starts[j], ends[j])


def _model_like(text: str, start: int, end: int) -> bool:
    """'C6', 'MX450', 'HEM-907XL': the model part of a device name."""
    if _glued(text, start, end):
        return True
    return (
        text[start:end].isupper()
        and end + 1 < len(text)
        and text[end] == "-"
        and text[end + 1].isdigit()
    )


def _capitalized(word: str) -> bool:
    """'Doe', 'McKie', "O'Brien" - but not 'DOE' or 'doe'."""
    return word[0].isupper() and not word.isupper()


def _glued(text: str, start: int, end: int) -> bool:
    """Letters glued to digits ("SpO2", "MX450") are codes, not names."""
    return (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit())


def _adjacent(text: str, left_end: int, right_start: int, left_base: str) -> bool:
    gap = text[left_end:right_start]
    if not gap:
        return True
    if len(gap) > 3 or any(ch not in _ADJACENT_GAP for ch in gap):
        return False
    if "-" in gap and len(gap) > 1:
        return False  # "Series - Amy": a dash between spaces separates clauses
    # "Doe. Will recheck": a full stop and a space end the name, unless after an initial
    return not ("." in gap and " " in gap and len(left_base) > 1 and left_base not in TITLE_CUES)


def _initial_then_name(
    text: str,
    starts: list[int],
    ends: list[int],
    words: list[str],
    bases: list[str],
    i: int,
    names: Container[str],
) -> bool:
    """'Bill X. Price': a name, a middle initial with its dot, and another name."""
    if i + 2 >= len(words):
        return False
    initial, last = words[i + 1], words[i + 2]
    return (
        len(initial) == 1
        and initial.isupper()
        and text[ends[i] : starts[i + 1]] == " "
        and text[ends[i + 1] : starts[i + 2]] == ". "
        and _capitalized(last)
        and bases[i + 2] in names
    )


def _sentence_start(text: str, start: int) -> bool:
    position = start - 1
    while position >= 0 and text[position] in " \t\"'([":
        position -= 1
    return position < 0 or text[position] in _SENTENCE_END


def _cue_before(
    text: str, starts: list[int], ends: list[int], bases: list[str], i: int
) -> str | None:
    """'title' after Mr/Dr/..., 'person' after patient/wife of/name:, else None."""
    j = i - 1
    hops = 0
    while j >= 0 and hops < 3:
        gap = text[ends[j] : starts[j + 1]]
        if len(gap) > 4 or _glued(text, starts[j], ends[j]):
            return None
        base = bases[j]
        if base in TITLE_CUES and gap in (" ", ". ", "."):
            return "title"  # "Dr. Welch", "Sister Mary" - but not "(sister). FreeStyle"
        if any(ch not in _CUE_GAP for ch in gap) and not (len(base) <= 3 and gap in (". ", ".")):
            return None  # "notified - Spacelabs": the cue belongs to another clause
        if base in PERSON_CUES:
            return "person"
        if base not in _LINK_WORDS:
            return None
        j -= 1
        hops += 1
    return None


# -- known values -----------------------------------------------------------------


def _prepare_known(known: Sequence[str]) -> tuple[frozenset[str], list[str], set[str]]:
    """Known values as name words, whole phrases and digit strings.

    Single clinical or function words ("ICU", "the") are skipped: a dropped field
    holding a ward name must not erase that word from every note.
    """
    if not known:
        return frozenset(), [], set()
    tokens: set[str] = set()
    phrases: list[str] = []
    digit_sigs: set[str] = set()
    for raw in known:
        value = str(raw).strip()
        if len(value) < 2:
            continue
        folded = fold(value)
        if folded in CLINICAL_TERMS or folded in STOPWORDS:
            continue  # a lone ward or device word from a dropped field is not a name
        if len(value) >= 3 and not value.isdigit():
            phrases.append(value.lower())  # bare numbers: only as digit strings below
        digits = _NON_DIGIT_RE.sub("", value)
        if len(digits) >= 4 and not _WORDS_WITH_NUMBER_RE.search(value):
            # an identifier or a phone however punctuated - but not the house number
            # of "9560 Fleming Shoal", which would take "Nonin 9560" (the whole
            # address is matched as a phrase above)
            digit_sigs.add(digits)
        if not any(ch.isdigit() for ch in value):
            words = [
                w for w in (fold(m.group()) for m in WORD_RE.finditer(value))
                if w not in _GENERIC_ORG_WORDS
            ]  # fmt: skip
            # a full name ("Art Small") names all its words, clinical-sounding or not
            tokens.update(
                base
                for base in words
                if len(base) >= 2
                and base not in STOPWORDS
                and (len(words) > 1 or base not in CLINICAL_TERMS)
            )
    return frozenset(tokens), phrases, digit_sigs


def _beside_name(
    text: str,
    starts: list[int],
    ends: list[int],
    bases: list[str],
    is_name: list[bool],
    known_tokens: frozenset[str],
    i: int,
) -> bool:
    """Whether word ``i`` stands right next to a name or another word of a known name.

    "patient Art Power", "Diana Fisher PR 62", "BennettArt_1945.xml": a known name word
    next to another part of the same name is the person, even when both are also
    device words.
    """
    if i > 0 and (is_name[i - 1] or bases[i - 1] in known_tokens):
        gap = text[ends[i - 1] : starts[i]]
        if gap in _NAME_JOINS or (gap == ". " and len(bases[i - 1]) == 1):
            return True
    if (
        i > 1
        and len(bases[i - 1]) == 1
        and text[ends[i - 1] : starts[i]] in (". ", " ")
        and text[ends[i - 2] : starts[i - 1]] == " "
        and (is_name[i - 2] or bases[i - 2] in known_tokens)
    ):
        return True  # "Rachel T. Edwards": a middle initial between two parts of a name
    return (
        i + 1 < len(bases)
        and text[ends[i] : starts[i + 1]] in _NAME_JOINS
        and bases[i + 1] in known_tokens
    )


# What may stand between two parts of one name: "Art Power", "Power, Art", and in
# file names "PowerArt", "Power_Art", "Power-Art", "power.art".
_NAME_JOINS = ("", " ", ", ", "_", "-", ".")
_FILE_NAME_JOINS = ("", "_", "-", ".")


def _weak_known(known: Sequence[str]) -> frozenset[str]:
    """Words of known multi-word names that are too common to be name tokens alone."""
    weak: set[str] = set()
    for raw in known:
        value = str(raw)
        if any(ch.isdigit() for ch in value):
            continue
        words = [fold(m.group()) for m in WORD_RE.finditer(value)]
        if len(words) > 1:
            weak.update(w for w in words if len(w) >= 2)
    return frozenset(weak)


def _known_spans(text: str, phrases: list[str], digit_sigs: set[str], spans: list[Span]) -> None:
    lowered = text.lower()
    if len(lowered) != len(text):  # rare Unicode whose lower case changes length
        lowered = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
    for phrase in phrases:
        category = Category.ID if any(ch.isdigit() for ch in phrase) else Category.NAME
        start = lowered.find(phrase)
        while start >= 0:
            end = start + len(phrase)
            if (start == 0 or not lowered[start - 1].isalnum()) and (
                end == len(lowered) or not lowered[end].isalnum()
            ):
                spans.append((start, end, category, placeholder(category)))
            start = lowered.find(phrase, start + 1)
    if digit_sigs:
        for match in _KNOWN_RUN_RE.finditer(text):
            digits = _NON_DIGIT_RE.sub("", match.group())
            if any(sig == digits or (len(sig) >= 5 and sig in digits) for sig in digit_sigs):
                spans.append((match.start(), match.end(), Category.ID, placeholder(Category.ID)))


# -- output -----------------------------------------------------------------------


def _merge(text: str, spans: list[Span]) -> list[Finding]:
    """Sort, fuse overlaps (the earlier, longer span's category wins), join names."""
    if not spans:
        return []
    spans.sort(key=lambda s: (s[0], s[0] - s[1]))
    merged: list[Finding] = []
    for start, end, category, replacement in spans:
        if merged:
            last = merged[-1]
            if start < last.end:
                if end > last.end:
                    if last.category is Category.AGE:  # its "90+" text no longer fits
                        merged[-1] = Finding(last.start, end, category, placeholder(category))
                    else:
                        merged[-1] = Finding(last.start, end, last.category, last.replacement)
                continue
            if (
                category is Category.NAME
                and last.category is Category.NAME
                and start - last.end <= 3
                and all(ch in _ADJACENT_GAP for ch in text[last.end : start])
            ):
                merged[-1] = Finding(last.start, end, last.category, last.replacement)
                continue
        merged.append(Finding(start, end, category, replacement))
    return merged
