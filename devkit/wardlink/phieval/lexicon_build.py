"""Build the PHI name lexicon (``wardlink.phi``'s ``data/names.json``) from faker's name lists.

The gateway's scrubber reads a committed file of folded first and last names
(``wardlink.phi.lexicon``); this module writes it. It lives in the dev kit because it
needs faker, a dev-kit dependency that a gateway never installs: the edge keeps
only the loader. Run it with ``wardlink phi lexicon`` and commit the result.

The names come from faker's per-locale provider data - US-census-style first and
last names and the equivalents for the other locales a US hospital meets most
often - plus a few names faker lacks (nicknames that are also English words, and
the placeholder names people really write, "John Doe").
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from wardlink.phi.lexicon import DATA_FILE, PARTICLES, fold, load_lexicon

#: Locales whose faker name lists go into the lexicon.
LEXICON_LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_IE", "en_IN", "es_MX", "es_ES", "fr_FR",
    "de_DE", "it_IT", "nl_NL", "pt_BR",
)  # fmt: skip

#: Given names and surnames missing from faker's lists: nicknames that are also
#: English words, and the placeholder names people really write ("John Doe").
EXTRA_FIRST_NAMES: tuple[str, ...] = (
    "will", "bill", "pat", "sue", "art", "rob", "bob", "dawn", "hope", "joy", "faith",
    "grace", "rose", "april", "may", "june", "summer", "autumn", "mark", "ray", "jack",
    "max", "guy", "frank", "chase", "hunter", "sky", "star", "ivy", "holly", "jim", "tom",
)  # fmt: skip
EXTRA_LAST_NAMES: tuple[str, ...] = ("doe", "roe", "public", "smith", "jones")

_FIRST_NAME_ATTRIBUTES = (
    "first_names",
    "first_names_male",
    "first_names_female",
    "first_names_nonbinary",
)


def name_tokens(name: str) -> Iterator[str]:
    """The folded words of one name as the scrubber will look them up.

    Hyphenated names give each part; "O'Dwyer" gives both "o'dwyer" and "dwyer";
    particles ("van", "de") and one-letter or non-alphabetic parts give nothing.
    """
    for word in name.replace("-", " ").split():
        if "'" in word:
            whole = fold(word)
            if len(whole) >= 4:
                yield whole
        for part in word.replace("'", " ").split():
            folded = fold(part)
            if len(folded) >= 2 and folded.isalpha() and folded not in PARTICLES:
                yield folded


def build_lexicon(locales: Iterable[str] = LEXICON_LOCALES) -> dict[str, list[str]]:
    """Collect folded name tokens from faker's provider data, sorted, by kind."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in locales:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("faker"):
                raise RuntimeError(
                    "building the name lexicon needs faker: install the dev kit (wardlink-devkit)"
                ) from exc
            raise
        for attribute in _FIRST_NAME_ATTRIBUTES:
            for name in getattr(provider, attribute, ()):
                first.update(name_tokens(str(name)))
        for name in getattr(provider, "last_names", ()):
            last.update(name_tokens(str(name)))
    first.update(EXTRA_FIRST_NAMES)
    last.update(EXTRA_LAST_NAMES)
    return {"first": sorted(first), "last": sorted(last)}


def write_lexicon(path: Path = DATA_FILE) -> dict[str, int]:
    """Regenerate the lexicon file; returns how many names of each kind it holds."""
    data = build_lexicon()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")  # fmt: skip
    load_lexicon.cache_clear()  # this process now reads the new file
    return {kind: len(names) for kind, names in data.items()}
