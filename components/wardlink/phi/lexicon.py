"""The name lexicon: first and last names the text scrubber recognises without context.

The scrubber cannot run a language model on a gateway, so it recognises names the
way a careful human reader does: from a list of names people actually have, plus
context. The list is generated once, at build time, from the per-locale name
frequency lists that ``faker`` ships, and it is committed as ``data/names.json``.
The builder is dev-kit code (``wardlink.phieval.lexicon_build``, run by ``wardlink
phi lexicon``); this module only reads the file, so faker - a dev-kit dependency -
is never needed on a gateway.

Every component holds the lexicon for its whole life (the log filter scrubs every
log record), one copy per process shared by every scrubber. The scrubber asks only
"is this word a name", never which kind and never for the list, so the names are
not kept at all: ``NameSet`` keeps the sorted 64-bit hashes of the ~11,700 folded
names in one ``array`` (8 bytes a name, about 94 KB) and answers membership by
binary search. A frozenset of the same names, strings and table, holds about
1.2 MB. A word whose hash equals a name's is taken for a name: that errs on the
side of redaction, and with 64-bit hashes it happens for about one word in 10^9 or less.
Hashes are the safe vocabulary's (``safewords.word_hash``), computed when the lexicon
loads, and looked up the same way (``safewords.WordHashes``).

The components load the lexicon first thing (``wardlink.cli.run``): the names it
parses and drops then leave room in the heap for what the start-up imports next,
instead of staying behind as free space no later allocation needs.
"""

from __future__ import annotations

import json
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path

from wardlink.phi.safewords import WordHashes, word_hash

DATA_FILE = Path(__file__).with_name("data") / "names.json"

#: Name particles: never names on their own, but they join the name tokens around them.
PARTICLES: frozenset[str] = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du",
     "la", "le", "lo", "el", "st", "mc", "mac", "ter", "ten", "zu", "und", "auch",
     "die", "y", "bin", "ibn", "al", "d"}
)  # fmt: skip


def fold(word: str) -> str:
    """Lower-case and strip accents, so that 'Müller', 'MULLER' and 'muller' meet."""
    lowered = word.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class NameSet(WordHashes):
    """A read-only set of names that answers only ``in`` and ``len``, at 8 bytes a name."""

    __slots__ = ()

    def __init__(self, names: Iterable[str] = ()) -> None:
        super().__init__(array("Q", sorted({word_hash(name) for name in names})))

    def __repr__(self) -> str:
        return f"NameSet({len(self)} names)"


@dataclass(frozen=True, slots=True)
class NameLexicon:
    """Folded given names and surnames, as one set: the scrubber only asks membership."""

    names: NameSet

    def __contains__(self, folded_word: object) -> bool:
        return folded_word in self.names

    @classmethod
    def of(cls, *name_lists: Iterable[str]) -> NameLexicon:
        """A lexicon of the folded names in ``name_lists`` (first names, surnames, ...)."""
        return cls(NameSet(chain.from_iterable(name_lists)))


@lru_cache(maxsize=1)
def load_lexicon() -> NameLexicon:
    """Load the committed lexicon (cached: it is read once per process and shared)."""
    try:
        data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
        return NameLexicon.of(data["first"], data["last"])
    except (OSError, ValueError, KeyError) as exc:  # pragma: no cover - packaging error
        raise RuntimeError(f"PHI name lexicon {DATA_FILE} is missing or corrupt: {exc}") from exc
