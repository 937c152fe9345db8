"""HL7 redaction's caches and short cuts remove exactly what the slow path removes.

The redactor caches field results across messages and hands the scrubber only the
known values that may occur in a text (``hl7_redact._Known``). These tests show a
name is still removed where a short cut applies: a field whose result was cached in
an earlier message without that name, a short text, an escaped text, an identifier
inside a comment. They also pin the scrubber behaviour the short cut relies on, and
that ages and birth dates over 89 follow the Safe Harbor rules inside HL7.
"""

from __future__ import annotations

from datetime import date

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardlink.phi import RedactionPolicy
from wardlink.phi.config import FieldRule
from wardlink.phi.hl7_redact import Hl7Redactor, bounded_rule
from wardlink.phi.hl7_types import BIRTH_DATE_FIELDS, TypeClass

# English words the scrubber keeps on their own but removes once they are a known name.
_WORD_NAMES = ("Rose", "Mark", "GRACE")

_WIDE = {  # a site policy that lets short coded and text fields out
    "hl7": {"segments": {"OBX": {1: "match:^[0-9]{0,4}$", 2: "code", 3: "coded", 5: "obx_value",
                                 6: "coded", 9: "text"},
                         "NTE": {1: "match:^[0-9]{0,4}$", 2: "code", 3: "text"},
                         "PID": {7: "date", 8: "code"},
                         "NK1": {16: "keep"}, "GT1": {8: "timestamp"}}}
}  # fmt: skip


@pytest.fixture(scope="module")
def policies() -> dict[str, RedactionPolicy]:
    return {"default": RedactionPolicy.default(), "wide": RedactionPolicy.from_config(_WIDE)}


def _message(family: str, given_name: str, *, obx: str, nte: str, pid3: str = "1234567") -> str:
    return "\r".join(
        [
            "MSH|^~\\&|MON|ICU|WL|WL|20260301120000||ORU^R01|M1|P|2.5",
            f"PID|1||{pid3}^^^HOSP^MR||{family}^{given_name}||19700412|F",
            obx,
            f"NTE|1|L|{nte}",
        ]
    )


@pytest.mark.parametrize("word", _WORD_NAMES)
def test_a_cached_field_still_loses_a_name_the_next_message_knows(
    policies: dict[str, RedactionPolicy], word: str
) -> None:
    policy = policies["wide"]
    obx = f"OBX|1|ST|8867-4^{word}^LN||{word}|^{word}^UCUM|||{word}"
    # first message: nobody is called so, the word stays and the results are cached
    first = policy.redact_hl7(_message("Zorblax", "Quin", obx=obx, nte=word))
    assert first.ok, first.error
    assert str(first.output).count(word) == 5
    # second message: the patient is called so, every cached field loses the word
    for family, given_name in ((word, "Quin"), ("Zorblax", word)):
        second = policy.redact_hl7(_message(family, given_name, obx=obx, nte=word))
        assert second.ok, second.error
        assert word.lower() not in str(second.output).lower(), second.output
    # and a third message without the name gets the cached results again
    third = policy.redact_hl7(_message("Zorblax", "Quin", obx=obx, nte=word))
    assert third.output == first.output


def test_known_values_with_digits_are_found_inside_texts(
    policies: dict[str, RedactionPolicy],
) -> None:
    obx = "OBX|1|ST|8867-4^Note^LN||ref 4711-A|||"
    for policy in policies.values():
        for text in ("chart 4711 checked", "see 4711", "ref 4711-A"):
            result = policy.redact_hl7(_message("Zorblax", "Quin", obx=obx, nte=text, pid3="4711"))
            assert result.ok, result.error
            assert "4711" not in str(result.output), (text, result.output)


def test_a_name_in_escaped_text_is_removed(policies: dict[str, RedactionPolicy]) -> None:
    obx = "OBX|1|TX|8867-4^Comment^LN||Seen by Rose\\.br\\Rose\\T\\Mark agree||||||F"
    for policy in policies.values():
        for family, given_name in (("Rose", "Mark"), ("Mark", "Rose")):
            message = _message(family, given_name, obx=obx, nte="Rose\\S\\Mark\\.br\\ok")
            result = policy.redact_hl7(message)
            assert result.ok, result.error
            output = str(result.output)
            assert "Rose" not in output and "Mark" not in output, output


def test_cached_results_equal_fresh_ones_across_separators_and_names(
    policies: dict[str, RedactionPolicy],
) -> None:
    """A stream mixing separators, escapes and names gives, message by message, what a
    redactor with empty caches gives."""
    fields = ["1^Rose^L", "1#Rose#L", "a\\S\\b", "a!S!b", "Mark^^UCUM", "^GRACE^", "4711", "x"]
    stream = []
    for index, raw in enumerate(fields * 3):
        family = ("Rose", "Zorblax", "GRACE", "Mark")[index % 4]
        message = _message(family, "Quin", obx=f"OBX|1|ST|{raw}||{raw}|{raw}|||{raw}", nte=raw)
        if index % 2:
            message = message.replace("MSH|^~\\&", "MSH|#~!&").replace("^", "#")
        stream.append(message)
    for policy in policies.values():
        for message in stream:
            fresh = Hl7Redactor(policy.config.hl7.segments, policy._actions)
            assert policy.redact_hl7(message).output == fresh.redact(message), message


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.sampled_from(("Rose", "pump", "ICU", "5 mg", "Bed", "kavin", "MDC_ECG")),
                   min_size=1, max_size=5),
    number=st.integers(min_value=0, max_value=99999),
    suffix=st.sampled_from(("", "A", "-7", " Elm St", "kavin")),
)  # fmt: skip
def test_the_scrubber_uses_a_known_value_with_digits_only_by_its_digits(
    policies: dict[str, RedactionPolicy], words: list[str], number: int, suffix: str
) -> None:
    """The contract ``hl7_redact._probe`` relies on: a known value with a digit cannot
    change a text whose digits do not contain the value's digits."""
    scrubber = policies["default"].scrubber
    text = " ".join(words) + " 12"
    value = f"{number}{suffix}"
    digits = "".join(ch for ch in value if ch.isdigit())
    if digits in "12":
        return
    assert scrubber.scrub(text, [value]) == scrubber.scrub(text)


@pytest.mark.parametrize(
    "text",
    ["Patient is 93 years old", "93-year-old, alarm limits checked", "age 95 today", "pt 92yo"],
)
def test_ages_over_89_in_hl7_text_follow_the_free_text_rules(
    policies: dict[str, RedactionPolicy], text: str
) -> None:
    policy = policies["default"]
    expected = policy.scrubber.scrub(text)
    obx = f"OBX|1|TX|8867-4^Comment^LN||{text}||||||F"
    result = policy.redact_hl7(_message("Zorblax", "Quin", obx=obx, nte=text))
    assert result.ok, result.error
    parsed = hl7.parse(str(result.output))
    assert str(parsed.segments("NTE")[0][3]) == expected
    assert str(parsed.segments("OBX")[0][5]) == expected
    assert "90+" in expected  # the scrubber's age rule, whatever its wording


def _value(output: str, segment_id: str, number: int) -> str:
    for line in output.split("\r"):
        fields = line.split("|")
        if fields[0] == segment_id:
            return fields[number] if len(fields) > number else ""
    return ""


def test_birth_dates_over_89_drop_the_year(policies: dict[str, RedactionPolicy]) -> None:
    year = date.today().year
    cases = {year - 95: "", year - 91: "", year - 89: str(year - 89), year - 30: str(year - 30)}
    for born, expected in cases.items():
        dob = f"{born}0412"
        message = "\r".join(
            [
                "MSH|^~\\&|MON|ICU|WL|WL|20260301120000||ADT^A01|M1|P|2.5",
                f"PID|1||1234567^^^HOSP^MR||Zorblax^Quin||{dob}|F",
                "NK1|1|Zorblax^Ada|SPO" + "|" * 13 + dob,
                "GT1|1||Zorblax^Quin|||||" + dob,
            ]
        )
        for name, policy in policies.items():
            result = policy.redact_hl7(message)
            assert result.ok, result.error
            output = str(result.output)
            assert _value(output, "PID", 7) == expected, (name, born)
            # the default policy empties NK1-16 and GT1-8; the wide one lets them out as
            # "keep" and "timestamp", which the birth rule bounds
            kept = expected if name == "wide" else ""
            assert _value(output, "NK1", 16) == kept, (name, born)
            assert _value(output, "GT1", 8) == kept, (name, born)
            if not expected:
                assert str(born) not in output, (name, output)


def test_birth_date_fields_follow_the_birth_rule_whatever_the_policy_says() -> None:
    for kind in ("keep", "date", "timestamp", "code"):
        bounded = bounded_rule(FieldRule.parse(kind), TypeClass.DATE, True, birth=True)
        assert bounded is not None and bounded.kind == "birth_date", kind
    assert bounded_rule(FieldRule.parse("drop"), TypeClass.DATE, True, birth=True) is None
    assert ("PID", 7) in BIRTH_DATE_FIELDS
