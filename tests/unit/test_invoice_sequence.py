"""Invoice number series (issue 11, bug 7): the real series keeps the id and the events it
had before test-clock series existed, so stored history replays to the same counters."""

from __future__ import annotations

from uuid import UUID, uuid5

from domain.billing_settings import TEST_CLOCK_SERIES, InvoiceSequence, series_prefix

PROJECT = UUID(int=7)


def test_the_real_series_keeps_the_id_its_stored_events_have() -> None:
    assert InvoiceSequence.create_id(PROJECT) == uuid5(PROJECT, "invoice-sequence")
    assert InvoiceSequence(project_id=PROJECT, prefix="INV").id == uuid5(
        PROJECT, "invoice-sequence"
    )


def test_the_test_clock_series_is_another_aggregate_with_its_own_counter() -> None:
    real = InvoiceSequence(project_id=PROJECT, prefix="INV")
    prefix = series_prefix("INV", TEST_CLOCK_SERIES)
    on_clock = InvoiceSequence(project_id=PROJECT, prefix=prefix, series=TEST_CLOCK_SERIES)
    assert on_clock.id == InvoiceSequence.create_id(PROJECT, TEST_CLOCK_SERIES) != real.id
    assert on_clock.take(2030, prefix) == "INV-TC-2030-000001"
    assert real.take(2026) == "INV-2026-000001"
    assert on_clock.take(2031, prefix) == "INV-TC-2031-000002"


def test_an_opened_event_stored_without_a_series_replays_as_the_real_series() -> None:
    sequence = InvoiceSequence(project_id=PROJECT, prefix="ACME")
    sequence.take(2026)
    sequence.take(2026)
    events = sequence.collect_events()
    # The stored form of an Opened event recorded before ``series`` existed.
    del events[0].__dict__["series"]
    replayed = None
    for stored in events:
        replayed = stored.mutate(replayed)
    assert replayed is not None
    assert (replayed.id, replayed.series, replayed.last) == (sequence.id, "", 2)
    assert replayed.take(2027) == "ACME-2027-000003"
