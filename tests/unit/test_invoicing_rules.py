"""More invoicing rules through the handlers on the in-memory store: which coupon a
subscription invoice gets and for how long, negative totals becoming credit, refunds to
a provider, settings and tax rates refused, other projects' invoices invisible, and the
retry schedule a manual attempt does not move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from commands import messages as m
from commands.bus import Context
from domain.dunning import plan_failure
from domain.errors import (
    CouponUnavailable,
    InvalidTransition,
    NotFound,
    TaxRateArchived,
    ValidationFailed,
)
from domain.subscription_drafts import next_invoice
from tests.unit.billing_world import NO_PROJECT
from tests.unit.invoicing_world import InvoicingWorld
from tests.unit.test_dunning_commands import _advance, _invoices, _setup, _subscribe


@pytest.fixture
def world() -> Iterator[InvoicingWorld]:
    w = InvoicingWorld()
    yield w
    w.bus.close()


def test_subscription_coupon_wins_over_the_customer_coupon_and_once_means_one_invoice(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world)
    world.run(m.DefineCoupon(code="CUST", amount_off=100, currency="EUR", duration="forever"))
    world.run(m.DefineCoupon(code="SUB", percent_off="25", duration="once"))
    world.run(m.ApplyCouponToCustomer(customer_id=UUID(customer), coupon_code="CUST"))
    sub = _subscribe(world, customer, price)["subscription"]["id"]
    world.run(m.ApplyCouponToSubscription(subscription_id=UUID(sub), coupon_code="SUB"))
    _advance(world, clock, 60)  # two renewals
    # First period: the customer's coupon (the subscription had none yet); then the
    # subscription's once; then the customer's forever coupon again.
    assert [i.total for i in _invoices(world)] == [1900, 1500, 1900]


def test_a_negative_total_becomes_credit_that_the_next_invoice_uses(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world)
    sub = _subscribe(world, customer, world.plan("MAX", 5000))["subscription"]["id"]
    _advance(world, clock, 1)
    world.run(
        m.ChangeSubscriptionItems(
            subscription_id=UUID(sub), items=[m.SubscriptionItem(price_id=UUID(price))]
        )
    )
    _advance(world, clock, 28)  # renewal with a large credit for unused time
    renewal = _invoices(world)[1]
    assert renewal.total < 0
    assert (renewal.status, renewal.credit_granted) == ("paid", -renewal.total)
    _advance(world, clock, 59)
    following = _invoices(world)[2]
    assert following.credit_applied == min(2000, -renewal.total)
    balances = world.balances()
    assert sum(balances.values()) == 0
    owed = sum(i.amount_remaining for i in _invoices(world))
    assert balances[f"receivable:{customer}"] == -owed


def test_refund_to_the_original_provider_payment_goes_back_through_its_clearing_account(
    world: InvoicingWorld,
) -> None:
    customer = world.customer()
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    world.card(customer)
    paid = world.body(m.PayInvoice(invoice_id=invoice, method="provider", provider="stub"))
    payment_ref = paid["payment_attempt"]["reference"]
    note = world.body(
        m.CreateCreditNote(invoice_id=invoice, amount=250, refund_to="original_payment")
    )
    assert note["credit_note"]["refunded_to"] == "clearing:stub"
    assert note["invoice"]["amount_refunded"] == 250
    assert world.balances()["clearing:stub"] == -750
    # The provider is asked for the refund after the note is recorded, by the outbox.
    refund = world.app.repository.get(UUID(note["refund_call"]["id"]))
    assert (refund.operation, refund.state) == ("refund", "succeeded")
    assert refund.params["payment_ref"] == payment_ref
    assert refund.params["amount_minor"] == 250
    assert refund.result["refund_ref"].startswith("stub_re_")


def test_billing_settings_are_checked_and_a_refusal_writes_nothing(world: InvoicingWorld) -> None:
    world.refused(ValidationFailed, m.ConfigureBilling(retry_days=[5, 3]))
    world.refused(ValidationFailed, m.ConfigureBilling(invoice_prefix="no spaces"))
    world.refused(NotFound, m.ConfigureBilling(default_tax_rate_ids=[UUID(int=7)]))
    done = world.body(m.ConfigureBilling(retry_days=[1, 2], final_action="unpaid"))
    assert done["billing_settings"]["retry_days"] == [1, 2]
    assert done["billing_settings"]["invoice_prefix"] == "INV"


def test_archived_tax_rate_and_coupon_on_an_open_invoice_are_refused(
    world: InvoicingWorld,
) -> None:
    rate = world.tax("7")
    world.run(m.ArchiveTaxRate(tax_rate_id=rate))
    invoice = world.draft(world.customer(), 100)
    line = m.InvoiceLineInput(description="x", unit_amount=5, tax_rate_ids=[rate])
    world.refused(TaxRateArchived, m.AddInvoiceLine(invoice_id=invoice, line=line))
    world.run(m.DefineCoupon(code="TEN", percent_off="10"))
    world.invoice(invoice)
    world.refused(InvalidTransition, m.ApplyCoupon(invoice_id=invoice, coupon_code="TEN"))
    world.refused(NotFound, m.PayInvoice(invoice_id=invoice, method="wallet"))


def test_another_projects_invoice_is_not_found(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 100)
    made = world.bus.execute(m.CreateProject(name="other"), Context(NO_PROJECT, "cli"))
    other = Context(UUID(made.body["project"]["id"]), "key_other")
    before = world.head()
    with pytest.raises(NotFound):
        world.bus.execute(m.FinalizeInvoice(invoice_id=invoice), other)
    assert world.head() == before


def test_a_manual_attempt_between_retries_does_not_move_the_schedule() -> None:
    first = datetime(2027, 1, 1, tzinfo=UTC)
    days = [3, 5, 7]
    failed = plan_failure(
        first_failed_at=None,
        retries_done=0,
        next_attempt_at=None,
        at=first,
        retry_days=days,
        retry=False,
    )
    assert (failed.step, failed.next_attempt_at) == ("payment_failed", first + timedelta(days=3))
    manual = plan_failure(
        first_failed_at=first,
        retries_done=0,
        next_attempt_at=failed.next_attempt_at,
        at=first + timedelta(days=1),
        retry_days=days,
        retry=False,
    )
    assert (manual.step, manual.next_attempt_at) == ("retry_failed", first + timedelta(days=3))
    last = plan_failure(
        first_failed_at=first,
        retries_done=2,
        next_attempt_at=first + timedelta(days=7),
        at=first + timedelta(days=7),
        retry_days=days,
        retry=True,
    )
    assert (last.step, last.next_attempt_at, last.retries_done) == ("retries_exhausted", None, 3)


def test_the_next_invoice_is_the_next_renewal_with_its_proration_until_canceled_at_its_end(
    world: InvoicingWorld,
) -> None:
    clock, customer, price = _setup(world)
    sub = _subscribe(world, customer, price)["subscription"]["id"]
    _advance(world, clock, 14)
    world.run(
        m.ChangeSubscriptionItems(
            subscription_id=UUID(sub),
            items=[m.SubscriptionItem(price_id=UUID(world.plan("MAX", 5000)))],
        )
    )
    coming = next_invoice(world.sub(sub))
    assert coming is not None
    assert [item["amount"] for item in coming.items] == [5000]
    proration = [line["amount"] for line in coming.proration_lines]
    assert len(proration) == 2
    _advance(world, clock, 29)
    renewal = _invoices(world)[-1]
    assert (renewal.period_start, renewal.period_end) == coming.period
    assert [line["amount"] for line in renewal.lines] == [5000, *proration]
    world.run(m.CancelSubscription(subscription_id=UUID(sub), at_period_end=True))
    assert next_invoice(world.sub(sub)) is None


def test_invoicing_commands_replay_their_first_answer_under_the_same_key(
    world: InvoicingWorld,
) -> None:
    customer = world.customer("u1")
    world.wallet("u1", 5000)
    invoice = world.draft(customer, 1000)
    commands: list[m.Command] = [
        m.FinalizeInvoice(invoice_id=invoice),
        m.PayInvoice(invoice_id=invoice, method="wallet", amount=400),
        m.CreateCreditNote(invoice_id=invoice, amount=100, refund_to="original_payment"),
        m.AdjustCreditBalance(customer_id=UUID(customer), amount=50),
        m.DefineCoupon(code="ARCHIVED", percent_off="5"),
        m.ArchiveCoupon(code="ARCHIVED"),
    ]
    for n, command in enumerate(commands):
        first = world.run(command, key=f"key-{n}")
        head = world.head()
        again = world.run(command, key=f"key-{n}")
        assert again.replayed
        assert again.body == first.body
        assert world.head() == head
    other = world.draft(customer, 100)
    world.refused(CouponUnavailable, m.ApplyCoupon(invoice_id=other, coupon_code="ARCHIVED"))


def test_an_uncollectible_invoice_charged_through_the_provider_is_paid(
    world: InvoicingWorld,
) -> None:
    # Found by the lifecycle property: the charge's answer must pay an uncollectible
    # invoice (it only stopped dunning), not treat it as settled and give the money back.
    customer = world.customer()
    world.card(customer)
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    world.run(m.MarkInvoiceUncollectible(invoice_id=invoice))
    paid = world.body(m.PayInvoice(invoice_id=invoice, method="provider", provider="stub"))
    assert paid["payment_attempt"]["status"] == "succeeded"
    assert (paid["invoice"]["status"], paid["invoice"]["amount_remaining"]) == ("paid", 0)
    balances = world.balances()
    assert (balances[f"receivable:{customer}"], balances["clearing:stub"]) == (0, -1000)
