"""Measured recall and utility: a fixed seed for regression, a fresh seed to prove it.

The fresh seed comes from os.urandom on every run and is printed, so a failure can
be replayed with ``wardlink phi eval --seed N``. Nothing in the redactor is tuned to
either seed.
"""

from __future__ import annotations

import os

import pytest

from wardlink.phi import RedactionPolicy
from wardlink.phieval.corpus import generate
from wardlink.phieval.scoring import (
    FIELD_RECALL_TARGET,
    TEXT_RECALL_TARGET,
    UTILITY_TARGET,
    Evaluation,
    evaluate,
)

REGRESSION_SEED = 20261103


@pytest.fixture(scope="module")
def policy() -> RedactionPolicy:
    return RedactionPolicy.default()


def _check(evaluation: Evaluation, seed: int) -> None:
    misses = "\n".join(
        f"  {m.kind} {m.format}/{m.source}/{m.category}: {m.value!r} ({m.item_id})"
        for m in evaluation.misses[:20]
    )
    report = f"seed {seed}\n{evaluation.table()}\n{misses}"
    assert evaluation.errors == 0, report
    assert evaluation.recall_for("text").rate >= TEXT_RECALL_TARGET, report
    assert evaluation.recall_for("field").rate >= FIELD_RECALL_TARGET, report
    assert evaluation.utility_for().rate >= UTILITY_TARGET, report


def test_corpus_is_deterministic_and_labelled() -> None:
    first, second = generate(7, 30), generate(7, 30)
    assert [i.input for i in first] == [i.input for i in second]
    assert {i.format for i in generate(8, 60)} == {"text", "json", "hl7"}
    for item in first:
        assert item.phi and item.clinical
        if item.format == "text":
            for label in item.phi:
                assert label.value in item.input, label


def test_regression_seed(policy: RedactionPolicy) -> None:
    items = generate(REGRESSION_SEED, 600)
    _check(evaluate(items, policy.redact), REGRESSION_SEED)


def test_seed_that_once_leaked(policy: RedactionPolicy) -> None:
    """Seed 3677977930 leaked "Brijesh Das" (a particle as the surname, after a name),
    a plate's digits ("83V•326") and, with text dates kept to the year, tripped the
    scorer on a phone extension equal to a kept year; all three are fixed."""
    seed = 3677977930
    _check(evaluate(generate(seed, 1000), policy.redact), seed)


def test_done_when_with_a_new_seed(policy: RedactionPolicy) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"phi done-when seed: {seed} (replay: wardlink phi eval --seed {seed} --size 1000)")
    evaluation = evaluate(generate(seed, 1000), policy.redact)
    print(evaluation.table())
    _check(evaluation, seed)
    assert evaluation.recall_for("text").total >= 1500
    assert evaluation.recall_for("field").total >= 4000
