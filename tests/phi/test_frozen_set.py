"""The held-out PHI evaluation set stays frozen: nobody edits it silently.

``devkit/wardlink/phieval/frozen`` was written once by ``wardlink.phieval.heldout``
before the redactor was tuned for issue 15. Its files must keep the digests recorded
in ``MANIFEST.json`` (whose own digest is pinned here), the generator must still
reproduce them byte for byte, and every item must parse with its labels present in
its input. Changing the set means changing this test in review, in the open.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from wardlink.phi.result import FORMATS
from wardlink.phieval import heldout
from wardlink.phieval.corpus import CorpusItem, read_jsonl
from wardlink.phieval.scoring import serialize

MANIFEST_SHA256 = "90bea8e60803a36466ce3e898422b88296823650dbee2a895b7358a476bfa1c0"
COUNTS = {"text": 600, "json": 200, "hl7": 300}
PHI_CATEGORIES = {
    "NAME", "DATE", "AGE", "ZIP", "ADDRESS", "CITY", "PHONE", "EMAIL", "MRN", "ACCOUNT", "SSN",
}  # fmt: skip
NAMES_JSON = Path(__file__).resolve().parents[2] / "components/wardlink/phi/data/names.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def manifest() -> dict[str, dict[str, dict[str, object]]]:
    path = heldout.FROZEN_DIR / "MANIFEST.json"
    assert _sha256(path) == MANIFEST_SHA256, "MANIFEST.json changed: the frozen set is frozen"
    data: dict[str, dict[str, dict[str, object]]] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def items() -> dict[str, list[CorpusItem]]:
    return heldout.load()


def test_every_file_has_its_recorded_digest(
    manifest: dict[str, dict[str, dict[str, object]]],
) -> None:
    files = manifest["files"]
    assert set(heldout.FILES.values()) <= set(files)
    for name, entry in files.items():
        assert _sha256(heldout.FROZEN_DIR / name) == entry["sha256"], name
    on_disk = {p.name for p in heldout.FROZEN_DIR.iterdir() if p.is_file()} - {"MANIFEST.json"}
    assert on_disk == set(heldout.FILES.values()), "a file was added to or removed from the set"


def test_counts(
    items: dict[str, list[CorpusItem]], manifest: dict[str, dict[str, dict[str, object]]]
) -> None:
    assert {fmt: len(batch) for fmt, batch in items.items()} == COUNTS
    for fmt, name in heldout.FILES.items():
        assert manifest["files"][name]["items"] == COUNTS[fmt]


def test_items_parse_and_labels_are_in_their_input(items: dict[str, list[CorpusItem]]) -> None:
    ids: set[str] = set()
    for fmt, batch in items.items():
        for item in batch:
            assert item.format == fmt and item.format in FORMATS
            assert item.id not in ids
            ids.add(item.id)
            if fmt == "json":
                assert isinstance(item.input, dict)
            else:
                assert isinstance(item.input, str)
            if fmt == "hl7":
                message = str(item.input)
                assert message.startswith("MSH|^~\\&|")
                assert all(len(seg) >= 3 for seg in message.split("\r"))
            source = serialize(item.input)
            assert item.phi or item.scenario == "device_metric", item.id
            for label in item.phi:
                assert label.category in PHI_CATEGORIES, (item.id, label)
                assert label.source in ("text", "field")
                assert label.value and label.value in source, (item.id, label)
            for label in item.clinical:
                assert label.value and label.value in source, (item.id, label)


def test_the_generator_still_writes_the_same_bytes(tmp_path: Path) -> None:
    for fmt, batch in heldout.build().items():
        path = tmp_path / heldout.FILES[fmt]
        from wardlink.phieval.corpus import write_jsonl

        write_jsonl(batch, path)
        assert path.read_bytes() == (heldout.FROZEN_DIR / heldout.FILES[fmt]).read_bytes(), fmt


def test_most_name_tokens_are_unknown_to_the_lexicon(items: dict[str, list[CorpusItem]]) -> None:
    lexicon = json.loads(NAMES_JSON.read_text(encoding="utf-8"))
    known = set(lexicon["first"]) | set(lexicon["last"])
    for fmt, batch in items.items():
        tokens = heldout.name_tokens(batch)
        absent = sum(token not in known for token in tokens) / len(tokens)
        assert absent >= 0.8, (fmt, absent)


def test_read_jsonl_round_trip(items: dict[str, list[CorpusItem]]) -> None:
    again = read_jsonl(heldout.FROZEN_DIR / heldout.FILES["hl7"])
    assert [i.to_json() for i in again] == [i.to_json() for i in items["hl7"]]


def test_a_full_date_may_become_its_year_but_not_keep_its_day() -> None:
    from wardlink.phieval.corpus import Label
    from wardlink.phieval.scoring import date_without_year, fragments

    assert date_without_year("March 17, 2024") == "March 17"
    assert date_without_year("20240317") == "0317"
    assert date_without_year("2024-03-17T08:15:00Z") == "03-17"
    assert date_without_year("3/17") is None  # a partial date goes whole
    assert fragments(Label("ZIP", "05901")) == ["05901", "059"]  # restricted: must be 000
    assert fragments(Label("ZIP", "45402")) == ["45402"]


def test_scores_of_two_extreme_redactors(items: dict[str, list[CorpusItem]]) -> None:
    """Dropping everything removes all PHI and keeps nothing; passing through the reverse."""
    from wardlink.phi.result import RedactionResult
    from wardlink.phieval.scoring import evaluate

    sample = [item for batch in items.values() for item in batch[:20]]
    dropped = evaluate(
        sample, lambda fmt, value: RedactionResult.success({} if fmt == "json" else "")
    )
    verdict = dropped.heldout_verdict()
    assert all(v["recall"] == 1.0 and not v["passed"] for v in verdict.values())
    assert all(v["keep"] == 0.0 for v in verdict.values() if v["keep_total"])
    kept = evaluate(sample, lambda fmt, value: RedactionResult.success(value))
    verdict = kept.heldout_verdict()
    assert all(v["keep"] == 1.0 and v["recall"] < 0.5 for v in verdict.values())
    assert not kept.passed_heldout()


def test_cli_reports_the_frozen_set_apart() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "wardlink.cli.main", "phi", "eval", "--frozen", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = json.loads(result.stdout)
    assert summary["items"] == COUNTS
    assert set(summary["by_format"]) == {"text", "json", "hl7"}
    assert summary["targets"] == {"recall": 0.995, "keep": 0.95}
    assert result.returncode == (0 if summary["passed"] else 1), result.stderr
