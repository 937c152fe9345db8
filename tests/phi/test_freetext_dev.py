"""The hand-written free-text development set (``dev_cases/freetext.py``) meets its targets.

It is the set the round-two rules were tuned on (ages over 89 in every phrasing,
identifiers in prose, lower-case names in chat and logs); the frozen held-out set
stays the honest measure. The committed JSONL is what ``wardlink phi eval --corpus``
reads, so it must match the generator.
"""

from __future__ import annotations

from tests.phi.dev_cases.freetext import JSONL, TEMPLATES, generate
from wardlink.phi import RedactionPolicy
from wardlink.phieval.corpus import read_jsonl
from wardlink.phieval.scoring import evaluate

RECALL_TARGET = 0.995
KEEP_TARGET = 0.98


def test_dev_set_is_large_labelled_and_committed() -> None:
    items = generate()
    assert sum(len(t) for t in TEMPLATES.values()) >= 250
    assert len(items) >= 300
    for item in items:
        assert item.format == "text" and item.phi, item
        for label in item.phi:
            assert label.value in item.input, (item.id, label)
        for label in item.clinical:
            assert label.value in item.input, (item.id, label)
    assert [i.to_json() for i in read_jsonl(JSONL)] == [i.to_json() for i in items], (
        "regenerate: python -m tests.phi.dev_cases.freetext"
    )


def test_dev_set_recall_and_keep() -> None:
    evaluation = evaluate(generate(), RedactionPolicy.default().redact)
    misses = "\n".join(
        f"  {m.kind} {m.category}: {m.value!r} ({m.item_id})" for m in evaluation.misses
    )
    report = f"{evaluation.table()}\n{misses}"
    assert evaluation.errors == 0, report
    assert evaluation.recall_for("text").rate >= RECALL_TARGET, report
    assert evaluation.utility_for().rate >= KEEP_TARGET, report
