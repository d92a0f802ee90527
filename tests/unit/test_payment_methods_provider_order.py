"""``PaymentMethods`` keeps the provider's order (issue 18, item 2): a provider event is
newest about a method (or the default) when no later one about it was applied; noting a
change records only a later time; the state a replay rebuilds is the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from domain.payment_methods import DEFAULT_KEY, PaymentMethods

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_an_older_event_about_a_method_is_not_newest_and_others_are_unaffected() -> None:
    methods = PaymentMethods.start(uuid4(), uuid4())
    assert methods.is_newest("pm_1", T0)
    methods.note_provider_change("pm_1", T0 + timedelta(seconds=20))
    assert not methods.is_newest("pm_1", T0 + timedelta(seconds=10))
    assert methods.is_newest("pm_1", T0 + timedelta(seconds=20))  # the same second counts
    assert methods.is_newest("pm_2", T0)
    assert methods.is_newest(DEFAULT_KEY, T0)
    assert methods.is_newest("pm_1", None)  # an event without a time cannot be ordered


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=20))
def test_the_newest_time_noted_is_the_maximum_whatever_the_order(seconds: list[int]) -> None:
    methods = PaymentMethods.start(uuid4(), uuid4())
    for s in seconds:
        methods.note_provider_change("pm_1", T0 + timedelta(seconds=s))
    newest = T0 + timedelta(seconds=max(seconds))
    assert methods.is_newest("pm_1", newest)
    assert not methods.is_newest("pm_1", newest - timedelta(seconds=1))
    noted = len([e for e in methods.collect_events() if "ProviderChangeSeen" in type(e).__name__])
    # Only a later time is recorded: as many events as the running maximum rose.
    rises = sum(1 for i, s in enumerate(seconds) if all(s > t for t in seconds[:i]))
    assert noted == rises
