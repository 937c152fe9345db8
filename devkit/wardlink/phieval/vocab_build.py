"""Build the scrubber's safe vocabulary (``wardlink.phi``'s ``data/safewords.bin``).

The free-text scrubber fails closed: a word that looks like a name and is not in
a vocabulary the gateway knows to be safe is redacted (``wardlink.phi.safewords``).
This module writes that vocabulary at development time, from general sources only -
never from evaluation sentences:

* an English word list: SCOWL as Debian packages it (``wamerican``,
  ``/usr/share/dict/american-english``; licence in ``phi/data/README.md``). Only
  lower-case entries are kept: capitalised dictionary entries are proper nouns
  (place and person names), exactly what must *not* be safe;
* the IEEE 11073 MDC reference ids and UCUM unit codes the codecs and the built-in
  device profiles carry, split into their words (``MDC_PULS_OXIM_SAT_O2`` gives
  "puls", "oxim", "sat");
* the words of the built-in profiles: manufacturers, models, descriptions, metric
  names;
* the words of Python's built-in names, keywords and standard-library module names,
  so that the log filter's scrubber reads "Traceback" and "RuntimeError" as words;
* the gateway's own software: the distributions in the SOUP purposes file
  (``wardlink/packaging/soup-purposes.yaml``) and the words of their purposes;
* weekday and month names (capitalised in the word list, hence not taken above).

The file is a sorted array of 64-bit hashes (``safewords.word_hash``), about half
a megabyte for ~65,000 words; the gateway needs neither the word list nor this
module. Run ``python -m wardlink.phieval.vocab_build [WORDLIST]`` and commit the result.
"""

from __future__ import annotations

import argparse
import builtins
import keyword
import re
import sys
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from wardlink.phi.lexicon import fold
from wardlink.phi.safewords import DATA_FILE, word_hash
from wardlink.phi.vocabulary import MONTHS, WEEKDAYS

#: SCOWL (size 50, American spelling), as the Debian package ``wamerican`` installs it.
DEFAULT_WORDLIST = Path("/usr/share/dict/american-english")

_ROOT = Path(__file__).resolve().parents[3]
_COMPONENTS = _ROOT / "components" / "wardlink"
_SOUP_PURPOSES = _ROOT / "devkit" / "wardlink" / "packaging" / "soup-purposes.yaml"
_MDC_RE = re.compile(r"MDC_[A-Z0-9_]+")
_UCUM_RE = re.compile(r'\(\s*"MDC_[A-Z0-9_]+"\s*,\s*"([^"]+)"\s*\)')
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_LOWER_ENTRY_RE = re.compile(r"^[^\W\d_A-Z]+(?:'[^\W\d_A-Z]+)*$")


def english_words(path: Path) -> Iterator[str]:
    """The lower-case entries of a one-word-a-line list, folded; proper nouns skipped."""
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not entry or not _LOWER_ENTRY_RE.match(entry) or entry != entry.lower():
            continue
        if entry.endswith("'s"):
            continue  # possessives: the scrubber strips "'s" before asking
        yield fold(entry)


def _words_of(text: str) -> Iterator[str]:
    for match in _WORD_RE.finditer(text):
        yield fold(match.group())


def device_words(components: Path = _COMPONENTS) -> Iterator[str]:
    """MDC reference-id parts, UCUM unit words and the words of the built-in profiles."""
    sources = [*sorted((components / "codecs").glob("*.py"))]
    profiles = sorted((components / "profiles" / "builtin").glob("*.yaml"))
    for source in sources + profiles:
        text = source.read_text(encoding="utf-8")
        for mdc in _MDC_RE.findall(text):
            yield from (part.lower() for part in mdc.split("_") if part.isalpha())
        for ucum in _UCUM_RE.findall(text):
            yield from _words_of(ucum)
    for profile in profiles:
        document = yaml.safe_load(profile.read_text(encoding="utf-8")) or {}
        yield from _profile_words(document)


def software_words() -> Iterator[str]:
    """The words of Python's built-in names, keywords and standard-library modules.

    Gateway logs are Python logs: "Traceback", "RuntimeError", "asyncio" must not
    read as names. Camel case and underscores are split ("RuntimeError" gives
    "runtime" and "error").
    """
    names = [*dir(builtins), *keyword.kwlist, *sys.stdlib_module_names]
    for name in names:
        for part in re.split(r"_+", name):
            for piece in _CAMEL_PART_RE.findall(part):
                if len(piece) >= 2:
                    yield piece.lower()


_CAMEL_PART_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def platform_words(soup: Path = _SOUP_PURPOSES) -> Iterator[str]:
    """The gateway's own software and platform names: the distributions it ships and
    the words of their reviewed purposes ("Greengrass", "MQTT", "BlueZ", "Linux")."""
    document = yaml.safe_load(soup.read_text(encoding="utf-8")) or {}
    for name, entry in document.items():
        texts = [str(name)]
        if isinstance(entry, dict) and isinstance(entry.get("purpose"), str):
            texts.append(entry["purpose"])  # never "supplier": that can name a person
        for text in texts:
            for token in _WORD_RE.findall(text):
                for piece in _CAMEL_PART_RE.findall(token):
                    if len(piece) >= 2:
                        yield fold(piece)


def calendar_words() -> Iterator[str]:
    """Weekdays and months: capitalised in the word list, so not among its lower-case
    entries, but never a person on their own (the scrubber's lexicon rule still
    reads "April" or "June" beside a name as a name)."""
    yield from MONTHS
    yield from WEEKDAYS


def _profile_words(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield from _words_of(node)
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield from _words_of(key)
            yield from _profile_words(value)
    elif isinstance(node, list):
        for value in node:
            yield from _profile_words(value)


def build(wordlist: Path = DEFAULT_WORDLIST) -> tuple[array[int], dict[str, int]]:
    """The sorted hashes of every safe word, and how many words each source gave."""
    if not wordlist.is_file():
        raise RuntimeError(
            f"{wordlist} not found: install the SCOWL word list (Debian: apt-get install "
            "wamerican) or pass its path"
        )
    english = set(english_words(wordlist))
    device = {w for w in device_words() if len(w) >= 2}
    software = set(software_words()) | set(platform_words())
    calendar = set(calendar_words())
    hashes = sorted({word_hash(w) for w in _all(english, device, software, calendar)})
    counts = {
        "english": len(english),
        "device": len(device - english),
        "software": len(software - english - device),
        "calendar": len(calendar - english),
        "hashes": len(hashes),
    }
    return array("Q", hashes), counts


def _all(*groups: Iterable[str]) -> Iterator[str]:
    for group in groups:
        yield from group


def write(wordlist: Path = DEFAULT_WORDLIST, target: Path = DATA_FILE) -> dict[str, int]:
    hashes, counts = build(wordlist)
    if sys.byteorder != "little":  # pragma: no cover - the file is little-endian
        hashes.byteswap()
    target.write_bytes(hashes.tobytes())
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("wordlist", nargs="?", type=Path, default=DEFAULT_WORDLIST)
    args = parser.parse_args(argv)
    try:
        counts = write(args.wordlist)
    except RuntimeError as exc:
        sys.stderr.write(f"vocab_build: {exc}\n")
        return 2
    sys.stdout.write(f"wrote {DATA_FILE}: {counts}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
