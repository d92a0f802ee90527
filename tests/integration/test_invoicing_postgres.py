"""Invoicing on real Postgres: gapless numbers under concurrent finalization by two
independent Tally instances on one schema, dunning driven by a test clock, and a year
of monthly renewals (each with its invoice) for 100 customers in one clock advance."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import pytest

from adapters.clock import FixedClock
from adapters.providers.stub import DECLINED, SUCCEEDS
from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from domain.billing_settings import TEST_CLOCK_SERIES, InvoiceSequence
from domain.dunning import InvoiceDunning
from domain.invoices import Invoice
from domain.subscriptions import Subscription
from tests.calls import card_command, execute_and_call
from tests.plans import monthly_plan

START = datetime(2027, 1, 31, 9, tzinfo=UTC)
COUNT = 16


@pytest.fixture
def pair(settings: Settings) -> Iterator[tuple[Tally, Tally]]:
    """Two independent Tally instances on one schema: two processes, in effect."""
    first = build(settings, clock=FixedClock(START))
    second = build(settings, clock=FixedClock(START))
    yield first, second
    second.close()
    first.close()


def _project(tally: Tally) -> UUID:
    made = tally.execute(m.CreateProject(name="acme", mode="test"), Context(NO_PROJECT, "cli"))
    return UUID(made.body["project"]["id"])


def _body(tally: Tally, pid: UUID, command: m.Command) -> dict[str, Any]:
    """Run a command, then make the provider calls it asked for (as the API does)."""
    return execute_and_call(tally, command, Context(pid, "key_test")).body


def test_sixteen_concurrent_finalizations_on_two_instances_give_no_gap_and_no_twin(
    pair: tuple[Tally, Tally],
) -> None:
    first, second = pair
    pid = _project(first)
    _body(first, pid, m.ConfigureBilling(invoice_prefix="ACME"))
    customer = _body(first, pid, m.RegisterCustomer(external_id="u1", currency="EUR"))
    line = m.InvoiceLineInput(description="seat", unit_amount=1000)
    drafts = [
        UUID(
            _body(
                first,
                pid,
                m.CreateInvoice(customer_id=UUID(customer["customer"]["id"]), lines=[line]),
            )["invoice"]["id"]
        )
        for _ in range(COUNT)
    ]
    numbers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(COUNT)

    def finalize(index: int) -> None:
        app = (first, second)[index % 2]
        barrier.wait()
        try:
            body = _body(app, pid, m.FinalizeInvoice(invoice_id=drafts[index]))
            numbers.append(body["invoice"]["number"])
        except BaseException as exc:  # reported below, with the numbers
            errors.append(exc)

    threads = [threading.Thread(target=finalize, args=(i,)) for i in range(COUNT)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - started
    assert errors == []
    assert sorted(numbers) == [f"ACME-2027-{n:06d}" for n in range(1, COUNT + 1)]
    stored: list[str] = sorted(first.store.repository.get(i).number for i in drafts)
    assert stored == sorted(numbers)
    print(f"{COUNT} concurrent finalizations on 2 instances: {COUNT / elapsed:.0f}/s")


def _clock_world(tally: Tally, card: str, **billing: Any) -> tuple[UUID, UUID, str, UUID]:
    pid = _project(tally)
    _body(
        tally, pid, m.ConfigureBilling(auto_charge_provider="stub", retry_days=[3, 5, 7], **billing)
    )
    clock = UUID(
        _body(tally, pid, m.CreateTestClock(name="c", frozen_time=START))["test_clock"]["id"]
    )
    customer = _body(
        tally,
        pid,
        m.RegisterCustomer(external_id="u1", currency="EUR", test_clock_id=clock),
    )
    _body(tally, pid, card_command(UUID(customer["customer"]["id"]), card))
    price = monthly_plan(partial(_body, tally, pid), "PRO", 2000, lookup_key="pro")
    sub = _body(
        tally,
        pid,
        m.CreateSubscription(
            customer_id=UUID(customer["customer"]["id"]),
            items=[m.SubscriptionItem(price_id=price)],
        ),
    )
    return pid, clock, sub["subscription"]["id"], UUID(sub["invoice"]["id"])


def _advance(tally: Tally, pid: UUID, clock: UUID, days: int) -> dict[str, Any]:
    return _body(
        tally, pid, m.AdvanceTestClock(test_clock_id=clock, to=START + timedelta(days=days))
    )


def test_dunning_on_a_test_clock_retries_at_3_5_7_days_and_the_third_retry_pays(
    tally: Tally,
) -> None:
    pid, clock, sub_id, invoice_id = _clock_world(tally, DECLINED)
    subscription: Subscription = tally.store.repository.get(UUID(sub_id))
    assert subscription.status == "past_due"
    attempts = []
    for day in (3, 5, 7):
        if day == 7:  # the customer puts in a card that works before the third retry
            invoice = tally.store.repository.get(invoice_id)
            _body(tally, pid, card_command(invoice.customer_id, SUCCEEDS))
        _advance(tally, pid, clock, day)
        invoice: Invoice = tally.store.repository.get(invoice_id)
        dunning: InvoiceDunning = tally.store.repository.get(InvoiceDunning.create_id(invoice_id))
        attempts.append((day, dunning.attempt_count, invoice.status))
    assert attempts == [(3, 2, "open"), (5, 3, "open"), (7, 3, "paid")]
    assert len(invoice.payments) == 1
    assert tally.store.repository.get(UUID(sub_id)).status == "active"


@pytest.mark.parametrize("final_action", ["canceled", "unpaid"])
def test_dunning_that_exhausts_its_retries_ends_the_subscription_as_configured(
    tally: Tally, final_action: str
) -> None:
    pid, clock, sub_id, invoice_id = _clock_world(tally, DECLINED, final_action=final_action)
    done = _advance(tally, pid, clock, 8)
    assert done["steps"]["payment_retried"] == 3
    assert tally.store.repository.get(UUID(sub_id)).status == final_action
    invoice: Invoice = tally.store.repository.get(invoice_id)
    dunning: InvoiceDunning = tally.store.repository.get(InvoiceDunning.create_id(invoice.id))
    assert (dunning.attempt_count, dunning.next_attempt_at, dunning.state) == (4, None, "exhausted")


def test_a_year_of_monthly_renewals_with_invoices_for_100_customers_takes_seconds(
    tally: Tally,
) -> None:
    pid = _project(tally)
    clock = UUID(
        _body(tally, pid, m.CreateTestClock(name="y", frozen_time=START))["test_clock"]["id"]
    )
    price = monthly_plan(partial(_body, tally, pid), "PRO", 2000, lookup_key="pro")
    for i in range(100):
        customer = _body(
            tally, pid, m.RegisterCustomer(external_id=f"u{i}", currency="EUR", test_clock_id=clock)
        )
        _body(
            tally,
            pid,
            m.CreateSubscription(
                customer_id=UUID(customer["customer"]["id"]),
                items=[m.SubscriptionItem(price_id=price)],
            ),
        )
    started = time.perf_counter()
    done = _advance(tally, pid, clock, 366)
    elapsed = time.perf_counter() - started
    assert done["steps"]["renewed"] == 1200
    # The customers live on a test clock: their invoices are the test-clock series.
    series = InvoiceSequence.create_id(pid, TEST_CLOCK_SERIES)
    sequence: InvoiceSequence = tally.store.repository.get(series)
    assert sequence.last == 1300  # 100 first periods and 1200 renewals
    assert elapsed < 30
    print(f"a year of renewals with invoices for 100 customers: {elapsed:.2f}s")
