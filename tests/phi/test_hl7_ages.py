"""Ages over 89 become "90+" in HL7 v2 as in free text, whatever the observation's data type.

Development cases written for issue 15 (round three) from the standard's shapes, not
from any evaluation set: an OBX whose observation (OBX-3, by LOINC code in the first
or the alternate triplet, or by its text) is a person's age, with its value as a
number, a structured number, a string or spelled out, in years or in months; and an
OBX that carries a birth date, which follows the birth-date rule (the year goes too
when it implies an age over 89). Numbers that are not ages stay.
"""

from __future__ import annotations

from datetime import date

import pytest

from wardlink.phi import RedactionPolicy

_MSH = "MSH|^~\\&|GW|WL|EHR|H|20240101120000||ORU^R01|1|P|2.5\r"


def _obx5(obx: str) -> str:
    policy = RedactionPolicy.default()
    values = []
    for _ in range(2):  # the second message comes through the per-field cache
        result = policy.redact_hl7(f"{_MSH}{obx}\r")
        assert result.ok, result.error
        line = next(x for x in str(result.output).split("\r") if x.startswith("OBX"))
        fields = line.split("|")
        values.append(fields[5] if len(fields) > 5 else "")
    assert values[0] == values[1]
    return values[0]


@pytest.mark.parametrize(
    "obx",
    [
        "OBX|1|NM|30525-0^Age^LN||93|a|||||F",
        "OBX|1|NM|21612-7^Age - Reported^LN||101|a^year^UCUM|||||F",
        "OBX|1|NM|29553-5^Age calculated^LN||90.4|a|||||F",
        "OBX|1|NM|63900-5^Current age or age at death^LN||96||||||F",
        "OBX|1|SN|21611-9^Age - Estimated^LN||^93|a|||||F",
        "OBX|1|SN|30525-0^Age^LN||>^95|a|||||F",
        "OBX|1|NM|X77^Pt years^L^30525-0^Age^LN||94|a|||||F",  # LOINC in the alternate triplet
        "OBX|1|NM|AGEY^AGE_YRS^L||97|||||F",
        "OBX|1|NM|PA^PatientAge^L||92|yr|||||F",
        "OBX|1|NM|X1^Patient age^L||1140|mo|||||F",  # 95 years in months
        "OBX|1|NM|X1^Age in months^L||1100|{months}|||||F",
        "OBX|1|ST|30525-0^Age^LN||93||||||F",  # a string holding a bare number
        "OBX|1|ST|30525-0^Age^LN||93 years||||||F",
        "OBX|1|ST|30525-0^Age^LN||1140 months||||||F",
        "OBX|1|TX|30525-0^Age^LN||ninety-three||||||F",
        "OBX|1|ST|21612-7^Age - Reported^LN||approx. 96 y||||||F",
        "OBX|1|NM|30525-0^Age^LN||93~94|a|||||F",  # repetitions
    ],
)
def test_an_age_observation_over_89_becomes_90_plus(obx: str) -> None:
    assert _obx5(obx) == "90+"


@pytest.mark.parametrize(
    ("obx", "kept"),
    [
        ("OBX|1|NM|30525-0^Age^LN||67|a|||||F", "67"),
        ("OBX|1|NM|X1^Patient age^L||960|mo|||||F", "960"),  # 80 years
        ("OBX|1|ST|30525-0^Age^LN||67 years||||||F", "67 years"),
        ("OBX|1|NM|8867-4^Heart rate^LN||93|/min|||||F", "93"),
        ("OBX|1|NM|T1^Tumor stage score^L||93||||||F", "93"),  # "stage" holds no age
        ("OBX|1|NM|U1^Usage hours^L||120|h|||||F", "120"),
        ("OBX|1|ST|8867-4^Heart rate^LN||93 bpm||||||F", "93 bpm"),
    ],
)
def test_other_numbers_stay(obx: str, kept: str) -> None:
    assert _obx5(obx) == kept


def test_a_birth_date_observation_follows_the_birth_date_rule() -> None:
    """LOINC 21112-8 (birth date) or a "date of birth" text: the year only, and not
    even that when it implies an age over 89 - never the timestamp rule."""
    old = date.today().year - 95
    recent = date.today().year - 40
    for obx3 in ("21112-8^Birth date^LN", "DOB^Date of birth^L", "X^BIRTHDATE^L"):
        for value_type in ("DT", "DTM", "TS"):
            assert _obx5(f"OBX|1|{value_type}|{obx3}||{old}0704||||||F") == ""
            assert _obx5(f"OBX|1|{value_type}|{obx3}||{recent}0704||||||F") == str(recent)
