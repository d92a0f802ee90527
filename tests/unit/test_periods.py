from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.periods import INTERVALS, Schedule


def test_month_end_anchor_renews_on_last_day_then_returns_to_31st() -> None:
    schedule = Schedule(datetime(2027, 1, 31, 12, tzinfo=UTC), "month")
    assert [schedule.boundary(n).date().isoformat() for n in range(4)] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
    ]


def test_leap_year_february_ends_on_29th() -> None:
    schedule = Schedule(datetime(2028, 1, 31, tzinfo=UTC), "month")
    assert schedule.boundary(1).date().isoformat() == "2028-02-29"


def test_yearly_anchor_on_leap_day_falls_back_to_28th_then_returns() -> None:
    schedule = Schedule(datetime(2028, 2, 29, tzinfo=UTC), "year")
    assert schedule.boundary(1).date().isoformat() == "2029-02-28"
    assert schedule.boundary(4).date().isoformat() == "2032-02-29"


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        Schedule(datetime(2027, 1, 1), "month")
    with pytest.raises(ValidationFailed):
        Schedule(datetime(2027, 1, 1, tzinfo=UTC), "fortnight")
    with pytest.raises(ValidationFailed):
        Schedule(datetime(2027, 1, 1, tzinfo=UTC), "month", 0)


anchors = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(anchors, st.sampled_from(INTERVALS), st.integers(1, 12), st.integers(0, 60))
def test_periods_never_overlap_and_never_leave_a_gap(
    anchor: datetime, interval: str, count: int, n: int
) -> None:
    schedule = Schedule(anchor, interval, count)
    start, end = schedule.period(n)
    next_start, _ = schedule.period(n + 1)
    assert start < end
    assert end == next_start


@settings(max_examples=200, deadline=None)
@given(
    anchors,
    st.sampled_from(INTERVALS),
    st.integers(1, 6),
    st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=4000)),
)
def test_every_moment_falls_in_exactly_the_period_found_for_it(
    anchor: datetime, interval: str, count: int, offset: timedelta
) -> None:
    schedule = Schedule(anchor, interval, count)
    moment = anchor + offset
    start, end = schedule.period_at(moment)
    assert start <= moment < end
