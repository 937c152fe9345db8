"""Safe Harbor generalisations: ZIP3 with restricted prefixes, 90+, year-only dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from wardlink.phi.generalize import (
    RESTRICTED_ZIP3,
    age,
    generalize_date,
    generalize_timestamp,
    truncate_datetime,
    zip3,
)


def test_zip_keeps_three_digits() -> None:
    assert zip3("62704") == "627"
    assert zip3("62704-1234") == "627"
    assert zip3(62704) == "627"


@pytest.mark.parametrize("prefix", sorted(RESTRICTED_ZIP3))
def test_restricted_zip_prefixes_become_000(prefix: str) -> None:
    assert zip3(prefix + "12") == "000"


def test_restricted_list_is_the_hhs_one() -> None:
    expected = "036 059 063 102 203 556 692 790 821 823 830 831 878 879 884 890 893"
    assert sorted(RESTRICTED_ZIP3) == expected.split()


@pytest.mark.parametrize("bad", ["6270", "abcde", "", None, True, 1.5])
def test_unreadable_zip_is_dropped(bad: object) -> None:
    assert zip3(bad) is None


def test_ages() -> None:
    assert age(89) == 89
    assert age(90) == "90+"
    assert age("104") == "90+"
    assert age(45.7) == 45
    assert age("ninety") is None
    assert age(-1) is None


def test_dates_by_policy() -> None:
    today = date(2026, 11, 3)
    assert generalize_date("1962-07-04", "year", today=today) == "1962"
    assert generalize_date("19620704", "year", today=today) == "1962"
    assert generalize_date("07/04/1962", "year", today=today) == "1962"
    assert generalize_date("1962-07-04", "keep", today=today) == "1962-07-04"
    assert generalize_date("1962-07-04", "drop", today=today) is None
    assert generalize_date("unknown", "year", today=today) is None


def test_birth_year_implying_age_over_89_is_dropped() -> None:
    today = date(2026, 11, 3)
    assert generalize_date("1936-12-31", "year", birth=True, today=today) is None
    assert generalize_date("1937-01-01", "year", birth=True, today=today) == "1937"
    assert generalize_date("1936-12-31", "year", birth=False, today=today) == "1936"


def test_timestamps() -> None:
    moment = datetime(2026, 11, 3, 14, 22, 5, tzinfo=UTC)
    assert truncate_datetime(moment, "hour") == datetime(2026, 11, 3, 14, tzinfo=UTC)
    assert truncate_datetime(moment, "year") == datetime(2026, 1, 1, tzinfo=UTC)
    assert generalize_timestamp("2026-11-03T14:22:05Z", "keep") == "2026-11-03T14:22:05Z"
    assert generalize_timestamp("2026-11-03T14:22:05Z", "hour") == "2026-11-03T14:00:00Z"
    assert generalize_timestamp("2026-11-03T14:22:05Z", "day") == "2026-11-03"
    assert generalize_timestamp("20261103142205", "hour") == "2026110314"
    assert generalize_timestamp("20261103142205", "year") == "2026"
    assert generalize_timestamp("whenever", "keep") is None
    assert generalize_timestamp(1_793_000_000, "keep") == 1_793_000_000
