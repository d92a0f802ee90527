"""Replay with the invoicing read models: a rebuild equals the live tables, a corrupted
invoice row is found, every invoicing event decodes as the library decodes it, and the
worker's catch-up rate over an invoice-heavy log (printed: run with ``-s`` to see it)."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql

from api.bootstrap import Tally
from commands import messages as m
from domain.catalog import Product
from domain.invoices import Invoice
from projections import events as ev
from projections.decoding import FastDecoder
from projections.invoices import get_invoice
from projections.replay import replay
from projections.runner import ProjectionWorker, stalls
from tests.integration.applied_twice import apply_twice
from tests.integration.invoicing_workload import (
    T0,
    Driver,
    as_json,
    created_ids,
    invoicing_workload,
    projected,
    stored_events,
)

pytestmark = pytest.mark.fixed_clock(T0)

INVOICING_TABLES = {
    "invoices",
    "invoice_dunning",
    "credit_notes",
    "tax_rates",
    "coupons",
    "promotion_codes",
    "billing_settings",
    "customer_billing",
    "journal_entries",
    "postings",
    "system_accounts",
}


def test_replay_of_an_invoicing_log_equals_every_live_table(tally: Tally) -> None:
    projected(tally)
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    rows = {t.table: t.live_rows for t in report.tables}
    assert set(rows) >= INVOICING_TABLES
    assert all(rows[name] > 0 for name in INVOICING_TABLES), rows


def test_a_decoded_batch_applied_again_builds_what_one_pass_builds(tally: Tally) -> None:
    invoicing_workload(tally)
    apply_twice(tally)  # tests/integration/applied_twice.py
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()


def test_a_batch_applied_again_after_a_failure_projects_the_payments_as_one_pass_does(
    tally: Tally,
) -> None:
    """The catalog refuses a product with a NUL in its name (written past the domain, as
    a bug once could have), so the worker applies the one batch again to find it. The
    invoices read model folds the invoices' own events over the same decoded events: when
    Credited's body changed the payment PaymentRecorded had given it, the second pass
    stored payments refunded again (h16e: 1,800 and 3,000 for 600 and 1,000)."""
    work = invoicing_workload(tally)
    bad = Product(project_id=work.main.id, code="NUL", name="a\x00b", features=[])
    tally.store.save(bad)
    head = tally.store.recorder.max_notification_id() or 0
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=head + 1).catch_up()
    assert "catalog" in {s.name for s in stalls(tally.views, tally.schema)}
    refunded = 0
    for invoice_id in created_ids(stored_events(tally), ev.InvoiceCreated):
        invoice: Invoice = tally.store.repository.get(invoice_id)
        row = get_invoice(tally.views, tally.schema, invoice.project_id, invoice_id)
        assert row is not None
        assert row["payments"] == as_json(invoice.summary()["payments"]), invoice_id
        assert row["amount_refunded"] == invoice.amount_refunded, invoice_id
        refunded += sum(p["refunded"] for p in invoice.payments)
    assert refunded > 0  # the workload refunds payments


def test_replay_finds_an_invoice_row_whose_total_was_changed(tally: Tally) -> None:
    work = projected(tally)
    invoice_id = work.main.invoices["a1"]
    with tally.views.connection() as conn:
        conn.execute(
            sql.SQL(
                "UPDATE {}.invoices SET summary = jsonb_set(summary, '{{total}}', '1') "
                "WHERE id = %s"
            ).format(sql.Identifier(tally.schema)),
            (invoice_id,),
        )
    found = get_invoice(tally.views, tally.schema, work.main.id, invoice_id)
    assert found is not None
    assert found["total"] == 1
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert not report.ok
    differing = [t for t in report.tables if t.differences]
    assert [t.table for t in differing] == ["invoices"]
    assert differing[0].differences == 2  # the live row and the one the log gives
    assert any(f"id={invoice_id}" in s and "summary" in s for s in differing[0].samples)


def test_fast_decoder_builds_every_invoicing_event_as_the_library_mapper_does(
    tally: Tally,
) -> None:
    work = invoicing_workload(tally)
    d = Driver.__new__(Driver)
    d.tally, d.p, d.writes = tally, work.main, 1000
    d.on(m.VoidInvoice, "b1")  # its dunning stops
    decoder = FastDecoder(tally.store)
    library_decoded: list[type] = []
    mapper = tally.store.mapper

    def fallback(n: Any) -> Any:
        event = mapper.to_domain_event(n)
        library_decoded.append(type(event))
        return event

    decoder._fallback = fallback  # counts what the fast path hands to the library
    seen: set[type] = set()
    for n in tally.store.recorder.select_notifications(1, 1_000_000):
        fast, library = decoder(n), mapper.to_domain_event(n)
        assert type(fast) is type(library)
        assert fast.__dict__ == library.__dict__
        seen.add(type(fast))
    invoicing = {
        value
        for name, value in vars(ev).items()
        if name.startswith(("Invoice", "Dunning", "Billing", "Coupon", "PromotionCode", "TaxRate"))
        and "." in value.__qualname__  # an event class, not the aggregate imported
    }
    assert len(invoicing) == 31
    assert invoicing <= seen, sorted(c.__qualname__ for c in invoicing - seen)
    # None of them needs the library's slow path (typed values only at the top level).
    assert [c for c in library_decoded if c in invoicing] == []


def _invoice_heavy_log(tally: Tally, count: int) -> UUID:
    """``count`` one-time invoices, each drafted with three taxed lines, finalized and
    paid, and every third credited in part."""
    d = Driver(tally, "heavy")
    vat = d.run(m.DefineTaxRate(percentage="19"))["tax_rate"]["id"]
    d.p.rates["vat"] = UUID(vat)
    for c in range(10):
        d.customer(f"c{c}")
    for i in range(count):
        name = f"i{i}"
        d.invoice(name, f"c{i % 10}", 1000 + i, 250, 99, tax="vat")
        d.on(m.FinalizeInvoice, name)
        d.on(m.PayInvoice, name, method="out_of_band", reference=name)
        if i % 3 == 0:
            d.on(m.CreateCreditNote, name, amount=100, refund_to="credit_balance")
    return d.p.id


def test_catch_up_rate_over_an_invoice_heavy_log(tally: Tally) -> None:
    count = 300
    project_id = _invoice_heavy_log(tally, count)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema)
    started = time.perf_counter()
    applied = worker.catch_up()
    seconds = time.perf_counter() - started
    print(f"\ncatch-up: {applied} log entries in {seconds:.2f}s = {applied / seconds:,.0f}/s")
    with tally.views.connection() as conn:
        row: Any = conn.execute(
            sql.SQL(
                "SELECT count(*) AS n FROM {}.invoices WHERE project_id = %s AND status = 'paid'"
            ).format(sql.Identifier(tally.schema)),
            (project_id,),
        ).fetchone()
    assert next(iter(row.values())) == count
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    print(f"replay: {report.events} log entries at {report.events_per_s:,.0f}/s")
