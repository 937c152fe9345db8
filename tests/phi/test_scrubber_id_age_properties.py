"""Properties of ages and identifiers in free text (issue 15, round three).

Any age from 90 to 149 in any of our age phrasings becomes "90+" and its number is
gone; any identifier value, of any shape our development generator writes, after any
of its labels with any separator, or before its label, is gone - and the numbers
the policy keeps (lot, model, REF, part numbers, versions, error codes) stay, whatever
their digits.
"""

from __future__ import annotations

import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.phi.dev_cases.identifiers import (
    CUES,
    FRAMES_AFTER,
    FRAMES_BEFORE,
    KEPT,
    SEPARATORS,
    VALUES,
    fill,
)
from wardlink.phi.scrubber import Scrubber

SETTINGS = settings(max_examples=int(os.environ.get("PHI_PROPERTY_EXAMPLES", "150")), deadline=None)
SCRUBBER = Scrubber()

AGE_TEMPLATES = (
    "{n} y/o F, fall at home",
    "aged {n}, lives alone",
    "a {n}-year-old man",
    "Age: {n}",
    "{n} yo, HR 72",
    "pt is {n} now.",
    "she turned {n} today",
    "Age/Sex: {n}/F",
    "M/{n}, chest pain",
    "{n}yF, mechanical fall",
    "age ~{n} per family",
    "a woman of {n}, frail",
    "{n}F with dementia",
    "Doe, Jane,{n},F,4W",
)


@SETTINGS
@given(age=st.integers(min_value=90, max_value=149), template=st.sampled_from(AGE_TEMPLATES))
def test_every_age_over_89_becomes_90_plus(age: int, template: str) -> None:
    out = SCRUBBER.scrub(template.format(n=age))
    assert "90+" in out and str(age) not in out.replace("90+", ""), out


@SETTINGS
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    cue=st.sampled_from(CUES),
    separator=st.sampled_from(SEPARATORS),
    shape=st.sampled_from(VALUES),
    frame=st.sampled_from(FRAMES_AFTER + FRAMES_BEFORE),
)
def test_any_identifier_beside_its_label_is_removed(
    seed: int, cue: tuple[str, str], separator: str, shape: str, frame: str
) -> None:
    value = fill(random.Random(seed), shape)
    if "{ID}" in frame:
        text = frame.format(ID=f"{cue[1]}{separator}{value}")
    else:
        text = frame.format(VAL=value, CUE=cue[1])
    assert value not in SCRUBBER.scrub(text), text


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), kept=st.sampled_from(KEPT))
def test_numbers_the_policy_keeps_stay(seed: int, kept: tuple[str, str]) -> None:
    value = fill(random.Random(seed), kept[1])
    text = kept[0].format(V=value)
    assert value in SCRUBBER.scrub(text), text
