"""Hypothesis over random invoice lifecycles, through the real handlers on the in-memory
store: whatever mix of drafts, coupons, finalizations, payments (wallet, provider, out
of band), voids, credit notes and credit adjustments is run, and whichever of them are
refused, the books agree:

- every entry sums to zero, so the trial balance of the project is zero;
- a customer's ``customer_credit`` account equals its credit balance;
- a customer's receivable is minus what its open and uncollectible invoices still ask;
- a wallet's postings equal the wallet's ledger balance;
- every total is the sum of its lines, never negative, and a refused command writes
  nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.providers.stub import DECLINED, REQUIRES_ACTION, SUCCEEDS, payment_method_for
from commands import messages as m
from commands import provider_messages as pm
from domain.accounts import Account
from domain.customer_billing import CustomerBilling
from domain.errors import DomainError
from domain.invoices import Invoice
from tests.unit.billing_world import START
from tests.unit.invoicing_world import InvoicingWorld

# Mostly "all of it", so that lifecycles reach paid and credited invoices.
AMOUNT = st.one_of(st.none(), st.none(), st.integers(1, 3000))
CARDS = [SUCCEEDS, DECLINED, REQUIRES_ACTION]
DRAFT = st.tuples(
    st.just("draft"),
    st.integers(0, 1),
    st.lists(st.integers(0, 5000), max_size=3),
    st.integers(0, 2),
)
OPS = st.one_of(
    DRAFT,
    DRAFT,
    st.tuples(st.just("finalize"), st.integers(0, 3)),
    st.tuples(st.just("finalize"), st.integers(0, 3)),
    st.tuples(
        st.just("pay"), st.integers(0, 3), st.sampled_from(["wallet", "provider"]), st.none()
    ),
    st.tuples(st.just("coupon"), st.integers(0, 50), st.sampled_from(["PCT", "FIX"])),
    st.tuples(st.just("finalize"), st.integers(0, 50)),
    st.tuples(
        st.just("pay"),
        st.integers(0, 50),
        st.sampled_from(["wallet", "provider", "out_of_band"]),
        AMOUNT,
    ),
    st.tuples(st.just("void"), st.integers(0, 50)),
    st.tuples(st.just("uncollectible"), st.integers(0, 50)),
    st.tuples(
        st.just("credit"),
        st.integers(0, 50),
        st.sampled_from(["none", "credit_balance", "original_payment"]),
        AMOUNT,
    ),
    st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(-3000, 3000)),
    st.tuples(st.just("deposit"), st.integers(0, 1), st.integers(1, 5000)),
    # The subscriber on the test clock: time passes (renewals, charges, retries), plan
    # changes (proration, possibly a negative total), a customer's card (a stub test card
    # that succeeds, is declined, or needs the customer's action).
    st.tuples(st.just("advance"), st.integers(1, 40)),
    st.tuples(st.just("plan"), st.integers(0, 1)),
    st.tuples(st.just("card"), st.integers(0, 2), st.sampled_from(CARDS)),
)


class Books:
    def __init__(self) -> None:
        self.world = InvoicingWorld()
        w = self.world
        self.customers = [w.customer("c0"), w.customer("c1")]
        self.wallets = [w.wallet("c0", 20_000), w.wallet("c1", 100)]
        self.rates: list[list[UUID]] = [[], [w.tax("20")], [w.tax("10", inclusive=True)]]
        w.run(m.DefineCoupon(code="PCT", percent_off="15", duration="forever"))
        w.run(m.DefineCoupon(code="FIX", amount_off=700, currency="EUR", duration="forever"))
        # Each example starts with an open invoice per customer, so every kind of
        # operation has something to act on from the first step.
        w.run(m.AdjustCreditBalance(customer_id=UUID(self.customers[0]), amount=500))
        self.invoices = [w.draft(c, 1500, 400, tax=self.rates[1][0]) for c in self.customers]
        for invoice in self.invoices:
            w.run(m.FinalizeInvoice(invoice_id=invoice))
        self._subscriber()

    def _subscriber(self) -> None:
        """A third customer on a test clock, subscribed, charged through the stub."""
        w = self.world
        w.run(m.ConfigureBilling(auto_charge_provider="stub", retry_days=[2, 4]))
        made = w.body(m.CreateTestClock(name="c", frozen_time=START))
        self.clock = UUID(made["test_clock"]["id"])
        self.days = 0
        registered = w.body(
            m.RegisterCustomer(external_id="c2", currency="EUR", test_clock_id=self.clock)
        )
        self.subscriber = UUID(registered["customer"]["id"])
        self.customers.append(str(self.subscriber))
        self.plans = [UUID(w.plan("SMALL", 2000)), UUID(w.plan("LARGE", 5000))]
        items = [m.SubscriptionItem(price_id=self.plans[1])]
        made = w.body(m.CreateSubscription(customer_id=self.subscriber, items=items))
        self.subscription = UUID(made["subscription"]["id"])

    def command(self, op: tuple[Any, ...]) -> m.Command | None:
        kind = op[0]
        if kind == "draft":
            lines = [
                m.InvoiceLineInput(description="x", unit_amount=a, tax_rate_ids=self.rates[op[3]])
                for a in op[2]
            ]
            return m.CreateInvoice(customer_id=UUID(self.customers[op[1]]), lines=lines)
        if kind == "adjust":
            if op[2] == 0:
                return None
            return m.AdjustCreditBalance(customer_id=UUID(self.customers[op[1]]), amount=op[2])
        if kind == "deposit":
            return m.Deposit(account_id=self.wallets[op[1]], amount=op[2], currency="EUR")
        if kind == "advance":
            self.days += op[1]
            return m.AdvanceTestClock(
                test_clock_id=self.clock, to=START + timedelta(days=self.days)
            )
        if kind == "plan":
            items = [m.SubscriptionItem(price_id=self.plans[op[1]])]
            return m.ChangeSubscriptionItems(subscription_id=self.subscription, items=items)
        if kind == "card":
            return pm.AttachPaymentMethod(
                provider="stub",
                customer_id=UUID(self.customers[op[1]]),
                payment_method=payment_method_for(op[2]),
                make_default=True,
            )
        if not self.invoices:
            return None
        # Mostly the latest invoices, so that lifecycles go further than a draft.
        invoice = self.invoices[-1 - op[1] % len(self.invoices)]
        if kind == "coupon":
            return m.ApplyCoupon(invoice_id=invoice, coupon_code=str(op[2]))
        if kind == "finalize":
            return m.FinalizeInvoice(invoice_id=invoice)
        if kind == "pay":
            provider = "stub" if op[2] == "provider" else None
            return m.PayInvoice(
                invoice_id=invoice, method=op[2], amount=op[3], reference="r", provider=provider
            )
        if kind == "void":
            return m.VoidInvoice(invoice_id=invoice)
        if kind == "uncollectible":
            return m.MarkInvoiceUncollectible(invoice_id=invoice)
        return m.CreateCreditNote(invoice_id=invoice, refund_to=op[2], amount=op[3])

    def run(self, op: tuple[Any, ...]) -> None:
        command = self.command(op)
        if command is None:
            return
        before = self.world.head()
        try:
            body = self.world.body(command)
        except DomainError:
            assert self.world.head() == before, f"{command} was refused but wrote"
            return
        if isinstance(command, m.CreateInvoice):
            self.invoices.append(UUID(body["invoice"]["id"]))

    def all_invoices(self) -> list[Invoice]:
        """Every invoice in the store: the drafted ones and the subscription's."""
        ids = {
            event.originator_id
            for n in self.world.app.recorder.select_notifications(start=1, limit=1_000_000)
            for event in [self.world.app.mapper.to_domain_event(n)]
            if type(event).__qualname__.startswith("Invoice.")
        }
        return [self.world.app.repository.get(i) for i in ids]

    def check(self) -> None:
        w = self.world
        balances = w.balances()  # asserts every entry sums to zero
        assert sum(balances.values()) == 0
        owed: dict[str, int] = defaultdict(int)
        for invoice in self.all_invoices():
            if invoice.totals:
                totals = invoice.totals
                assert totals["total"] == sum(line["gross"] for line in totals["lines"])
                assert totals["subtotal"] == sum(li["amount"] for li in invoice.lines)
                if all(li["kind"] != "proration" for li in invoice.lines):
                    assert totals["total"] >= 0  # only credits for unused time go below
            if invoice.status in ("open", "uncollectible"):
                owed[str(invoice.customer_id)] += invoice.amount_remaining
        for customer in self.customers:
            assert balances.get(f"receivable:{customer}", 0) == -owed[customer]
            billing_id = CustomerBilling.create_id(UUID(customer))
            credit = 0
            if w.app.recorder.select_events(billing_id, limit=1):
                credit = w.app.repository.get(billing_id).credit_balance
            assert balances.get(f"customer_credit:{customer}", 0) == credit
        for wallet in self.wallets:
            account: Account = w.app.repository.get(wallet)
            assert balances.get(f"wallet:{wallet}", 0) == account.ledger


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=10, max_size=40))
def test_random_invoice_lifecycles_keep_the_trial_balance_at_zero(
    ops: list[tuple[Any, ...]],
) -> None:
    books = Books()
    try:
        for op in ops:
            books.run(op)
        books.check()
    finally:
        books.world.bus.close()
