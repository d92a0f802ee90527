"""The invoicing read models, built by the real projection worker on Postgres, equal the
aggregates, and the journal holds every money movement invoicing records.

``invoicing_workload`` (also used by the other invoice read-model tests) runs through
the real command bus: one-time invoices with exclusive and inclusive tax, coupons and a
promotion code, wallet, provider (stub) and out-of-band payments, a declined charge and
its retries, a void, an uncollectible invoice paid later, credit notes to the credit
balance, to the original payment (a wallet and the provider) and against what is owed,
credit balance used at finalization, manual credit adjustments, in EUR and USD; and
subscription invoices: renewals through a test clock with declines and dunning, and a
second project whose invoices wait for a delayed finalization on the system clock."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import pytest
from psycopg import sql

from adapters.clock import FixedClock
from adapters.providers.stub import DECLINED, SUCCEEDS
from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context
from commands.invoicing import invoice_summary
from domain.customer_billing import CustomerBilling
from domain.dunning import InvoiceDunning
from domain.invoices import Invoice
from projections import events as ev
from projections import invoices as views
from projections.journal import POSTING_EVENTS, entry_id, list_entries, trial_balance
from projections.runner import ProjectionWorker
from projections.system_accounts import list_system_accounts
from tests.calls import card_command, execute_and_call

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
RETRY_DAYS = [3, 5, 7]


# Tally on a clock the driver moves (tests/conftest.py): the commands name their own
# times, and the provider's answers, recorded by the outbox on Tally's clock, must fall
# at the same times as the commands that asked for them.
pytestmark = pytest.mark.fixed_clock(T0)


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
    product = d.run(m.DefineProduct(code="PRO", name="Pro"))
    price = d.run(
        m.DefinePrice(
            product_id=UUID(product["product"]["id"]),
            lookup_key="pro",
            currency="EUR",
            scheme="flat",
            unit_amount=2000,
            interval="month",
        )
    )
    clock = d.run(m.CreateTestClock(name="q", frozen_time=T0))
    d.p.clock_id = UUID(clock["test_clock"]["id"])
    item = [m.SubscriptionItem(price_id=UUID(price["price"]["id"]))]
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
    product = d.run(m.DefineProduct(code="STD", name="Std"))
    price = d.run(
        m.DefinePrice(
            product_id=UUID(product["product"]["id"]),
            lookup_key="std",
            currency="USD",
            scheme="flat",
            unit_amount=1500,
            interval="month",
        )
    )
    item = [m.SubscriptionItem(price_id=UUID(price["price"]["id"]))]
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


# -- tests -------------------------------------------------------------------------------


def test_every_projected_invoice_equals_its_aggregates_summary(tally: Tally) -> None:
    work = projected(tally)
    events = stored_events(tally)
    ids = created_ids(events, ev.InvoiceCreated)
    assert len(ids) >= 15
    dunned = {e.invoice_id for e in events if type(e) is ev.DunningStarted}
    repo = tally.store.repository
    statuses = set()
    for invoice_id in ids:
        invoice: Invoice = repo.get(invoice_id)
        dunning = repo.get(InvoiceDunning.create_id(invoice_id)) if invoice_id in dunned else None
        row = views.get_invoice(tally.views, tally.schema, invoice.project_id, invoice_id)
        assert row is not None
        assert row.pop("created_at") == invoice.created_on.isoformat()
        assert row.pop("updated_at") == invoice.modified_on.isoformat()
        answered = invoice_summary(invoice, dunning)
        assert answered.pop("created") == invoice.created_on.isoformat()
        assert row == as_json(answered)
        statuses.add(invoice.status)
    assert statuses == {"draft", "open", "paid", "void", "uncollectible"}
    declined = views.get_invoice(tally.views, tally.schema, work.main.id, work.main.invoices["b1"])
    assert declined is not None
    assert declined["attempt_count"] == 2
    assert declined["next_payment_attempt_at"] == (T0 + timedelta(days=6)).isoformat()
    assert len(dunned) >= 3  # the declined one-time invoice and subscription renewals


def test_trial_balance_is_zero_per_currency_and_equals_the_fold_of_every_entry(
    tally: Tally,
) -> None:
    work = projected(tally)
    books = folded_entries(stored_events(tally))
    for project in (work.main, work.delayed):
        balance = trial_balance(tally.views, tally.schema, project.id)
        assert {c: b["accounts"] for c, b in balance.items()} == books[project.id]
        assert all(b["total"] == 0 for b in balance.values())
    assert set(trial_balance(tally.views, tally.schema, work.main.id)) == {"EUR", "USD"}
    kinds = set(_column(tally, "SELECT DISTINCT kind FROM {}.journal_entries", work.main.id))
    assert {"invoice_finalization", "invoice_payment", "invoice_void", "credit_note"} <= kinds
    assert {"credit_adjustment", "withdrawal", "deposit"} <= kinds


def _column(tally: Tally, query: str, project_id: UUID) -> list[Any]:
    """The first column of ``query`` (``{}`` is the schema) over one project's rows."""
    with tally.views.connection() as conn:
        rows = conn.execute(
            sql.SQL(query + " WHERE project_id = %s").format(sql.Identifier(tally.schema)),  # type: ignore[arg-type]
            (project_id,),
        ).fetchall()
    return [next(iter(r.values())) for r in rows]


def test_system_accounts_hold_receivable_revenue_tax_and_customer_credit(tally: Tally) -> None:
    work = projected(tally)
    events = stored_events(tally)
    books = folded_entries(events)[work.main.id]
    system = list_system_accounts(tally.views, tally.schema, work.main.id)
    assert {(r["account"], r["currency"]): r["balance"] for r in system} == {
        (account, currency): amount
        for currency, accounts in books.items()
        for account, amount in accounts.items()
        if not account.startswith("wallet:")
    }
    held = {(r["account"], r["currency"]): r["balance"] for r in system}
    repo = tally.store.repository
    invoices: list[Invoice] = [repo.get(i) for i in created_ids(events, ev.InvoiceCreated)]
    for name, customer_id in work.main.customers.items():
        own = [i for i in invoices if i.customer_id == customer_id]
        currency = own[0].currency if own else None
        if currency is None:
            continue
        # What the customer owes is the negative balance of its receivable.
        owed = sum(i.amount_remaining for i in own)
        assert held.get((f"receivable:{customer_id}", currency), 0) == -owed, name
        billing: CustomerBilling = repo.get(CustomerBilling.create_id(customer_id))
        assert held.get((f"customer_credit:{customer_id}", currency), 0) == billing.credit_balance
    for currency in ("EUR", "USD"):
        # Revenue plus tax is what final invoices billed less what credit notes took back.
        mine = [i for i in invoices if i.currency == currency and i.status not in ("draft", "void")]
        billed = sum(i.total for i in mine) - sum(n["amount"] for i in mine for n in i.credit_notes)
        earned = sum(
            v
            for (a, c), v in held.items()
            if c == currency and a.split(":")[0] in ("revenue", "tax_payable")
        )
        assert earned == billed, currency
    vat = work.main.rates["vat"]
    assert held[(f"tax_payable:{vat}", "EUR")] > 0
    assert held[(f"tax_payable:{work.main.rates['incl']}", "EUR")] > 0


def test_journal_has_one_entry_per_event_that_moves_money(tally: Tally) -> None:
    work = projected(tally)
    events = stored_events(tally)
    owner = {e.originator_id: e.project_id for e in events if hasattr(e, "project_id")}
    for project in (work.main, work.delayed):
        posting = [
            e for e in events if getattr(e, "entry", None) and owner[e.originator_id] == project.id
        ]
        ids = _column(tally, "SELECT id FROM {}.journal_entries", project.id)
        assert sorted(ids) == sorted(
            entry_id(e.originator_id, e.originator_version) for e in posting
        )
    # A wallet's entries are its top-up, its payment of an invoice ((1000 + 250) less 10%
    # plus 20% VAT) and the refund of 600 back to it.
    wallet = work.main.wallets["ada"]
    entries, _ = list_entries(
        tally.views, tally.schema, work.main.id, wallet, limit=10, starting_after=None
    )
    assert [e["kind"] for e in entries] == ["deposit", "withdrawal", "deposit"]
    assert [
        p["amount"] for e in entries for p in e["postings"] if p["account"] == f"wallet:{wallet}"
    ] == [50_000, -1350, 600]
    kinds = {type(e) for e in events if getattr(e, "entry", None)}
    assert {ev.InvoiceFinalized, ev.InvoiceVoided, ev.InvoiceCredited} <= kinds
    assert {ev.InvoicePaymentRecorded, ev.BillingCreditAdjusted} <= kinds
