"""Score a redactor on a labelled corpus: recall of PHI, utility of clinical values.

* Recall - the share of PHI values absent from the output. A value counts as leaked
  if it, or an identifying fragment of it (a name's words, an address's house
  number and street name, an identifier's digit groups of 4+), appears in the
  output more often than it appears in the input *outside* the PHI values (so a
  word a template also uses elsewhere is not blamed on the redactor).
* Utility - the share of clinical values (numbers, units, MDC codes, device models,
  error codes) still in the output, as often as they were placed.

Both are reported per format, per source (free ``text`` or structured ``field``)
and per category. An item whose redaction failed counts as fully redacted (its
output is nothing) and as utility lost, and is reported separately.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from wardlink.phi.generalize import zip3
from wardlink.phi.result import Format, RedactionResult
from wardlink.phi.vocabulary import words as _words
from wardlink.phieval.corpus import CorpusItem, Label

TEXT_RECALL_TARGET = 0.995
FIELD_RECALL_TARGET = 1.0
UTILITY_TARGET = 0.98
# On the frozen held-out set (``heldout.py``): per format, every source together.
HELDOUT_RECALL_TARGET = 0.995
HELDOUT_KEEP_TARGET = 0.95

_WORD_RE = re.compile(r"[^\W\d_]{2,}")
_DIGIT_RUN_RE = re.compile(r"\d{4,}")
_ADDRESS_DIGITS_RE = re.compile(r"\d{3,}")
_GENERIC_WORDS = _words(
    """
    and the of llc inc ltd plc group sons co corp company general hospital apt apartment suite
    ste unit box po north south east west new port lake mount fort saint san santa la las los el
    de del van von der den di da du le street st avenue ave road rd drive dr lane ln court ct
    way place pl circle cir boulevard blvd parkway pkwy highway hwy terrace trail square sq loop
    run view alley branch bridge brook brooks burg burgs bypass camp canyon cape causeway center
    centers circles cliff cliffs club common corner corners course courts cove coves creek
    crescent crest crossing crossroad curve dale dam divide drives estate estates expressway
    extension extensions falls ferry field fields flat flats ford fords forest forge forges fork
    forks freeway garden gardens gateway glen glens green greens grove groves harbor harbors
    haven heights hill hills hollow inlet island islands isle junction junctions key keys knoll
    knolls lakes land landing light lights loaf lock locks lodge mall manor manors meadow
    meadows mews mill mills mission motorway mountain mountains neck orchard oval overpass park
    parks parkways pass passage path pike pine pines plain plains plaza point points ports
    prairie radial ramp ranch rapid rapids rest ridge ridges river roads route row rue shoal
    shoals shore shores skyway spring springs spur spurs squares station stravenue stream
    streets summit throughway trace track trafficway tunnel turnpike underpass union unions
    valley valleys via viaduct views village villages ville vista walk walks wall ways well
    wells city town borough burgh bury chester furt haven land mouth port side stad ton view
    ville fort
    """
)
_NAME_LIKE = frozenset({"NAME", "FACILITY"})
_PLACE_LIKE = frozenset({"ADDRESS", "CITY"})
_WHOLE_ONLY = frozenset({"DATE", "AGE", "ZIP", "LOCATION"})


@dataclass
class Tally:
    hit: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        return 1.0 if self.total == 0 else self.hit / self.total

    def add(self, ok: bool) -> None:
        self.total += 1
        self.hit += int(ok)


@dataclass(frozen=True)
class Miss:
    item_id: str
    format: str
    source: str
    category: str
    value: str
    kind: str  # "leak" or "lost"


@dataclass
class Evaluation:
    recall: dict[tuple[str, str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    utility: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    items: int = 0
    errors: int = 0
    misses: list[Miss] = field(default_factory=list)

    def _sum(self, table: Iterable[tuple[Any, Tally]], keep: Callable[[Any], bool]) -> Tally:
        total = Tally()
        for key, tally in table:
            if keep(key):
                total.hit += tally.hit
                total.total += tally.total
        return total

    def recall_for(self, source: str | None = None, fmt: str | None = None) -> Tally:
        return self._sum(
            self.recall.items(),
            lambda k: (source is None or k[1] == source) and (fmt is None or k[0] == fmt),
        )

    def utility_for(self, fmt: str | None = None) -> Tally:
        return self._sum(self.utility.items(), lambda k: fmt is None or k[0] == fmt)

    def passed(self) -> bool:
        return (
            self.recall_for("text").rate >= TEXT_RECALL_TARGET
            and self.recall_for("field").rate >= FIELD_RECALL_TARGET
            and self.utility_for().rate >= UTILITY_TARGET
        )

    def summary(self) -> dict[str, Any]:
        def rate(t: Tally) -> dict[str, Any]:
            return {"rate": round(t.rate, 5), "hit": t.hit, "total": t.total}

        by_category: dict[str, dict[str, Any]] = {}
        for (fmt, source, category), tally in sorted(self.recall.items()):
            by_category[f"{fmt}/{source}/{category}"] = rate(tally)
        utility_by: dict[str, dict[str, Any]] = {}
        for (fmt, category), tally in sorted(self.utility.items()):
            utility_by[f"{fmt}/{category}"] = rate(tally)
        return {
            "items": self.items,
            "errors": self.errors,
            "recall_text": rate(self.recall_for("text")),
            "recall_field": rate(self.recall_for("field")),
            "recall_by_format": {f: rate(self.recall_for(fmt=f)) for f in ("text", "json", "hl7")},
            "utility": rate(self.utility_for()),
            "utility_by_format": {f: rate(self.utility_for(f)) for f in ("text", "json", "hl7")},
            "recall_by_category": by_category,
            "utility_by_category": utility_by,
            "targets": {
                "recall_text": TEXT_RECALL_TARGET,
                "recall_field": FIELD_RECALL_TARGET,
                "utility": UTILITY_TARGET,
            },
            "passed": self.passed(),
        }

    def heldout_verdict(self) -> dict[str, dict[str, Any]]:
        """Per format: recall of PHI spans and keep of clinical values against the
        held-out targets."""
        verdict: dict[str, dict[str, Any]] = {}
        for fmt in ("text", "json", "hl7"):
            recall, keep = self.recall_for(fmt=fmt), self.utility_for(fmt)
            if recall.total == 0 and keep.total == 0:
                continue
            verdict[fmt] = {
                "recall": round(recall.rate, 5),
                "recall_hit": recall.hit,
                "recall_total": recall.total,
                "keep": round(keep.rate, 5),
                "keep_hit": keep.hit,
                "keep_total": keep.total,
                "passed": recall.rate >= HELDOUT_RECALL_TARGET and keep.rate >= HELDOUT_KEEP_TARGET,
            }
        return verdict

    def passed_heldout(self) -> bool:
        verdict = self.heldout_verdict()
        return self.errors == 0 and bool(verdict) and all(v["passed"] for v in verdict.values())

    def heldout_table(self) -> str:
        """Recall per format and category, keep per format and kind, and the verdict."""
        recall: dict[tuple[str, str], Tally] = defaultdict(Tally)
        for (fmt, _source, category), tally in self.recall.items():
            recall[(fmt, category)].hit += tally.hit
            recall[(fmt, category)].total += tally.total
        lines = [f"{'format/PHI category':<28} {'recall':>8} {'removed':>8} {'spans':>7}"]
        for (fmt, category), tally in sorted(recall.items()):
            lines.append(
                f"{fmt + '/' + category:<28} {tally.rate:>8.2%} {tally.hit:>8} {tally.total:>7}"
            )
        lines.append("")
        lines.append(f"{'format/clinical value':<28} {'keep':>8} {'kept':>8} {'values':>7}")
        for (fmt, category), tally in sorted(self.utility.items()):
            lines.append(
                f"{fmt + '/' + category:<28} {tally.rate:>8.2%} {tally.hit:>8} {tally.total:>7}"
            )
        lines.append("")
        for fmt, v in self.heldout_verdict().items():
            lines.append(
                f"{fmt:<5} recall {v['recall']:.3%} ({v['recall_hit']}/{v['recall_total']}; "
                f"target {HELDOUT_RECALL_TARGET:.1%})  keep {v['keep']:.3%} "
                f"({v['keep_hit']}/{v['keep_total']}; target {HELDOUT_KEEP_TARGET:.0%})  "
                f"{'PASS' if v['passed'] else 'FAIL'}"
            )
        lines.append(
            f"items: {self.items}, redaction errors: {self.errors}, verdict: "
            f"{'PASS' if self.passed_heldout() else 'FAIL'}"
        )
        return "\n".join(lines)

    def table(self) -> str:
        lines = [f"{'format/source/category':<34} {'recall':>8} {'found':>7} {'total':>7}"]
        for (fmt, source, category), tally in sorted(self.recall.items()):
            lines.append(
                f"{fmt + '/' + source + '/' + category:<34} {tally.rate:>8.2%} "
                f"{tally.hit:>7} {tally.total:>7}"
            )
        lines.append("")
        lines.append(f"{'format/clinical value':<34} {'kept':>8} {'kept':>7} {'total':>7}")
        for (fmt, category), tally in sorted(self.utility.items()):
            lines.append(
                f"{fmt + '/' + category:<34} {tally.rate:>8.2%} {tally.hit:>7} {tally.total:>7}"
            )
        lines.append("")
        text, fields, utility = (
            self.recall_for("text"),
            self.recall_for("field"),
            self.utility_for(),
        )
        for title, tally, target in (
            ("recall, free text:", text, TEXT_RECALL_TARGET),
            ("recall, fields:", fields, FIELD_RECALL_TARGET),
            ("utility:", utility, UTILITY_TARGET),
        ):
            lines.append(
                f"{title:<20}{tally.rate:.3%} ({tally.hit}/{tally.total}; target {target:.1%})"
            )
        lines.append(
            f"items: {self.items}, redaction errors: {self.errors}, verdict: "
            f"{'PASS' if self.passed() else 'FAIL'}"
        )
        return "\n".join(lines)


def serialize(value: Any) -> str:
    """The text an output (or input) is checked in: a string as is; for JSON, its leaf
    values one per line (keys are the policy's, and escapes would hide boundaries)."""
    if isinstance(value, str):
        return value
    leaves: list[str] = []
    _leaves(value, leaves)
    return "\n".join(leaves)


def _leaves(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _leaves(item, out)
    elif isinstance(value, list):
        for item in value:
            _leaves(item, out)
    elif isinstance(value, str):
        out.append(value)
    elif value is not None:
        out.append(json.dumps(value))


def fragments(label: Label) -> list[str]:
    """The value and the pieces of it that would still identify someone."""
    value = label.value
    found = {value}
    category = label.category
    if category == "DATE":
        rest = date_without_year(value)
        return [value] if rest is None else [value, rest]
    if category == "ZIP" and zip3(value) == "000" and value[:3].isdigit():
        return [value, value[:3]]  # a restricted prefix must become 000, not stay
    if category in _WHOLE_ONLY:
        return [value]
    if category in _NAME_LIKE:
        found.update(w for w in _WORD_RE.findall(value) if w.lower() not in _GENERIC_WORDS)
    elif category in _PLACE_LIKE:
        found.update(
            w for w in _WORD_RE.findall(value) if len(w) >= 3 and w.lower() not in _GENERIC_WORDS
        )
        found.update(_ADDRESS_DIGITS_RE.findall(value))
    elif category == "EMAIL":
        local, _, domain = value.partition("@")
        if len(local) >= 4:
            found.add(local)
        found.add(domain)
    elif category == "URL":
        host = re.sub(r"^[a-z]+://", "", value).split("/")[0]
        if "." in host:
            found.add(host)
    else:
        found.update(_DIGIT_RUN_RE.findall(value))
    return [f for f in found if f]


_YEAR_RE = re.compile(r"(?<!\d)(?:1[89]|20)\d\d(?!\d)")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d")


def date_without_year(value: str) -> str | None:
    """The month and day of a full date ("March 17" of "March 17, 2024", "0317" of
    "20240317"): a date may be generalized to its year, so what identifies is the
    rest. None for a date without a year (it must go whole) or nothing left."""
    if value.isdigit():
        return value[4:8] if len(value) >= 8 else None
    if _ISO_DATE_RE.match(value):
        return value[5:10]
    years = list(_YEAR_RE.finditer(value))
    if len(years) != 1:
        return None
    year = years[0]
    rest = (value[: year.start()] + " " + value[year.end() :]).strip(" ,-/.T")
    return rest if len(rest) >= 3 and any(c.isdigit() for c in rest) else None


_PLACEHOLDER_RE = re.compile(r"\[[A-Z_]+\]")


def count(haystack: str, needle: str) -> int:
    """Occurrences of ``needle`` not glued to letters/digits (digits only for digit runs)."""
    if not needle:
        return 0
    lowered, target = haystack.lower(), needle.lower()
    digits = target.isdigit()
    total = 0
    start = lowered.find(target)
    while start >= 0:
        end = start + len(target)
        before = lowered[start - 1] if start > 0 else " "
        after = lowered[end] if end < len(lowered) else " "
        if digits:
            ok = not before.isdigit() and not after.isdigit()
        else:
            ok = not (target[0].isalnum() and before.isalnum()) and not (
                target[-1].isalnum() and after.isalnum()
            )
        total += int(ok)
        start = lowered.find(target, start + 1)
    return total


def _exact_count(haystack: str, needle: str) -> int:
    """Case-sensitive, boundary-aware count, for clinical values ("Cel", "mmHg")."""
    total = 0
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = haystack[start - 1] if start > 0 else " "
        after = haystack[end] if end < len(haystack) else " "
        glued = (needle[0].isalnum() and before.isalnum()) or (
            needle[-1].isalnum() and after.isalnum()
        )
        if needle[0].isdigit() and (before.isdigit() or before == "."):
            glued = True
        if needle[-1].isdigit() and (
            after.isdigit()
            or (after == "." and end + 1 < len(haystack) and haystack[end + 1].isdigit())
        ):
            glued = True
        total += int(not glued)
        start = haystack.find(needle, start + 1)
    return total


def score_item(item: CorpusItem, result: RedactionResult, evaluation: Evaluation) -> None:
    evaluation.items += 1
    source_text = serialize(item.input)
    output = serialize(result.output) if result.ok and result.output is not None else ""
    if not result.ok:
        evaluation.errors += 1
    # The redactor's own placeholders ("[DATE]") are not the patient called Date.
    without_placeholders = _PLACEHOLDER_RE.sub(" ", output)
    output_without_age_cap = without_placeholders.replace("90+", " ")
    for label in item.phi:
        checked = output_without_age_cap if label.category == "AGE" else without_placeholders
        leaked = any(
            count(checked, frag) > _innocent(source_text, frag, item.phi)
            for frag in fragments(label)
        )
        evaluation.recall[(item.format, label.source, label.category)].add(not leaked)
        if leaked:
            evaluation.misses.append(
                Miss(item.id, item.format, label.source, label.category, label.value, "leak")
            )
    wanted: dict[str, int] = defaultdict(int)
    for label in item.clinical:
        wanted[label.value] += 1
    kept_budget = {value: _exact_count(output, value) for value in wanted}
    for label in item.clinical:
        ok = kept_budget[label.value] > 0
        if ok:
            kept_budget[label.value] -= 1
        evaluation.utility[(item.format, label.category)].add(ok)
        if not ok:
            evaluation.misses.append(
                Miss(item.id, item.format, label.source, label.category, label.value, "lost")
            )


def _innocent(source: str, fragment: str, phi: list[Label]) -> int:
    """How often ``fragment`` may appear in the output without a leak: its occurrences
    in the input outside the PHI values, plus the years the date policy keeps."""
    placed = sum(count(label.value, fragment) for label in phi)
    kept_years = sum(
        1
        for label in phi
        if label.category == "DATE"
        and fragment.isdigit()
        and len(fragment) == 4
        and (
            (label.source == "field" and label.value.startswith(fragment))
            or fragment in _YEAR_RE.findall(label.value)  # text.dates: year keeps it too
        )
    )
    kept_zip3 = sum(
        1
        for label in phi
        if label.category == "ZIP" and fragment == zip3(label.value)  # text keeps ZIP3 too
    )
    return max(0, count(source, fragment) - placed) + kept_years + kept_zip3


def evaluate(
    items: Iterable[CorpusItem], redact: Callable[[Format, Any], RedactionResult]
) -> Evaluation:
    """Run ``redact(format, input)`` over the corpus and score every item."""
    evaluation = Evaluation()
    for item in items:
        try:
            result = redact(item.format, item.input)
        except Exception as exc:  # a redactor that raises is scored as failing closed
            result = RedactionResult.failure(f"{type(exc).__name__}")
        score_item(item, result, evaluation)
    return evaluation
