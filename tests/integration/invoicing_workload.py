"""``invoicing_workload`` (also used by the other invoice read-model tests) runs through
the real command bus: one-time invoices with exclusive and inclusive tax, coupons and a
promotion code, wallet, provider (stub) and out-of-band payments, a declined charge and
its retries, a void, an uncollectible invoice paid later, credit notes to the credit
balance, to the original payment (a wallet and the provider) and against what is owed,
credit balance used at finalization, manual credit adjustments, in EUR and USD; and
subscription invoices: renewals through a test clock with declines and dunning, and a
second project whose invoices wait for a delayed finalization on the system clock.

Its tests are ``test_invoice_projections`` and the modules beside it."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from adapters.clock import FixedClock
from adapters.providers.stub import DECLINED, SUCCEEDS
from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context
from projections.journal import POSTING_EVENTS
from projections.runner import ProjectionWorker
from tests.calls import card_command, execute_and_call
from tests.plans import monthly_plan

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
RETRY_DAYS = [3, 5, 7]


@dataclass
class Project:
    id: UUID
    customers: dict[str, UUID] = field(default_factory=dict)
    invoices: dict[str, UUID] = field(default_factory=dict)
    subs: dict[str, UUID] = field(default_factory=dict)
    rates: dict[str, UUID] = field(default_factory=dict)
    wallets: dict[str, UUID] = field(default_factory=dict)
    clock_id: UUID | None = None


class Driver:
    def __init__(self, tally: Tally, name: str) -> None:
        self.tally = tally
        body = tally.execute(
            m.CreateProject(name=name, mode="test"), Context(NO_PROJECT, "cli")
        ).body
        self.p = Project(UUID(body["project"]["id"]))
        self.writes = 0

    def run(self, command: m.Command, now: datetime = T0) -> dict[str, Any]:
        self.writes += 1
        clock = self.tally.clock
        if isinstance(clock, FixedClock) and now > clock.now():
            clock.advance(now - clock.now())
        context = Context(self.p.id, "k", f"w{self.writes}", now)
        return execute_and_call(self.tally, command, context).body

    def customer(
        self, name: str, currency: str = "EUR", card: str | None = None, **kw: Any
    ) -> UUID:
        body = self.run(m.RegisterCustomer(external_id=name, currency=currency, **kw))
        self.p.customers[name] = UUID(body["customer"]["id"])
        if card is not None:
            self.run(card_command(self.p.customers[name], card))
        return self.p.customers[name]

    def wallet(self, name: str, amount: int, currency: str = "EUR") -> UUID:
        body = self.run(m.OpenAccount(owner_ref=name, currency=currency))
        account = UUID(body["account"]["id"])
        self.run(m.Deposit(account_id=account, amount=amount, currency=currency, source="stub"))
        self.p.wallets[name] = account
        return account

    def invoice(self, name: str, customer: str, *amounts: int, tax: str | None = None) -> UUID:
        rates = [self.p.rates[tax]] if tax else []
        lines = [
            m.InvoiceLineInput(description=f"{name} {i}", unit_amount=a, tax_rate_ids=rates)
            for i, a in enumerate(amounts)
        ]
        body = self.run(m.CreateInvoice(customer_id=self.p.customers[customer], lines=lines))
        self.p.invoices[name] = UUID(body["invoice"]["id"])
        return self.p.invoices[name]

    def on(self, command: type[m.Command], name: str, now: datetime = T0, **kw: Any) -> Any:
        return self.run(command(invoice_id=self.p.invoices[name], **kw), now)  # type: ignore[call-arg]


def _setup(d: Driver) -> None:
    d.p.rates["vat"] = UUID(d.run(m.DefineTaxRate(percentage="20", name="VAT"))["tax_rate"]["id"])
    incl = d.run(m.DefineTaxRate(percentage="7.5", inclusive=True, jurisdiction="DE"))
    d.p.rates["incl"] = UUID(incl["tax_rate"]["id"])
    old = d.run(m.DefineTaxRate(percentage="5"))
    d.run(m.ArchiveTaxRate(tax_rate_id=UUID(old["tax_rate"]["id"])))
    d.run(m.DefineCoupon(code="TENPCT", percent_off="10"))
    d.run(m.DefineCoupon(code="FIVE", amount_off=500, currency="EUR", duration="forever"))
    d.run(
        m.DefineCoupon(code="TWOMONTHS", percent_off="25", duration="repeating", duration_periods=2)
    )
    d.run(m.DefineCoupon(code="GONE", percent_off="50"))
    d.run(m.ArchiveCoupon(code="GONE"))
    d.run(m.DefinePromotionCode(code="SPRING", coupon_code="TENPCT", max_redemptions=5))
    d.run(m.DefinePromotionCode(code="LOYAL", coupon_code="FIVE"))
    d.run(
        m.ConfigureBilling(
            invoice_prefix="ACME", retry_days=RETRY_DAYS, auto_charge_provider="stub"
        )
    )


def _one_time(d: Driver) -> None:
    """Wallet, provider and out-of-band payments, credit notes, credit balance, a void."""
    later = T0 + timedelta(days=1)
    d.customer("ada", card=SUCCEEDS)
    d.wallet("ada", 50_000)
    d.invoice("a1", "ada", 1000, 250, tax="vat")
    d.on(m.ApplyCoupon, "a1", promotion_code="SPRING")
    d.on(m.FinalizeInvoice, "a1")
    d.on(m.PayInvoice, "a1", method="wallet")
    d.on(m.CreateCreditNote, "a1", amount=600, reason="partial", refund_to="original_payment")
    d.invoice("a2", "ada", 3000, 1200, tax="incl")
    d.on(m.ApplyCoupon, "a2", coupon_code="FIVE")
    d.on(m.FinalizeInvoice, "a2")
    d.on(m.PayInvoice, "a2", method="provider", provider="stub")
    d.on(m.CreateCreditNote, "a2", amount=1000, reason="goodwill", refund_to="original_payment")
    d.on(m.CreateCreditNote, "a2", amount=1500, reason="late", refund_to="credit_balance")
    d.invoice("a3", "ada", 2000, 999, tax="vat")
    line = d.on(m.AddInvoiceLine, "a3", line=m.InvoiceLineInput(description="x", unit_amount=5))
    d.on(m.RemoveInvoiceLine, "a3", line_id=line["line_id"])
    d.on(m.FinalizeInvoice, "a3", later)  # the credit balance pays part of it
    d.on(m.PayInvoice, "a3", later, method="out_of_band", reference="bank 42")
    d.customer("bob", card=DECLINED)
    d.invoice("b1", "bob", 1500, tax="vat")
    d.on(m.FinalizeInvoice, "b1")
    # Declined; the answer comes on Tally's clock, already at day 1: retries from day 4.
    d.on(m.PayInvoice, "b1", method="provider", provider="stub")
    d.on(m.RetryInvoicePayment, "b1", T0 + timedelta(days=4, hours=1))  # next on day 6
    d.invoice("b2", "bob", 800)
    d.on(m.FinalizeInvoice, "b2")
    d.on(m.CreateCreditNote, "b2", amount=300, reason="discount", refund_to="none")
    d.customer("cy", currency="USD")
    d.invoice("c1", "cy", 700, tax="vat")
    d.on(m.FinalizeInvoice, "c1")
    d.on(m.VoidInvoice, "c1")
    d.invoice("c2", "cy", 900)
    d.on(m.FinalizeInvoice, "c2")
    d.on(m.MarkInvoiceUncollectible, "c2", later)
    d.on(m.PayInvoice, "c2", later, method="out_of_band", amount=400, reference="part")
    d.run(m.AdjustCreditBalance(customer_id=d.p.customers["cy"], amount=1200, reason="promo"))
    d.run(m.AdjustCreditBalance(customer_id=d.p.customers["cy"], amount=-200))
    d.invoice("c3", "cy", 600, tax="vat")
    d.on(m.FinalizeInvoice, "c3", later)  # paid by credit at once
    d.invoice("c4", "cy", 1000)
    d.on(m.FinalizeInvoice, "c4", later)  # credit used, then voided: the credit comes back
    d.on(m.VoidInvoice, "c4", later)
    d.customer("dee")
    d.run(m.ApplyCouponToCustomer(customer_id=d.p.customers["dee"], promotion_code="LOYAL"))
    d.invoice("d1", "dee", 400)  # a draft that stays one


def _subscriptions(d: Driver) -> None:
    """Renewals through a test clock: declines and retries, coupons, a paid recovery."""
    price = monthly_plan(d.run, "PRO", 2000, lookup_key="pro")
    clock = d.run(m.CreateTestClock(name="q", frozen_time=T0))
    d.p.clock_id = UUID(clock["test_clock"]["id"])
    item = [m.SubscriptionItem(price_id=price)]
    for name, card in (("kim", DECLINED), ("lee", SUCCEEDS), ("mo", DECLINED)):
        customer = d.customer(name, card=card, test_clock_id=d.p.clock_id)
        body = d.run(m.CreateSubscription(customer_id=customer, items=item))
        d.p.subs[name] = UUID(body["subscription"]["id"])
    d.run(m.ApplyCouponToSubscription(subscription_id=d.p.subs["kim"], coupon_code="TWOMONTHS"))
    d.run(m.ApplyCouponToCustomer(customer_id=d.p.customers["lee"], coupon_code="FIVE"))
    d.run(m.AdvanceTestClock(test_clock_id=d.p.clock_id, to=T0 + timedelta(days=4)))
    d.run(card_command(d.p.customers["kim"], SUCCEEDS))  # kim's next retry pays
    d.run(m.AdvanceTestClock(test_clock_id=d.p.clock_id, to=T0 + timedelta(days=75)))


def _delayed(d: Driver) -> None:
    """A project whose invoices finalize an hour after they are drafted: due work for the
    scheduler on the system clock, none for the customer on a test clock."""
    d.run(m.ConfigureBilling(finalize_delay_s=3600, auto_charge_provider="stub"))
    price = monthly_plan(d.run, "STD", 1500, lookup_key="std", currency="USD")
    item = [m.SubscriptionItem(price_id=price)]
    clock = d.run(m.CreateTestClock(name="d", frozen_time=T0))
    d.p.clock_id = UUID(clock["test_clock"]["id"])
    for name, clock_id in (("eve", None), ("fay", d.p.clock_id)):
        customer = d.customer(name, currency="USD", test_clock_id=clock_id)
        body = d.run(m.CreateSubscription(customer_id=customer, items=item))
        d.p.subs[name] = UUID(body["subscription"]["id"])


@dataclass
class Workload:
    main: Project
    delayed: Project


def invoicing_workload(tally: Tally) -> Workload:
    d = Driver(tally, "acme")
    _setup(d)
    _one_time(d)
    _subscriptions(d)
    other = Driver(tally, "delayed")
    _delayed(other)
    return Workload(d.p, other.p)


def projected(tally: Tally) -> Workload:
    work = invoicing_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    return work


# -- what the event store says -------------------------------------------------------------


def stored_events(tally: Tally) -> list[Any]:
    notifications = tally.store.recorder.select_notifications(1, 1_000_000)
    return [tally.store.mapper.to_domain_event(n) for n in notifications]


def created_ids(events: list[Any], created: type) -> list[UUID]:
    """The ids of the aggregates whose first event is of class ``created``, in log order."""
    return [cast(Any, e).originator_id for e in events if type(e) is created]


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def folded_entries(events: list[Any]) -> dict[UUID, dict[str, dict[str, int]]]:
    """Every entry of every event, folded per project, currency and account."""
    owner: dict[UUID, tuple[UUID, str]] = {}
    books: dict[UUID, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for event in events:
        if hasattr(event, "project_id") and hasattr(event, "currency"):
            owner.setdefault(event.originator_id, (event.project_id, event.currency))
        entry = getattr(event, "entry", None)
        if not entry:
            continue
        assert type(event) in POSTING_EVENTS, type(event)
        assert sum(p["amount"] for p in entry) == 0, entry
        project_id, currency = owner[event.originator_id]
        accounts = books[project_id][currency]
        for posting in entry:
            accounts[posting["account"]] = accounts.get(posting["account"], 0) + posting["amount"]
    return books
