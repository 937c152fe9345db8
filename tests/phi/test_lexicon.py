"""The name lexicon: one shared set on the gateway, built by the dev kit.

Every component holds the lexicon for its whole life (the log filter scrubs every
record), so its footprint is pinned here by identity - one set per process, whatever
the number of scrubbers - and by form - hashes, not names - rather than by byte
counts. The builder needs faker, so it is dev-kit code; the edge module must load
and use the lexicon without either.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wardlink.phi.lexicon import DATA_FILE, NameLexicon, NameSet, load_lexicon
from wardlink.phi.policy import RedactionPolicy
from wardlink.phi.scrubber import Scrubber


def test_the_lexicon_holds_every_committed_name_once() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    lexicon = load_lexicon()
    committed = set(data["first"]) | set(data["last"])
    assert len(lexicon.names) == len(committed)
    assert all(name in lexicon for name in committed)
    assert "doe" in lexicon and "jane" in lexicon and "spo2" not in lexicon
    assert "Jane" not in lexicon and 7 not in lexicon.names  # folded words only


def test_the_name_set_keeps_hashes_not_names() -> None:
    names = NameSet(["jane", "doe", "jane"])
    assert len(names) == 2 and "jane" in names and "doe" in names
    assert "john" not in names and "" not in names and None not in names
    assert "jane" not in repr(names)
    assert len(NameSet()) == 0 and "jane" not in NameSet()


def test_scrubbers_share_the_lexicon_set() -> None:
    """The log filter's scrubber and the policy's look names up in the same set."""
    names = load_lexicon().names
    assert Scrubber()._names is names
    assert Scrubber(keep_terms=["Acme"], dates="year")._names is names
    assert load_lexicon() is load_lexicon()
    policy = RedactionPolicy.default()  # the DeviceProxy's second scrubber
    assert isinstance(policy.scrubber, Scrubber)
    assert policy.scrubber._names is names


def test_a_given_lexicon_replaces_the_committed_one() -> None:
    scrubber = Scrubber(lexicon=NameLexicon.of(["zorblat"], []))
    assert scrubber.scrub("seen by Zorblat today") == "seen by [NAME] today"
    # "will" is a lexicon name that is also a common word: without the lexicon it is
    # only an English word
    assert Scrubber().scrub("Hope Will visited") == "[NAME] visited"
    assert "Will" in Scrubber(lexicon=NameLexicon(NameSet())).scrub("Hope Will visited")


def test_recall_does_not_depend_on_the_lexicon() -> None:
    """Fail closed: unknown capitalised words are names with an empty lexicon too."""
    empty = Scrubber(lexicon=NameLexicon(NameSet()))
    assert empty.scrub("Home kit shipped to Valery Hanz") == "Home kit shipped to [NAME]"
    assert empty.scrub("readings for KAVIN, LOEBB") == "readings for [NAME]"
    assert empty.scrub("Jane") == "[NAME]"


def test_the_edge_loads_the_lexicon_without_the_builder_or_faker() -> None:
    code = (
        "import sys\n"
        "from wardlink.phi.scrubber import Scrubber\n"
        "assert Scrubber().scrub('Pt Jane Doe') == 'Pt [NAME]'\n"
        "print(sorted(m for m in sys.modules if m.startswith(('faker', 'wardlink.phieval'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- the dev kit's builder ------------------------------------------------------------


def test_name_tokens_fold_split_and_skip_particles() -> None:
    from wardlink.phieval.lexicon_build import name_tokens

    assert list(name_tokens("Müller-Lüdenscheidt")) == ["muller", "ludenscheidt"]
    assert list(name_tokens("van der Berg")) == ["berg"]
    assert list(name_tokens("O'Dwyer")) == ["o'dwyer", "dwyer"]
    assert list(name_tokens("J. R.")) == []


def test_write_lexicon_writes_what_the_loader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wardlink.phieval import lexicon_build

    monkeypatch.setattr(
        lexicon_build,
        "build_lexicon",
        lambda locales=("en_US",): {"first": ["jane", "will"], "last": ["doe"]},
    )
    target = tmp_path / "names.json"
    assert lexicon_build.write_lexicon(target) == {"first": 2, "last": 1}
    data = json.loads(target.read_text(encoding="utf-8"))
    names = NameLexicon.of(data["first"], data["last"]).names
    assert len(names) == 3 and all(n in names for n in ("jane", "will", "doe"))


def test_the_builder_reproduces_the_committed_file() -> None:
    """Regenerating with the pinned faker changes nothing: the file is the builder's output."""
    pytest.importorskip("faker")
    from wardlink.phieval.lexicon_build import build_lexicon

    committed = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert build_lexicon() == committed, "run `wardlink phi lexicon` and commit the file"


def test_the_safe_vocabulary_is_a_compact_sorted_hash_array() -> None:
    from array import array

    from wardlink.phi.safewords import DATA_FILE as SAFE_FILE
    from wardlink.phi.safewords import load_safe_words, word_hash

    safe = load_safe_words()
    assert load_safe_words() is safe  # read once per process
    hashes = array("Q", SAFE_FILE.read_bytes())
    assert len(hashes) == len(safe) > 50_000
    assert list(hashes) == sorted(set(hashes))
    assert SAFE_FILE.stat().st_size < 1_000_000
    # English (lower-case SCOWL entries), MDC parts, software, weekdays: safe
    for word in ("battery", "readings", "puls", "oxim", "traceback", "greengrass", "tuesday"):
        assert word in safe, word
    # capitalised dictionary entries are proper nouns: not taken; invented names: absent
    for word in ("monrovia", "kaylene", "valery", "loebb", "oyelaran"):
        assert word not in safe, word
    assert word_hash("battery") != word_hash("batterz")


def test_the_edge_loads_the_vocabulary_without_the_builder() -> None:
    code = (
        "import sys\n"
        "from wardlink.phi.safewords import load_safe_words\n"
        "assert 'battery' in load_safe_words()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('yaml', 'wardlink.phieval'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
