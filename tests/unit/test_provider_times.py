"""Times read from verified provider payloads stay times a read model can store: a
Stripe ``created`` or a Paddle/YooKassa RFC 3339 text that is out of range, naive, or
too large for Python is no time (None), never an error and never a stored far-off date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.providers.stripe_events import normalize as stripe_normalize
from adapters.providers.times import iso_time, unix_time


def stripe_event(created: object) -> dict[str, object]:
    return {"id": "evt_1", "type": "customer.created", "created": created, "data": {}}


def test_stripe_created_in_range_is_read_as_utc() -> None:
    assert stripe_normalize(stripe_event(1_700_000_000)).occurred_at == datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=UTC
    )


@pytest.mark.parametrize("created", [10**20, -(10**20), 253_402_300_799, -62_135_596_800, True])
def test_stripe_created_out_of_range_is_no_time(created: int) -> None:
    assert stripe_normalize(stripe_event(created)).occurred_at is None


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59-23:59",  # after MAX_TIMESTAMP, and past year 9999 in UTC
        "0001-01-01T00:00:00+00:00",  # before MIN_TIMESTAMP
        "2024-01-31T12:00:00",  # no timezone: cannot be compared with aware times
        "not a time",
    ],
)
def test_iso_time_out_of_range_or_naive_is_no_time(text: str) -> None:
    assert iso_time(text) is None


def test_iso_time_reads_z_and_offsets() -> None:
    assert iso_time("2024-01-31T12:00:00Z") == datetime(2024, 1, 31, 12, tzinfo=UTC)


def test_unix_time_refuses_what_datetime_cannot_hold() -> None:
    assert unix_time(10**25) is None
    assert unix_time(0) == datetime(1970, 1, 1, tzinfo=UTC)
