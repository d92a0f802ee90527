"""Subscription invoices and dunning through a real command bus on the in-memory store:
period invoices at start and renewal (with proration lines and coupons), delayed
finalization, failed payments retried on the project's schedule by a test clock, and
the subscription's status following them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.providers.stub import DECLINED, SUCCEEDS
from commands import messages as m
from domain.dunning import InvoiceDunning
from domain.invoices import Invoice
from tests.unit.billing_world import START
from tests.unit.invoicing_world import InvoicingWorld


@pytest.fixture
def world() -> Iterator[InvoicingWorld]:
    w = InvoicingWorld()
    yield w
    w.bus.close()


def _setup(world: InvoicingWorld, card: str = SUCCEEDS, **settings: Any) -> tuple[UUID, str, str]:
    """A test clock, a customer on it whose default stub card is ``card``, and a monthly
    plan of 2000."""
    world.run(m.ConfigureBilling(**settings))
    clock = UUID(world.body(m.CreateTestClock(name="c", frozen_time=START))["test_clock"]["id"])
    customer = world.body(m.RegisterCustomer(external_id="u1", currency="EUR", test_clock_id=clock))
    world.card(str(customer["customer"]["id"]), card)
    return clock, str(customer["customer"]["id"]), world.plan("PRO", 2000)


def _subscribe(world: InvoicingWorld, customer: str, price: str) -> dict[str, Any]:
    return world.body(
        m.CreateSubscription(
            customer_id=UUID(customer), items=[m.SubscriptionItem(price_id=UUID(price))]
        )
    )


def _invoices(world: InvoicingWorld) -> list[Invoice]:
    found: dict[UUID, Invoice] = {}
    for n in world.app.recorder.select_notifications(start=1, limit=1_000_000):
        event = world.app.mapper.to_domain_event(n)
        if type(event).__qualname__.startswith("Invoice."):
            found[event.originator_id] = world.app.repository.get(event.originator_id)
    return sorted(found.values(), key=lambda i: i.number)


def _advance(world: InvoicingWorld, clock: UUID, days: float) -> dict[str, Any]:
    return world.body(m.AdvanceTestClock(test_clock_id=clock, to=START + timedelta(days=days)))


def test_subscription_bills_its_first_period_and_every_renewal_with_proration(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world)
    started = _subscribe(world, customer, price)
    assert started["invoice"]["status"] == "open"
    assert started["invoice"]["total"] == 2000
    assert started["invoice"]["number"] == "INV-TC-2027-000001"
    sub = UUID(started["subscription"]["id"])
    _advance(world, clock, 10)
    bigger = world.plan("MAX", 5000)
    world.run(
        m.ChangeSubscriptionItems(
            subscription_id=sub, items=[m.SubscriptionItem(price_id=UUID(bigger))]
        )
    )
    done = _advance(world, clock, 29)
    assert done["steps"]["renewed"] == 1
    renewal = _invoices(world)[-1]
    kinds = [line["kind"] for line in renewal.lines]
    assert kinds == ["subscription", "proration", "proration"]
    assert renewal.period_start == START + timedelta(days=28)  # Jan 31 -> Feb 28
    assert renewal.total == 5000 + sum(li["amount"] for li in renewal.lines[1:])
    assert [i.number for i in _invoices(world)] == ["INV-TC-2027-000001", "INV-TC-2027-000002"]


def test_drafts_wait_for_the_finalize_delay_then_finalize_on_the_clock(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world, finalize_delay_s=3600)
    started = _subscribe(world, customer, price)
    assert started["invoice"]["status"] == "draft"
    assert started["invoice"]["finalize_at"] == (START + timedelta(hours=1)).isoformat()
    done = world.body(m.AdvanceTestClock(test_clock_id=clock, to=START + timedelta(hours=2)))
    assert done["steps"]["invoice_finalized"] == 1
    assert _invoices(world)[0].status == "open"


def test_repeating_coupon_discounts_exactly_its_number_of_subscription_invoices(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world)
    world.run(
        m.DefineCoupon(code="HALF", percent_off="50", duration="repeating", duration_periods=2)
    )
    world.run(m.ApplyCouponToCustomer(customer_id=UUID(customer), coupon_code="HALF"))
    _subscribe(world, customer, price)
    _advance(world, clock, 95)  # three renewals
    assert [i.total for i in _invoices(world)] == [1000, 1000, 2000, 2000]


def test_failed_payment_is_retried_on_schedule_and_paid_on_the_third_retry(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(
        world, DECLINED, auto_charge_provider="stub", retry_days=[3, 5, 7]
    )
    started = _subscribe(world, customer, price)
    assert started["subscription"]["status"] == "active"  # the charge is made after it
    world.make_calls()
    sub = world.sub(started["subscription"]["id"])
    assert sub.status == "past_due"
    invoice = _invoices(world)[0]
    assert _dunning(world, invoice).next_attempt_at == START + timedelta(days=3)
    # One advance across two retries: each is charged, and declined, where it falls.
    done = _advance(world, clock, 6)
    assert done["steps"]["payment_retried"] == 2
    assert _dunning(world, _invoices(world)[0]).next_attempt_at == START + timedelta(days=7)
    assert world.sub(str(sub.id)).status == "past_due"
    world.card(customer, SUCCEEDS)  # the customer updates the card before the last retry
    done = _advance(world, clock, 7)
    invoice = _invoices(world)[0]
    assert invoice.status == "paid"
    assert _dunning(world, invoice).attempt_count == 3
    assert invoice.dates["paid_at"] == START + timedelta(days=7)
    assert world.sub(str(sub.id)).status == "active"
    assert _reminders(world, invoice.id) == [
        "payment_failed",
        "retry_failed",
        "retry_failed",
        "payment_recovered",
    ]


def _dunning(world: InvoicingWorld, invoice: Invoice) -> InvoiceDunning:
    found: InvoiceDunning = world.app.repository.get(InvoiceDunning.create_id(invoice.id))
    return found


def _reminders(world: InvoicingWorld, invoice_id: UUID) -> list[str]:
    return [
        str(vars(e)["step"])
        for e in world.app.events.get(InvoiceDunning.create_id(invoice_id))
        if type(e).__qualname__ == "InvoiceDunning.DunningReminder"
    ]


@pytest.mark.parametrize("final_action", ["canceled", "unpaid"])
def test_exhausted_retries_end_the_subscription_as_configured(
    world: InvoicingWorld, final_action: str
) -> None:
    clock, customer, price = _setup(
        world,
        DECLINED,
        auto_charge_provider="stub",
        retry_days=[3, 5, 7],
        final_action=final_action,
    )
    sub = _subscribe(world, customer, price)["subscription"]["id"]
    _advance(world, clock, 8)
    assert world.sub(sub).status == final_action
    invoice = _invoices(world)[0]
    assert invoice.status == "open"
    assert _dunning(world, invoice).next_attempt_at is None
    assert _reminders(world, invoice.id)[-1] == "retries_exhausted"


def test_manual_provider_payment_that_fails_records_the_attempt_and_marks_past_due(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world, DECLINED)
    started = _subscribe(world, customer, price)
    invoice_id = UUID(started["invoice"]["id"])
    paid = world.body(m.PayInvoice(invoice_id=invoice_id, method="provider", provider="stub"))
    assert paid["payment_attempt"]["status"] == "failed"
    assert paid["payment_attempt"]["succeeded"] is False
    assert paid["payment_attempt"]["failure_reason"] == "card_declined"
    assert paid["invoice"]["attempt_count"] == 1
    assert paid["subscription"]["status"] == "past_due"
    world.card(customer, SUCCEEDS)
    retried = world.body(m.RetryInvoicePayment(invoice_id=UUID(started["invoice"]["id"])))
    assert retried["payment_attempt"] is None  # not due yet
    _advance(world, clock, 3)
    assert world.sub(started["subscription"]["id"]).status == "active"


def test_trial_end_bills_the_first_period_and_a_trial_start_bills_nothing(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world)
    started = world.body(
        m.CreateSubscription(
            customer_id=UUID(customer),
            items=[m.SubscriptionItem(price_id=UUID(price))],
            trial_days=14,
        )
    )
    assert "invoice" not in started
    assert _invoices(world) == []
    done = _advance(world, clock, 15)
    assert done["steps"]["trial_ended"] == 1
    first = _invoices(world)[0]
    assert (first.total, first.period_start) == (2000, START + timedelta(days=14))


def test_paying_the_first_invoice_of_an_incomplete_subscription_activates_it(
    world: InvoicingWorld,
) -> None:
    _, customer, price = _setup(world)
    started = world.body(
        m.CreateSubscription(
            customer_id=UUID(customer),
            items=[m.SubscriptionItem(price_id=UUID(price))],
            incomplete=True,
        )
    )
    assert started["subscription"]["status"] == "incomplete"
    paid = world.body(
        m.PayInvoice(invoice_id=UUID(started["invoice"]["id"]), method="provider", provider="stub")
    )
    assert paid["payment_attempt"]["status"] == "succeeded"
    assert paid["payment_attempt"]["reference"].startswith("stub_pi_")
    assert paid["invoice"]["status"] == "paid"
    assert paid["subscription"]["status"] == "active"


def test_due_invoice_work_runs_when_the_scheduler_asks_for_the_customer(
    world: InvoicingWorld,
) -> None:
    # A customer on the application's clock, not a test clock: the scheduler's case.
    world.run(m.ConfigureBilling(auto_charge_provider="stub"))
    registered = world.body(m.RegisterCustomer(external_id="u1", currency="EUR"))
    customer = UUID(registered["customer"]["id"])
    world.card(str(customer), DECLINED)
    started = _subscribe(world, str(customer), world.plan("PRO", 2000))
    world.card(str(customer), SUCCEEDS)
    early = world.body(m.ProcessDueInvoices(customer_id=customer))
    assert early["invoice_work"] == {}
    assert list(early["billing"]["due"].values()) == [(START + timedelta(days=3)).isoformat()]
    world.clock.advance(timedelta(days=3))
    done = world.body(m.ProcessDueInvoices(customer_id=customer))
    assert done["invoice_work"] == {"payment_retried": 1}
    assert done["billing"]["due"] == {}
    assert _invoices(world)[0].status == "paid"
    assert world.sub(started["subscription"]["id"]).status == "active"


def test_an_unpaid_subscription_is_active_again_when_its_invoice_is_paid_after_all(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(
        world, DECLINED, auto_charge_provider="stub", retry_days=[3], final_action="unpaid"
    )
    sub = _subscribe(world, customer, price)["subscription"]["id"]
    _advance(world, clock, 4)
    assert world.sub(sub).status == "unpaid"
    assert world.sub(sub).next_due_at() is None  # nothing is billed while unpaid
    world.card(customer, SUCCEEDS)
    invoice = _invoices(world)[0]
    paid = world.body(m.PayInvoice(invoice_id=invoice.id, method="provider", provider="stub"))
    assert paid["invoice"]["status"] == "paid"
    assert paid["subscription"]["status"] == "active"
    # The period it missed while unpaid is billed by the next advance.
    done = _advance(world, clock, 30)
    assert done["steps"]["renewed"] == 1
    assert world.sub(sub).status == "active"
