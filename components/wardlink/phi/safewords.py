"""The safe vocabulary: words the scrubber knows are English or clinical, never names.

The scrubber fails closed on unknown words: a capitalised word, an upper-case word
in a name position or a word inside a file name is redacted unless it is known to
be safe. "Safe" means an ordinary lower-case English word (SCOWL), a part of an
IEEE 11073 MDC reference id, a UCUM unit or a word of a built-in device profile;
the dev-kit builder ``wardlink.phieval.vocab_build`` writes them to
``data/safewords.bin`` (provenance and licence in ``data/README.md``).

A gateway is small, so the ~65,000 words are not held as Python strings (a
frozenset of them costs about 5 MB): the file is a sorted array of 64-bit hashes,
loaded once into an ``array('Q')`` (~0.5 MB) and searched with ``bisect``. The hash
is CRC-32 in the high half and Adler-32 in the low half of the UTF-8 bytes - two
checksums from the standard library, ~0.1 us a word; a name taken for a safe word
by collision has odds of about 1 in 10^9.
"""

from __future__ import annotations

import itertools
import sys
import zlib
from array import array
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "safewords.bin"


def word_hash(folded_word: str) -> int:
    """The 64-bit key of a folded (lower-case, accent-free) word."""
    data = folded_word.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.adler32(data)


class WordHashes:
    """Membership in a set of words held as a sorted array of their hashes (8 bytes a word).

    The safe vocabulary is one (its hashes come from a file); the name lexicon is
    another (``wardlink.phi.lexicon.NameSet`` hashes its names at load)."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, hashes: array[int]) -> None:
        self._hashes = hashes
        self._size = len(hashes)

    def __contains__(self, folded_word: object) -> bool:
        if not isinstance(folded_word, str):
            return False
        key = word_hash(folded_word)
        index = bisect_left(self._hashes, key)
        return index < self._size and self._hashes[index] == key

    def __len__(self) -> int:
        return self._size


@lru_cache(maxsize=1)
def load_safe_words() -> WordHashes:
    """Load the committed vocabulary (cached: read once per process, shared)."""
    hashes = array("Q")
    try:
        hashes.frombytes(DATA_FILE.read_bytes())
    except (OSError, ValueError) as exc:  # pragma: no cover - packaging error
        raise RuntimeError(f"PHI safe vocabulary {DATA_FILE} is missing or corrupt: {exc}") from exc
    if sys.byteorder != "little":  # pragma: no cover - the file is little-endian
        hashes.byteswap()
    if not hashes or any(a >= b for a, b in itertools.pairwise(hashes)):
        raise RuntimeError(f"PHI safe vocabulary {DATA_FILE} is not a sorted hash array")
    return WordHashes(hashes)
