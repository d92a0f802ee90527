"""The invoicing handlers through a real command bus on the library's in-memory store:
drafting, finalizing with numbers and credit, payments (wallet, stub provider, out of
band), void, credit notes, coupons, tax rates, and each refusal writing nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError

from adapters.outbox import Outbox
from adapters.outbox_claims import LocalClaims
from adapters.providers.stub import SUCCEEDS, StubProvider, payment_method_for
from api.advance import advance_through_calls
from commands import (
    billing_setup,
    invoice_payments,
    invoicing,
    payment_methods,
    provider_calls,
    subscription_invoices,
)
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import CommandBus, Context, Outcome
from domain.charge_attempts import charge_attempt
from domain.clock import Clock
from domain.dunning import InvoiceDunning
from domain.errors import (
    CouponUnavailable,
    CreditExceedsPaid,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidTransition,
)
from domain.invoices import InvoiceEmpty, PaymentExceedsRemaining
from domain.tax import InvalidPercentage
from projections.payment_answers import payment_answer
from tests.unit.billing_world import World


class StubDirectory:
    """The provider directory as the outbox sees it: every project uses the stub."""

    default_name = "stub"

    def __init__(self, clock: Clock) -> None:
        self.default = StubProvider(webhook_secret="whsec_unit", clock=clock)

    def for_project(self, project_id: UUID, settings: dict[str, Any] | None) -> StubProvider:
        return self.default


class InvoicingWorld(World):
    """The billing world with the invoicing handlers registered too, and the outbox's
    part played as the API plays it: every provider call a command asked for is made
    (by the real ``Outbox.attempt``, against the stub) right after the command, and a
    payment's answer says how its charge went."""

    def __init__(self, mode: str = "test") -> None:
        super().__init__(mode)
        handlers = {
            **self.bus.handlers,
            **invoicing.HANDLERS,
            **subscription_invoices.HANDLERS,
            **invoice_payments.HANDLERS,
            **billing_setup.HANDLERS,
            **payment_methods.HANDLERS,
            **provider_calls.HANDLERS,
        }
        self.bus.close()
        self.bus = CommandBus(self.app, handlers, self.clock)
        self.store = self.app  # what the outbox reads aggregates from
        self.providers = StubDirectory(self.clock)
        self.outbox = Outbox(self, claims=LocalClaims())
        self.provider_up = True

    def execute(self, command: m.Command, ctx: Context) -> Outcome:
        return self.bus.execute(command, ctx)

    def run(self, command: m.Command, key: str | None = None) -> Outcome:
        if isinstance(command, m.AdvanceTestClock) and self.provider_up:
            return advance_through_calls(
                lambda cmd, first: super(InvoicingWorld, self).run(cmd, key if first else None),
                lambda call_id: self.outbox.attempt(self.project_id, call_id),
                command,
            )
        before = self.head()
        outcome = super().run(command, key)
        if self.provider_up and self.make_calls(before) and "payment_attempt" in outcome.body:
            outcome = replace(outcome, body=self.charged(outcome.body))
        return outcome

    def charged(self, body: dict[str, Any]) -> dict[str, Any]:
        """A payment's answer after its charge was made, as the pay route reads it
        (``projections.payment_answers``), from the aggregates in the store."""
        invoice = self.app.repository.get(UUID(body["invoice"]["id"]))
        found = self.app.repository.get
        try:
            dunning = found(InvoiceDunning.create_id(invoice.id))
        except AggregateNotFoundError:
            dunning = None
        attempt = body["payment_attempt"]
        if attempt is not None and attempt.get("provider_call_id"):
            call = found(UUID(attempt["provider_call_id"]))
            attempt = charge_attempt(call, int(attempt["attempt"]))
        sub = found(invoice.subscription_id) if invoice.subscription_id else None
        return payment_answer(invoice, dunning, attempt, sub)

    def make_calls(self, after: int = 0) -> int:
        """Make the provider calls requested after position ``after``, and those their
        answers asked for (a refund of a charge that came too late); how many."""
        made = 0
        while after < self.head():
            start, after = after, self.head()
            for n in self.app.recorder.select_notifications(
                start=start + 1, limit=1_000_000, stop=after
            ):
                if n.topic == "tally:ProviderCall.Requested":
                    self.outbox.attempt(self.project_id, UUID(str(n.originator_id)))
                    made += 1
        return made

    def card(self, customer: str, number: str = SUCCEEDS) -> None:
        """Give the customer a default stub card (``stub_pm_<number>``)."""
        self.run(
            pm.AttachPaymentMethod(
                provider="stub",
                customer_id=UUID(customer),
                payment_method=payment_method_for(number),
                make_default=True,
            )
        )

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def refused(self, error: type[Exception], command: m.Command) -> None:
        """``command`` is refused with ``error`` and writes nothing."""
        before = self.head()
        with pytest.raises(error):
            self.run(command)
        assert self.head() == before

    def tax(self, percentage: str = "20", inclusive: bool = False) -> UUID:
        body = self.body(m.DefineTaxRate(percentage=percentage, inclusive=inclusive))
        return UUID(body["tax_rate"]["id"])

    def draft(self, customer: str, *amounts: int, tax: UUID | None = None) -> UUID:
        lines = [
            m.InvoiceLineInput(
                description=f"item {i}", unit_amount=a, tax_rate_ids=[tax] if tax else []
            )
            for i, a in enumerate(amounts)
        ]
        body = self.body(m.CreateInvoice(customer_id=UUID(customer), lines=lines))
        return UUID(body["invoice"]["id"])

    def invoice(self, invoice_id: UUID, command: m.Command | None = None) -> dict[str, Any]:
        return dict(self.body(command or m.FinalizeInvoice(invoice_id=invoice_id))["invoice"])

    def wallet(self, customer_external_id: str, amount: int) -> UUID:
        body = self.body(m.OpenAccount(owner_ref=customer_external_id, currency="EUR"))
        account = UUID(body["account"]["id"])
        self.run(m.Deposit(account_id=account, amount=amount, currency="EUR", source="stub"))
        return account

    def entries(self) -> list[list[dict[str, Any]]]:
        """Every journal entry any event of the store carries."""
        found = []
        for n in self.app.recorder.select_notifications(start=1, limit=1_000_000):
            event = self.app.mapper.to_domain_event(n)
            entry = getattr(event, "entry", None)
            if entry:
                found.append(entry)
        return found

    def balances(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for entry in self.entries():
            assert sum(p["amount"] for p in entry) == 0, entry
            for posting in entry:
                totals[posting["account"]] += posting["amount"]
        return dict(totals)


@pytest.fixture
def world() -> Iterator[InvoicingWorld]:
    w = InvoicingWorld()
    yield w
    w.bus.close()


def test_one_time_invoice_is_drafted_taxed_finalized_with_the_next_number(
    world: InvoicingWorld,
) -> None:
    vat = world.tax("20")
    customer = world.customer()
    world.run(m.ConfigureBilling(invoice_prefix="ACME"))
    first = world.draft(customer, 1000, 250, tax=vat)
    draft = world.body(
        m.AddInvoiceLine(
            invoice_id=first,
            line=m.InvoiceLineInput(description="setup", unit_amount=500, quantity=2),
        )
    )
    assert draft["invoice"]["status"] == "draft"
    assert draft["invoice"]["subtotal"] == 2250
    done = world.invoice(first)
    assert done["number"] == "ACME-2027-000001"
    assert (done["subtotal"], done["tax"], done["total"]) == (2250, 250, 2500)
    assert done["amount_due"] == done["amount_remaining"] == 2500
    assert done["status"] == "open"
    second = world.invoice(world.draft(customer, 100))
    assert second["number"] == "ACME-2027-000002"
    balances = world.balances()
    assert balances["revenue"] == 2350
    assert balances[f"tax_payable:{vat}"] == 250
    assert balances[f"receivable:{customer}"] == -2600


def test_line_is_removed_from_a_draft(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 100, 200)
    draft = world.body(
        m.AddInvoiceLine(
            invoice_id=invoice, line=m.InvoiceLineInput(description="extra", unit_amount=50)
        )
    )
    removed = world.body(m.RemoveInvoiceLine(invoice_id=invoice, line_id=draft["line_id"]))
    assert removed["invoice"]["subtotal"] == 300


def test_finalizing_an_empty_invoice_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer())
    world.refused(InvoiceEmpty, m.FinalizeInvoice(invoice_id=invoice))


def test_editing_an_open_invoice_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 100)
    world.invoice(invoice)
    line = m.InvoiceLineInput(description="late", unit_amount=10)
    world.refused(InvalidTransition, m.AddInvoiceLine(invoice_id=invoice, line=line))
    world.refused(InvalidTransition, m.FinalizeInvoice(invoice_id=invoice))


def test_paying_a_void_invoice_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 100)
    world.invoice(invoice)
    voided = world.invoice(invoice, m.VoidInvoice(invoice_id=invoice))
    assert voided["status"] == "void"
    world.refused(
        InvalidTransition, m.PayInvoice(invoice_id=invoice, method="out_of_band", reference="x")
    )
    assert all(v == 0 for v in world.balances().values())


def test_tax_rate_outside_0_to_100_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    world.refused(InvalidPercentage, m.DefineTaxRate(percentage="100.5"))
    world.refused(InvalidPercentage, m.DefineTaxRate(percentage="-3"))


def test_credit_balance_is_used_before_anything_is_charged(world: InvoicingWorld) -> None:
    customer = world.customer()
    world.run(m.AdjustCreditBalance(customer_id=UUID(customer), amount=700, reason="goodwill"))
    done = world.body(m.FinalizeInvoice(invoice_id=world.draft(customer, 1000)))
    assert done["invoice"]["credit_applied"] == 700
    assert done["invoice"]["amount_due"] == 300
    assert done["credit_balance"] == 0
    covered = world.body(m.AdjustCreditBalance(customer_id=UUID(customer), amount=5000))
    assert covered["billing"]["credit_balance"] == 5000
    paid = world.invoice(world.draft(customer, 800))
    assert paid["status"] == "paid"
    assert paid["amount_remaining"] == 0
    world.refused(
        InsufficientFunds, m.AdjustCreditBalance(customer_id=UUID(customer), amount=-4201)
    )
    assert world.balances()[f"customer_credit:{customer}"] == 4200


def test_wallet_payment_is_one_ledger_transaction_and_the_wallet_guard_applies(
    world: InvoicingWorld,
) -> None:
    customer = world.customer("u1")
    account = world.wallet("u1", 1500)
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    world.refused(
        PaymentExceedsRemaining, m.PayInvoice(invoice_id=invoice, method="wallet", amount=1001)
    )
    paid = world.body(m.PayInvoice(invoice_id=invoice, method="wallet"))
    assert paid["invoice"]["status"] == "paid"
    assert paid["payment_attempt"]["account"]["available_balance"] == 500
    other = world.draft(customer, 600)
    world.invoice(other)
    world.refused(
        InsufficientFunds, m.PayInvoice(invoice_id=other, method="wallet", account_id=account)
    )
    wallet_entries = [
        e for e in world.entries() if any(p["account"] == f"wallet:{account}" for p in e)
    ]
    assert len(wallet_entries) == 2  # the deposit and the one payment entry
    assert world.balances()[f"receivable:{customer}"] == -600


def test_wallet_payment_refunded_to_the_original_payment_goes_back_to_the_wallet(
    world: InvoicingWorld,
) -> None:
    vat = world.tax("20")
    customer = world.customer("u1")
    account = world.wallet("u1", 1200)
    invoice = world.draft(customer, 1000, tax=vat)
    world.invoice(invoice)
    world.run(m.PayInvoice(invoice_id=invoice, method="wallet"))
    note = world.body(
        m.CreateCreditNote(
            invoice_id=invoice, amount=600, reason="partial", refund_to="original_payment"
        )
    )
    assert note["transaction"]["to"] == f"wallet:{account}"
    assert note["invoice"]["amount_refunded"] == 600
    world.refused(
        CreditExceedsPaid,
        m.CreateCreditNote(invoice_id=invoice, amount=601, refund_to="original_payment"),
    )
    balances = world.balances()
    assert balances[f"wallet:{account}"] == 600
    assert balances["revenue"] == 500
    assert balances[f"tax_payable:{vat}"] == 100
    assert balances[f"receivable:{customer}"] == 0


def test_credit_more_than_was_paid_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    customer = world.customer()
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    world.card(customer)
    world.run(m.PayInvoice(invoice_id=invoice, method="provider", provider="stub", amount=400))
    world.refused(
        CreditExceedsPaid,
        m.CreateCreditNote(invoice_id=invoice, amount=401, refund_to="credit_balance"),
    )
    world.refused(
        CreditExceedsPaid, m.CreateCreditNote(invoice_id=invoice, amount=601, refund_to="none")
    )
    note = world.body(m.CreateCreditNote(invoice_id=invoice, refund_to="none", reason="waive"))
    assert note["invoice"]["status"] == "paid"
    assert note["credit_note"]["amount"] == 600
    refund = world.body(m.CreateCreditNote(invoice_id=invoice, refund_to="credit_balance"))
    assert refund["credit_balance"] == 400
    balances = world.balances()
    assert balances["revenue"] == 0
    assert balances[f"customer_credit:{customer}"] == 400
    assert balances["clearing:stub"] == -400


def test_promotion_code_past_its_redemption_limit_is_refused_and_writes_nothing(
    world: InvoicingWorld,
) -> None:
    customer = world.customer()
    world.run(m.DefineCoupon(code="TENOFF", percent_off="10"))
    world.run(m.DefinePromotionCode(code="spring", coupon_code="TENOFF", max_redemptions=1))
    first = world.draft(customer, 1000)
    applied = world.body(m.ApplyCoupon(invoice_id=first, promotion_code="SPRING"))
    assert applied["invoice"]["discount"] == 100
    assert applied["coupon"]["times_redeemed"] == 1
    assert world.invoice(first)["total"] == 900
    second = world.draft(customer, 1000)
    world.refused(CouponUnavailable, m.ApplyCoupon(invoice_id=second, promotion_code="SPRING"))
    world.run(m.DefineCoupon(code="ONCE", amount_off=300, currency="EUR", max_redemptions=1))
    world.run(m.ApplyCoupon(invoice_id=second, coupon_code="ONCE"))
    third = world.draft(customer, 1000)
    world.refused(CouponUnavailable, m.ApplyCoupon(invoice_id=third, coupon_code="ONCE"))
    world.run(m.DefineCoupon(code="USD5", amount_off=500, currency="USD"))
    world.refused(CurrencyMismatch, m.ApplyCoupon(invoice_id=third, coupon_code="USD5"))


def test_fixed_coupon_never_makes_a_total_negative(world: InvoicingWorld) -> None:
    customer = world.customer()
    world.run(m.DefineCoupon(code="BIG", amount_off=10_000, currency="EUR"))
    invoice = world.draft(customer, 700)
    world.run(m.ApplyCoupon(invoice_id=invoice, coupon_code="BIG"))
    done = world.invoice(invoice)
    assert (done["discount"], done["total"], done["status"]) == (700, 0, "paid")


def test_void_gives_back_the_credit_the_invoice_used(world: InvoicingWorld) -> None:
    customer = world.customer()
    world.run(m.AdjustCreditBalance(customer_id=UUID(customer), amount=300))
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    voided = world.body(m.VoidInvoice(invoice_id=invoice))
    assert voided["credit_balance"] == 300
    balances = world.balances()
    assert balances[f"receivable:{customer}"] == 0
    assert balances[f"customer_credit:{customer}"] == 300


def test_uncollectible_invoice_is_paid_out_of_band_later(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 1000)
    world.invoice(invoice)
    marked = world.invoice(invoice, m.MarkInvoiceUncollectible(invoice_id=invoice))
    assert marked["status"] == "uncollectible"
    paid = world.invoice(
        invoice, m.PayInvoice(invoice_id=invoice, method="out_of_band", reference="bank-123")
    )
    assert paid["status"] == "paid"
    assert paid["payments"][0]["reference"] == "bank-123"
    assert world.balances()["clearing:out_of_band"] == -1000
