"""Timestamps after the validator: fixed-width UTC text whose order is the order in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.services.timestamps import parse_timestamp, utc_timestamp

# Years 1000-9998 only: the calendar's edges are covered (and fail) in test_validation.py.
moments = st.datetimes(
    min_value=datetime(1000, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.builds(
        lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)
    ),
)


def test_an_offset_is_converted_to_the_same_instant_in_utc() -> None:
    summer = datetime(2025, 6, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))

    assert utc_timestamp(summer) == "2025-05-31T23:30:00.000000Z"


def test_a_written_timestamp_reads_back_as_the_same_instant() -> None:
    moment = datetime(2025, 3, 30, 1, 59, 59, 999999, tzinfo=UTC)

    assert parse_timestamp(utc_timestamp(moment)) == moment


@settings(max_examples=200, deadline=None)
@given(first=moments, second=moments)
def test_text_order_is_time_order(first: datetime, second: datetime) -> None:
    a, b = utc_timestamp(first), utc_timestamp(second)

    assert len(a) == len(b) == len("2025-03-10T09:15:00.000000Z")
    assert (a < b) == (first < second)
    assert (a == b) == (first == second)
    assert parse_timestamp(a) == first
