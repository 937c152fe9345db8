"""Free-text age phrasings added in round three of issue 15 (the dev set holds them too).

Sex and age written together ("Age/Sex: 93/F", "M/93", "93yF"), hedged ages ("age
~95"), decades after a hyphen ("mid-90s"), spelled ages after "turned" or "is", "a
woman of 94", decimals ("92.5 yo") - and what must not change: an age already
generalised ("90+") and numbers beside a slash or a unit that are not ages.
"""

from __future__ import annotations

import pytest

from wardlink.phi.scrubber import Scrubber


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Age/Sex: 93/F", "Age/Sex: 90+/F"),
        ("97/M with COPD", "90+/M with COPD"),
        ("M/93, chest pain", "M/90+, chest pain"),
        ("104yF, fall", "90+yF, fall"),
        ("age ~95 per family", "age ~90+ per family"),
        ("age approx. 92", "age approx. 90+"),
        ("aged about 101", "aged about 90+"),
        ("in his mid-90s", "in his mid-90+"),
        ("in her mid-90's", "in her mid-90+"),
        ("she turned ninety-five on the ward", "she turned 90+ on the ward"),
        ("he is ninety-three and sharp", "he is 90+ and sharp"),
        ("a frail woman of 94", "a frail woman of 90+"),
        ("a gentleman of ninety-one", "a gentleman of 90+"),
        ("92.5 yo male", "90+ yo male"),
        ("age 95+", "age 90++"),  # not generalised yet: the number goes
    ],
)
def test_age_phrasings(scrubber: Scrubber, text: str, expected: str) -> None:
    assert scrubber.scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "age 90+",  # generalised already: not "90++"
        "aged 90+, lives alone",
        "HR 93/min, BP 120/80",
        "placed a 14/Fr catheter, 93/Fr sheath",
        "lot 93/F2 expired",
        "IBM/93 terminal",
        "the man of 95 kg",
        "Temp 98 F",
        "SpO2 92.5 %",
    ],
)
def test_not_ages_stay(scrubber: Scrubber, text: str) -> None:
    assert scrubber.scrub(text) == text
