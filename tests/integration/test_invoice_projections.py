"""The invoicing read models, built by the real projection worker on Postgres, equal the
aggregates, and the journal holds every money movement invoicing records.

The workload is ``tests/integration/invoicing_workload.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

from api.bootstrap import Tally
from commands.invoicing import invoice_summary
from domain.customer_billing import CustomerBilling
from domain.dunning import InvoiceDunning
from domain.invoices import Invoice
from projections import events as ev
from projections import invoices as views
from projections.journal import POSTING_EVENTS, entry_id, entry_sources, list_entries, trial_balance
from projections.system_accounts import list_system_accounts
from tests.integration.invoicing_workload import (
    T0,
    as_json,
    created_ids,
    folded_entries,
    projected,
    stored_events,
)

# Tally on a clock the driver moves (tests/conftest.py): the commands name their own
# times, and the provider's answers, recorded by the outbox on Tally's clock, must fall
# at the same times as the commands that asked for them.
pytestmark = pytest.mark.fixed_clock(T0)


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


def test_entry_sources_read_the_same_facts_through_a_dict_row_cursor(tally: Tally) -> None:
    """The invoices' and billing records' facts are two computed columns; unnamed, a dict
    row merged them into one ``?column?`` key and the sources failed (IndexError)."""
    projected(tally)
    notifications = tally.store.recorder.select_notifications(1, 1_000_000)
    decoded = [(tally.store.mapper.to_domain_event(n), n.id) for n in notifications]
    tracked = [(e, p) for e, p in decoded if type(e) in POSTING_EVENTS]
    with tally.views.connection() as conn:
        with conn.cursor(row_factory=tuple_row) as cur:
            plain = entry_sources(cur, tally.schema, tracked)
        with conn.cursor(row_factory=dict_row) as cur:
            named = entry_sources(cur, tally.schema, list(tracked))  # a new list: no cache
    assert named == plain
    assert {"invoice_payment", "credit_note", "credit_adjustment"} <= {s[4] for s in plain}
