"""The name lexicon: first and last names the text scrubber recognises without context.

The scrubber cannot run a language model on a gateway, so it recognises names the
way a careful human reader does: from a list of names people actually have, plus
context. The list is generated once, at build time, from the per-locale name
frequency lists that ``faker`` ships, and it is committed as ``data/names.json``.
The builder is dev-kit code (``wardlink.phieval.lexicon_build``, run by ``wardlink
phi lexicon``); this module only reads the file, so faker - a dev-kit dependency -
is never needed on a gateway.

Every component loads the lexicon (the log filter scrubs its first log line), so it
is held in the smallest form that keeps a lookup one hash probe: a single frozenset
of the ~11,700 folded names, shared by every scrubber in the process. The scrubber
asks only "is this word a name", never which kind, so the file's separate first
and last lists are not kept apart in memory: first, last and their union as three
sets cost about 1.8 MB where the union alone costs about 1.2 MB, and each scrubber
used to build its own union on top.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class NameLexicon:
    """Folded given names and surnames, as one set: the scrubber only asks membership."""

    names: frozenset[str]

    def __contains__(self, folded_word: object) -> bool:
        return folded_word in self.names

    @classmethod
    def of(cls, *name_lists: Iterable[str]) -> NameLexicon:
        """A lexicon of the folded names in ``name_lists`` (first names, surnames, ...)."""
        return cls(frozenset(chain.from_iterable(name_lists)))


@lru_cache(maxsize=1)
def load_lexicon() -> NameLexicon:
    """Load the committed lexicon (cached: it is read once per process and shared)."""
    try:
        data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
        return NameLexicon.of(data["first"], data["last"])
    except (OSError, ValueError, KeyError) as exc:  # pragma: no cover - packaging error
        raise RuntimeError(f"PHI name lexicon {DATA_FILE} is missing or corrupt: {exc}") from exc
