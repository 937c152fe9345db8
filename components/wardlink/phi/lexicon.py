"""The name lexicon: first and last names the text scrubber recognises without context.

The scrubber cannot run a language model on a gateway, so it recognises names the
way a careful human reader does: from a list of names people actually have, plus
context. The list is generated once, at build time, from the per-locale name
frequency lists that ``faker`` ships (US-census-style first and last names and
the equivalents for the other locales a US hospital meets most often), and it is
committed as ``data/names.json``. The runtime only reads that file, so faker -
a development dependency - is never needed on a gateway.

Regenerate with ``python -m wardlink.phi.lexicon`` (needs the ``dev`` extra).
"""

from __future__ import annotations

import importlib
import json
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "names.json"

#: Locales whose faker name lists go into the lexicon.
LEXICON_LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_IE", "en_IN", "es_MX", "es_ES", "fr_FR",
    "de_DE", "it_IT", "nl_NL", "pt_BR",
)  # fmt: skip

#: Name particles: never names on their own, but they join the name tokens around them.
PARTICLES: frozenset[str] = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du",
     "la", "le", "lo", "el", "st", "mc", "mac", "ter", "ten", "zu", "und", "auch",
     "die", "y", "bin", "ibn", "al", "d"}
)  # fmt: skip


#: Given names and surnames missing from faker's lists: nicknames that are also
#: English words, and the placeholder names people really write ("John Doe").
EXTRA_FIRST_NAMES: tuple[str, ...] = (
    "will",
    "bill",
    "pat",
    "sue",
    "art",
    "rob",
    "bob",
    "dawn",
    "hope",
    "joy",
    "faith",
    "grace",
    "rose",
    "april",
    "may",
    "june",
    "summer",
    "autumn",
    "mark",
    "ray",
    "jack",
    "max",
    "guy",
    "frank",
    "chase",
    "hunter",
    "sky",
    "star",
    "ivy",
    "holly",
    "jim",
    "tom",
)
EXTRA_LAST_NAMES: tuple[str, ...] = ("doe", "roe", "public", "smith", "jones")


def fold(word: str) -> str:
    """Lower-case and strip accents, so that 'Müller', 'MULLER' and 'muller' meet."""
    lowered = word.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class NameLexicon:
    """Folded first and last names. Membership tests only; order is irrelevant."""

    first: frozenset[str]
    last: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.first | self.last

    def __contains__(self, folded_word: object) -> bool:
        return folded_word in self.first or folded_word in self.last


def _tokens(name: str) -> Iterable[str]:
    for word in name.replace("-", " ").split():
        if "'" in word:  # "O'Dwyer": both "o'dwyer" and "dwyer"
            whole = fold(word)
            if len(whole) >= 4:
                yield whole
        for part in word.replace("'", " ").split():
            folded = fold(part)
            if len(folded) >= 2 and folded.isalpha() and folded not in PARTICLES:
                yield folded


@lru_cache(maxsize=1)
def load_lexicon() -> NameLexicon:
    """Load the committed lexicon (cached: it is read once per process)."""
    try:
        data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
        return NameLexicon(first=frozenset(data["first"]), last=frozenset(data["last"]))
    except (OSError, ValueError, KeyError) as exc:  # pragma: no cover - packaging error
        raise RuntimeError(f"PHI name lexicon {DATA_FILE} is missing or corrupt: {exc}") from exc


def build_lexicon(locales: Iterable[str] = LEXICON_LOCALES) -> dict[str, list[str]]:
    """Collect folded name tokens from faker's provider data (build time only)."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in locales:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("faker"):
                raise RuntimeError(
                    "building the name lexicon needs faker: pip install 'wardlink[dev]'"
                ) from exc
            raise
        for attribute in ("first_names", "first_names_male", "first_names_female",
                          "first_names_nonbinary"):  # fmt: skip
            for name in getattr(provider, attribute, ()):
                first.update(_tokens(str(name)))
        for name in getattr(provider, "last_names", ()):
            last.update(_tokens(str(name)))
    first.update(EXTRA_FIRST_NAMES)
    last.update(EXTRA_LAST_NAMES)
    return {"first": sorted(first), "last": sorted(last)}


def write_lexicon(path: Path = DATA_FILE) -> dict[str, int]:
    """Regenerate ``data/names.json``; returns how many names of each kind it holds."""
    data = build_lexicon()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")  # fmt: skip
    load_lexicon.cache_clear()
    return {kind: len(names) for kind, names in data.items()}


if __name__ == "__main__":  # pragma: no cover - build helper
    counts = write_lexicon()
    sys.stdout.write(f"wrote {DATA_FILE}: {counts}\n")
