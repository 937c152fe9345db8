"""The free-text scrubber: recall first, clinical values kept, fast enough for a gateway.

A message is read in one linear pass over its words and one over its digit runs:

1. Shapes (``patterns.py``): each identifier regex is tried only where it can
   start - at digit runs (dates, phones, SSNs, addresses, long numbers), at
   trigger words found by set lookup ("MRN", "serial", month names, "lives in"),
   or when a substring test says it may be present ("@", "://", "::").
2. Names: each remaining word is looked up in the name lexicon, in the words of
   the patient's own known values, and in the word lists of ``vocabulary.py``;
   context settles the doubtful ones - a title or cue before it ("Dr",
   "patient", "wife of"), a capital letter mid-sentence, or a neighbouring name
   ("April May", "Doe, Jane", ``ECG_Doe_Jane``).

Known values (what the codec split into ``PatientContext``) are also matched as
whole phrases in any case, and as digit strings however they are punctuated.

Everything found becomes a typed placeholder (``[NAME]``, ``[DATE]``, ...); ages
over 89 become ``90+``. The policy wraps the scrubber and drops the text if it
ever fails (fail closed).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from wardlink.phi.lexicon import PARTICLES, NameLexicon, fold, load_lexicon
from wardlink.phi.patterns import (
    CAMEL_RE,
    CITY_STATE_RE,
    CODE_CONTEXT_RE,
    COUNTY_WORDS,
    DIGIT_START_RE,
    EMAIL_RE,
    HOST_BEFORE_RE,
    IPV6_RE,
    MAC_RE,
    MDC_REF_RE,
    OTHER,
    PATH_AFTER_RE,
    PLACE_BEFORE_RE,
    STATE_ABBRS,
    STATE_LAST_WORDS,
    TLD_RE,
    TRIGGERS,
    URL_RE,
    VIN_RE,
    WORD_RE,
    YEAR_RE,
    ZIP_AFTER_RE,
    Category,
    digit_matcher,
    next_class,
)
from wardlink.phi.vocabulary import (
    CLINICAL_TERMS,
    COMMON_WORDS,
    PERSON_CUES,
    STOPWORDS,
    TITLE_CUES,
)
from wardlink.phi.vocabulary import words as _words

TextDateMode = Literal["drop", "year", "keep"]
Span = tuple[int, int, Category, str]

_KNOWN_RUN_RE = re.compile(r"\d[\d().-]*\d")
_CAMEL_HINT_RE = re.compile(r"[a-z][A-Z][a-z]|[A-Z]{2}[a-z]{2}")
_NAME_PREFIX_RE = re.compile(
    r"^(?:Mc|Mac|O['\u2019]|D['\u2019]|De|Di|Da|Du|La|Le|Van|Von|St)[A-Z][a-z]"
)
_NON_DIGIT_RE = re.compile(r"\D")
_AGE_NUMBER_RE = re.compile(r"(?:9\d|1[0-2]\d)(?!.*\d)")
_ADJACENT_GAP = frozenset(" \t,._-^'\u2019/")
_SENTENCE_END = frozenset(".!?:;\n\r|>")
_LINK_WORDS = frozenset({"of", "is", "was", "named", "called", "to", "for", "with", "by", "at"})
_URL_TRAILING = ".,;:)]}!?"


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of PHI found in a text: where, what kind, and what replaces it."""

    start: int
    end: int
    category: Category
    replacement: str


def placeholder(category: Category) -> str:
    return f"[{category.value}]"


class Scrubber:
    """Replaces PHI in free text with typed placeholders. Stateless; share one freely."""

    def __init__(
        self,
        *,
        lexicon: NameLexicon | None = None,
        keep_terms: Iterable[str] = (),
        dates: TextDateMode = "drop",
    ) -> None:
        # The lexicon's own set, not a copy: the log filter's scrubber and the policy's
        # share it (each used to hold a 0.5 MB union of its own).
        self._names = (lexicon if lexicon is not None else load_lexicon()).names
        site_terms = {fold(t) for t in keep_terms}
        self._protected: frozenset[str] = (
            CLINICAL_TERMS | site_terms if site_terms else CLINICAL_TERMS
        )
        self._common: frozenset[str] = COMMON_WORDS
        self._dates: TextDateMode = dates

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

    def find(self, text: str, known: Sequence[str] = ()) -> list[Finding]:
        """All PHI in ``text``: sorted, non-overlapping, neighbouring names merged."""
        spans: list[Span] = []
        self._digit_shapes(text, spans)
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
            text, starts, ends, words, bases, spans, known_tokens, blocked, _weak_known(known)
        )
        return _merge(text, spans)

    # -- shapes ------------------------------------------------------------------

    def _add(self, spans: list[Span], start: int, end: int, category: Category, value: str) -> None:
        if category is Category.AGE:
            replacement = _AGE_NUMBER_RE.sub("90+", value, count=1)
        elif category is Category.DATE and self._dates != "drop":
            year = YEAR_RE.search(value)
            if self._dates == "keep":
                return
            replacement = year.group(1) if year else placeholder(category)
        else:
            replacement = placeholder(category)
        spans.append((start, end, category, replacement))

    def _digit_shapes(self, text: str, spans: list[Span]) -> None:
        covered_to = -1
        length = len(text)
        for run in DIGIT_START_RE.finditer(text):
            start, digits_end = run.span()
            if start < covered_to:
                continue
            nxt = next_class(text[digits_end]) if digits_end < length else OTHER
            digit_start = run.start(2)
            digits = digits_end - digit_start
            match = None
            if digit_start != start:  # a "+" or "(" before the digits
                matcher = digit_matcher(text[start], digits, nxt)
                if matcher is not None:
                    match = matcher[0].match(text, start)
            if match is None:
                matcher = digit_matcher("d", digits, nxt)
                if matcher is not None:
                    match = matcher[0].match(text, digit_start)
            if match is None:
                self._prefixed_number(text, digit_start, digits_end, spans)
                continue
            assert matcher is not None
            category = matcher[1][match.lastgroup or ""]
            m_start, m_end = match.span()
            if category is Category.ID:
                if CODE_CONTEXT_RE.search(text, max(0, m_start - 24), m_start):
                    continue  # "MDC 8454247", "error 1000234": a code, not a person's number
                m_start = _letter_prefix_start(text, m_start)
            self._add(spans, m_start, m_end, category, match.group())
            covered_to = m_end

    @staticmethod
    def _prefixed_number(text: str, start: int, end: int, spans: list[Span]) -> None:
        """Letters glued to 5+ digits ("MR0012345", "H-00012345") form an identifier."""
        if end - start < 5 or (end < len(text) and text[end].isalnum()):
            return
        head = _letter_prefix_start(text, start)
        if head == start or CODE_CONTEXT_RE.search(text, max(0, head - 24), head):
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
        for i, base in enumerate(bases):
            start = starts[i]
            if start < covered_to:
                continue
            trigger = TRIGGERS.get(base)
            if trigger is not None:
                match = trigger[0].match(text, start)
                if match is not None:
                    category = trigger[1][match.lastgroup or ""]
                    self._add(spans, start, match.end(), category, match.group())
                    covered_to = match.end()
                    continue
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

    def _city_state(self, text: str, start: int, end: int, spans: list[Span]) -> None:
        """ "Lake Mary, FL" / "Springfield, Illinois 62704": the city before a state."""
        city = CITY_STATE_RE.search(text, max(0, start - 60), end)
        if city is None:
            return
        zip_code = ZIP_AFTER_RE.match(text, end)
        stop = zip_code.end() if zip_code is not None else end
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
        spans.append((begin, stop, Category.CITY, placeholder(Category.CITY)))

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
    ) -> None:
        count = len(words)
        if not count:
            return
        covered = _covered(starts, ends, [(sp[0], sp[1]) for sp in spans] + blocked)
        names = self._names
        protected = self._protected
        common = self._common
        is_name = [False] * count
        found = False
        for i in range(count):
            if covered[i]:
                continue
            base = bases[i]
            if base in known_tokens:
                beside_name = _beside_name(text, starts, ends, bases, is_name, known_tokens, i)
                if (
                    base in protected
                    and not beside_name
                    and self._device_follows(text, starts, ends, bases, i)
                ):
                    continue  # the relative is called Edwards, the monitor is an Edwards
                is_name[i] = found = True
                continue
            word = words[i]
            capital = word[0].isupper()
            in_names = base in names or ("'" in base and base.rsplit("'", 1)[-1] in names)
            if not (in_names or capital) or base in STOPWORDS:
                continue
            if _glued(text, starts[i], ends[i]):
                continue
            if len(base) < 2:
                continue  # initials join a name later, never start one
            cue = _cue_before(text, starts, ends, bases, i)
            if base in protected:
                if cue == "title" or (
                    cue == "person"
                    and (
                        (
                            self._next_is_name_word(text, starts, ends, bases, i, known_tokens)
                            and bases[i + 1] not in protected
                        )
                        or _company_follows(text, starts, ends, bases, i)
                        or (
                            _capitalized(word)
                            and _capital_follows(text, starts, ends, words, i)
                            and (
                                i + 1 >= count
                                or bases[i + 1] not in protected
                                or text[ends[i] : starts[i + 1]] == ", "
                            )
                        )
                    )
                ):
                    is_name[i] = found = True  # "visited WARD, WILL", "employer: Hill Group"
                continue
            ambiguous = base in common or len(base) <= 2 or (len(base) <= 3 and word.isupper())
            if (
                (in_names and not ambiguous)
                or cue == "title"
                or (cue == "person" and capital and _company_follows(text, starts, ends, bases, i))
            ):
                is_name[i] = found = True
            elif cue == "person":
                if in_names:
                    if capital or self._next_is_name_word(
                        text, starts, ends, bases, i, known_tokens
                    ):
                        is_name[i] = found = True
                elif _capitalized(word) or (
                    word.isupper() and len(base) >= 3 and base not in common
                ):
                    is_name[i] = found = True  # "wife of Power, Art": a capital after a cue
            elif (
                in_names
                and word.istitle()
                and (
                    not _sentence_start(text, starts[i])
                    or _initial_then_name(text, starts, ends, words, bases, i, names)
                    or (
                        self._next_is_name_word(text, starts, ends, bases, i, known_tokens)
                        and words[i + 1][0].isupper()
                    )
                )
            ):
                is_name[i] = found = True
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
        if not found:
            return
        self._grow_names(text, starts, ends, words, bases, covered, is_name)
        placeholder_name = placeholder(Category.NAME)
        for i in range(count):
            if is_name[i]:
                spans.append((starts[i], ends[i], Category.NAME, placeholder_name))

    def _device_follows(
        self, text: str, starts: list[int], ends: list[int], bases: list[str], i: int
    ) -> bool:
        """'Edwards HemoSphere', 'Hamilton C6', 'CADD-Solis': part of a device name."""
        j = i + 1
        if (
            j < len(bases)
            and text[ends[i] : starts[j]] in ("", " ", "-")  # "Power, Art" is a name, not a device
            and (bases[j] in self._protected or _model_like(text, starts[j], ends[j]))
        ):
            return True
        h = i - 1
        return (
            h >= 0
            and text[ends[h] : starts[i]] in ("-", " ")
            and (bases[h] in self._protected or _model_like(text, starts[h], ends[h]))
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
        return bases[j] in self._names or bases[j] in known_tokens

    def _grow_names(
        self,
        text: str,
        starts: list[int],
        ends: list[int],
        words: list[str],
        bases: list[str],
        covered: list[bool],
        is_name: list[bool],
    ) -> None:
        """Spread names to the words beside them until nothing changes."""
        count = len(words)
        changed = True
        while changed:
            changed = False
            for i in range(count):
                if is_name[i] or covered[i]:
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
                    text, starts, ends, words, bases, i, left, right
                ):
                    is_name[i] = True
                    changed = True
                elif (
                    i > 1
                    and bases[i - 1] == "and"
                    and is_name[i - 2]
                    and words[i].istitle()
                    and (bases[i] in self._names)
                    and not _glued(text, starts[i], ends[i])
                ):
                    is_name[i] = True  # "Watson, Lewis and Abbott"
                    changed = True

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
    ) -> bool:
        """Does a word next to a name belong to it ("Jane <Doe>", "van der <Berg>")?"""
        base = bases[i]
        word = words[i]
        if _glued(text, starts[i], ends[i]):
            return False
        if len(word) == 1:
            # an initial: "J. Doe", "Jane Q. Public", "Jane Q Public", "katie b. curry"
            dotted = ends[i] < len(text) and text[ends[i]] == "."
            return (word.isupper() or (dotted and left)) and (dotted or (left and right))
        if left and len(words[i - 1]) == 1 and text[ends[i - 1] : starts[i]] == ". ":
            # the word after "First M." is the surname, in the initial's case
            return base not in STOPWORDS and (words[i - 1].islower() or word[0].isupper())
        if base in PARTICLES:
            return right and (left or word.islower())
        if base in STOPWORDS:
            return False
        if base in self._protected:
            # "Mary Edwards called" and "Bird, Ray" are people; "Doe Philips IntelliVue"
            # ends at a device
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
                return bases[j] not in self._protected and not _model_like(text, starts[j], ends[j])
            return True
        if base in self._names:
            return True
        if _capitalized(word) and base not in self._common:
            return True
        neighbour = words[i - 1] if left else words[i + 1]
        return word.isupper() and len(base) >= 4 and neighbour.isupper()


# -- tokens -----------------------------------------------------------------------


def _tokenize(
    text: str, protected: frozenset[str]
) -> tuple[list[int], list[int], list[str], list[str]]:
    """Words with their positions and folded forms; camel case split ("DoeJane")."""
    matches = list(WORD_RE.finditer(text))
    starts = [m.start() for m in matches]
    ends = [m.end() for m in matches]
    words = [m.group() for m in matches]
    if text.isascii() and "'" not in text:
        lowered = text.lower()
        bases = [lowered[a:b] for a, b in zip(starts, ends, strict=True)]
    else:
        bases = [_base(word) for word in words]
    if text.isascii() and _CAMEL_HINT_RE.search(text) is None:
        return starts, ends, words, bases  # no "DoeJane" anywhere: nothing to split
    camel = [
        i
        for i, word in enumerate(words)
        if len(word) > 3
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
        if len(digits) >= 4:
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
