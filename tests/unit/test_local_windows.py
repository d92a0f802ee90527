"""The per-process moving window (``api.rate_limits.LocalWindows``, issue 14): in any window
of ``window_s`` seconds it admits at most ``requests``, and it admits a request whenever
fewer were admitted in the window before it. Checked against a direct count, with
hypothesis choosing the policy and the request times."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from api.rate_limits import LocalWindows
from domain.rate_limits import RatePolicy


@given(
    st.integers(1, 5),
    st.integers(1, 4),
    st.lists(st.floats(0, 0.9, allow_nan=False), min_size=1, max_size=60),
)
def test_admits_exactly_when_fewer_than_the_policy_were_admitted_in_the_window(
    requests: int, window_s: int, gaps: list[float]
) -> None:
    policy, windows, admitted = RatePolicy(requests, window_s), LocalWindows(), []
    now = 1_000.0
    for gap in gaps:
        now += gap
        recent = [t for t in admitted if t > now - window_s]
        reset_at = windows.hit("k", policy, now)
        assert (reset_at is None) == (len(recent) < requests)
        if reset_at is None:
            admitted.append(now)
        else:
            assert reset_at == min(recent) + window_s
            assert reset_at > now
    for start in admitted:  # no window holds more than the policy
        assert len([t for t in admitted if start <= t < start + window_s]) <= requests


def test_buckets_are_apart_and_idle_ones_are_swept() -> None:
    windows, policy = LocalWindows(), RatePolicy(1, 1)
    assert windows.hit("a", policy, 0.0) is None
    assert windows.hit("b", policy, 0.0) is None
    assert windows.hit("a", policy, 0.5) == 1.0
    windows._sweep(5.0)
    assert windows.buckets == {}
