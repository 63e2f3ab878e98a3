"""The rules of letters, calls, visits and the box: the postmark rule, addresses, dates (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.intake import offline

SH = ZoneInfo("Asia/Shanghai")
# The window closes at the end of 2024-03-01, Beijing time (2024-03-02 00:00 local).
OPENS = datetime(2024, 2, 2, 0, 0, tzinfo=SH)
CLOSES = datetime(2024, 3, 2, 0, 0, tzinfo=SH)
LAST_DAY = date(2024, 3, 1)


def local(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH).astimezone(UTC)


# --- the postmark rule -------------------------------------------------------------------------


def test_postmarked_on_the_closing_day_and_received_five_days_later_is_on_time() -> None:
    received = local(2024, 3, 6)
    assert offline.is_on_time(OPENS, CLOSES, received, LAST_DAY)
    assert not offline.is_late(CLOSES, received, LAST_DAY)


def test_postmarked_the_day_after_closing_is_late_even_if_it_arrives_at_once() -> None:
    received = local(2024, 3, 2, 9)
    assert not offline.is_on_time(OPENS, CLOSES, received, date(2024, 3, 2))
    assert offline.is_late(CLOSES, received, date(2024, 3, 2))


def test_without_postmark_the_moment_of_receipt_counts_at_shanghai_midnight() -> None:
    assert offline.is_on_time(OPENS, CLOSES, local(2024, 3, 1, 23, 59))
    assert not offline.is_on_time(OPENS, CLOSES, local(2024, 3, 2, 0, 1))
    # 23:59 local on the last day is 15:59 UTC: a UTC-date reading would get this wrong too.
    assert offline.is_on_time(OPENS, CLOSES, datetime(2024, 3, 1, 15, 59, tzinfo=UTC))
    assert not offline.is_on_time(OPENS, CLOSES, datetime(2024, 3, 1, 16, 1, tzinfo=UTC))


def test_a_window_closing_in_the_afternoon_still_counts_that_whole_day_for_postmarks() -> None:
    closes = datetime(2024, 3, 1, 17, 30, tzinfo=SH)
    assert offline.is_on_time(None, closes, local(2024, 3, 5), date(2024, 3, 1))
    assert not offline.is_on_time(None, closes, local(2024, 3, 1, 18), None)


def test_naive_database_datetimes_are_read_as_utc() -> None:
    naive_closes = CLOSES.astimezone(UTC).replace(tzinfo=None)  # as SQLite returns it
    assert offline.last_day(naive_closes) == LAST_DAY
    assert offline.is_on_time(None, naive_closes, local(2024, 3, 1, 23, 59))


def test_early_letters_are_not_on_time_but_not_late_either() -> None:
    received = local(2024, 2, 3)
    assert not offline.is_on_time(OPENS, CLOSES, received, date(2024, 2, 1))
    assert not offline.is_late(CLOSES, received, date(2024, 2, 1))


def test_an_open_window_takes_everything() -> None:
    assert offline.is_on_time(None, None, local(2030, 1, 1), date(2030, 1, 1))


def test_received_date_without_time_becomes_office_hours_or_now() -> None:
    now = datetime(2024, 3, 20, 2, 0, tzinfo=UTC)  # 10:00 Shanghai
    assert offline.received_moment(date(2024, 3, 20), now) == now
    assert offline.received_moment(date(2024, 3, 1), now) == local(2024, 3, 1, 9)


def test_chinese_dates_have_no_leading_zeros() -> None:
    assert offline.chinese_date(date(2024, 2, 2)) == "2024年2月2日"
    assert offline.chinese_date(date(2024, 12, 31)) == "2024年12月31日"


moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=SH)
    return start, start + timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(opens=moments, length=st.timedeltas(timedelta(hours=1), timedelta(days=90)),
       postmark=st.dates(date(2019, 12, 1), date(2031, 3, 31)),
       delay=st.timedeltas(timedelta(0), timedelta(days=60)))  # fmt: skip
def test_a_postmark_is_on_time_exactly_when_its_local_day_meets_the_window(
    opens: datetime, length: timedelta, postmark: date, delay: timedelta
) -> None:
    closes = opens + length
    day_start, day_end = _day_bounds(postmark)
    received = day_start + delay  # however long the post takes
    meets = day_start < closes and day_end > opens
    assert offline.is_on_time(opens, closes, received, postmark) == meets
    if postmark <= offline.last_day(closes):
        assert not offline.is_late(closes, received, postmark)


@settings(max_examples=300, deadline=None)
@given(opens=moments, length=st.timedeltas(timedelta(minutes=1), timedelta(days=90)), at=moments)
def test_without_postmark_the_window_is_opens_inclusive_closes_exclusive(
    opens: datetime, length: timedelta, at: datetime
) -> None:
    closes = opens + length
    assert offline.is_on_time(opens, closes, at) == (opens <= at < closes)
    assert offline.is_on_time(opens, closes, opens)
    assert not offline.is_on_time(opens, closes, closes)


def test_addresses_keep_their_postcode_through_one_encrypted_field() -> None:
    stored = offline.join_address("523000", "东莞市东城西路185号")
    assert offline.split_address(stored) == ("523000", "东莞市东城西路185号")
    assert offline.split_address("东莞市东城西路185号") == (None, "东莞市东城西路185号")
    assert offline.join_address("523000", "  ") is None
