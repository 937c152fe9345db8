"""Identifier phrasings in free text (``dev_cases/identifiers.py``) are redacted, and the
numbers the policy keeps (lot, model, REF, part numbers, versions, error codes) stay.

A development set of our own, combined from cue words, separators, value shapes and
positions (the value before or after its label); the frozen held-out set stays the
honest measure.
"""

from __future__ import annotations

from tests.phi.dev_cases.identifiers import generate
from wardlink.phi import RedactionPolicy
from wardlink.phieval.scoring import evaluate

RECALL_TARGET = 0.995
KEEP_TARGET = 0.95


def test_identifier_phrasings_are_redacted_and_kept_numbers_stay() -> None:
    items = generate()
    assert len(items) >= 400
    for item in items:
        for label in (*item.phi, *item.clinical):
            assert label.value in item.input, (item.id, label)
    evaluation = evaluate(items, RedactionPolicy.default().redact)
    misses = "\n".join(
        f"  {m.kind} {m.category}: {m.value!r} ({m.item_id})" for m in evaluation.misses
    )
    report = f"{evaluation.table()}\n{misses}"
    assert evaluation.errors == 0, report
    assert evaluation.recall_for("text").rate >= RECALL_TARGET, report
    assert evaluation.utility_for().rate >= KEEP_TARGET, report
