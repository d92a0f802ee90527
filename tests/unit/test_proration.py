from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.proration import prorate_change, share

START = datetime(2027, 3, 1, tzinfo=UTC)
END = datetime(2027, 4, 1, tzinfo=UTC)  # 31 days


def test_half_way_through_credits_and_charges_half() -> None:
    at = START + (END - START) / 2
    lines = prorate_change(3100, 6200, START, END, at)
    assert [line.amount for line in lines] == [-1550, 3100]


def test_rounding_is_half_even_per_line() -> None:
    # 1 minor unit over 2 equal halves is exactly 0.5: half-even rounds it to 0.
    start = datetime(2027, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=2)
    assert share(1, start, end, start + timedelta(days=1)) == 0
    assert share(3, start, end, start + timedelta(days=1)) == 2  # 1.5 -> 2


def test_change_at_period_start_is_a_full_swap_and_at_end_is_nothing() -> None:
    assert [line.amount for line in prorate_change(1000, 2500, START, END, START)] == [-1000, 2500]
    assert prorate_change(1000, 2500, START, END, END) == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 10**7), min_size=2, max_size=6),
    st.lists(st.integers(0, 31 * 24 * 3600), min_size=1, max_size=5),
)
def test_net_charged_equals_time_weighted_price_within_one_unit_per_change(
    prices: list[int], offsets_s: list[int]
) -> None:
    """Start on prices[0] for the whole period; at each change switch to the next price.
    The first charge plus every proration line equals the exact time-weighted price."""
    moments = sorted(START + timedelta(seconds=s) for s in offsets_s)[: len(prices) - 1]
    total = prices[0]
    for i, at in enumerate(moments):
        total += sum(
            line.amount for line in prorate_change(prices[i], prices[i + 1], START, END, at)
        )
    edges = [START, *moments, END]
    seconds = (END - START).total_seconds()
    exact = sum(
        prices[i] * (edges[i + 1] - edges[i]).total_seconds() / seconds
        for i in range(len(edges) - 1)
    )
    assert abs(total - exact) <= len(moments) + 1e-6
