"""The invoicing queries over the read models: filters, pagination, project scoping, the
due invoice work the scheduler asks for, and the billing setup (tax rates, coupons,
promotion codes, billing settings, customer billing) as the aggregates have it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.bootstrap import Tally
from domain.billing_settings import BillingSettings
from domain.coupons import Coupon, PromotionCode
from domain.customer_billing import CustomerBilling
from domain.customers import Customer
from domain.invoices import Invoice
from domain.tax_rates import TaxRateDefinition
from projections import billing_setup as setup
from projections import events as ev
from projections import invoices as views
from projections.runner import ProjectionWorker
from tests.integration.invoicing_workload import (
    T0,
    Driver,
    Workload,
    as_json,
    created_ids,
    projected,
    stored_events,
)

pytestmark = pytest.mark.fixed_clock(T0)


def _all_pages(fetch: Any, limit: int) -> list[dict[str, Any]]:
    """Every item of a list query, a page of ``limit`` at a time."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page, more = fetch(limit=limit, starting_after=after)
        found += page
        if not more:
            return found
        after = page[-1]["id"]


def _invoices(tally: Tally, project_id: UUID) -> list[Invoice]:
    repo = tally.store.repository
    every: list[Invoice] = [
        repo.get(i) for i in created_ids(stored_events(tally), ev.InvoiceCreated)
    ]
    return [i for i in every if i.project_id == project_id]


@pytest.fixture
def work(tally: Tally) -> Workload:
    return projected(tally)


def test_invoice_lists_filter_by_customer_subscription_status_and_period(
    tally: Tally, work: Workload
) -> None:
    mine = _invoices(tally, work.main.id)
    pid, pool, schema = work.main.id, tally.views, tally.schema

    def ids(**filters: Any) -> list[str]:
        return [
            i["id"]
            for i in _all_pages(
                lambda **page: views.list_invoices(pool, schema, pid, **filters, **page), 2
            )
        ]

    assert ids() == [str(i.id) for i in mine]
    ada = work.main.customers["ada"]
    assert ids(customer_id=ada) == [str(work.main.invoices[n]) for n in ("a1", "a2", "a3")]
    assert ids(status="void") == [str(work.main.invoices[n]) for n in ("c1", "c4")]
    kim = work.main.subs["kim"]
    assert ids(subscription_id=kim) == [str(i.id) for i in mine if i.subscription_id == kim]
    assert len(ids(subscription_id=kim)) >= 3  # the first period and renewals
    start, end = T0 + timedelta(days=20), T0 + timedelta(days=62)
    in_period = [
        str(i.id) for i in mine if i.period_start is not None and start <= i.period_start < end
    ]
    assert in_period
    assert ids(period_from=start, period_to=end) == in_period
    assert ids(customer_id=ada, period_from=start) == []  # one-time: their creation time
    assert ids(customer_id=ada, status="open") == []
    bob = work.main.customers["bob"]
    assert ids(customer_id=bob, status="open") == [str(work.main.invoices[n]) for n in ("b1", "b2")]


def test_another_projects_invoices_are_not_found_and_its_cursor_gives_an_empty_page(
    tally: Tally, work: Workload
) -> None:
    invoice = work.main.invoices["a1"]
    assert views.get_invoice(tally.views, tally.schema, work.delayed.id, invoice) is None
    assert views.get_invoice(tally.views, tally.schema, work.main.id, uuid4()) is None
    page = views.list_invoices(
        tally.views, tally.schema, work.delayed.id, limit=10, starting_after=invoice
    )
    assert page == ([], False)
    page = views.list_invoices(
        tally.views, tally.schema, work.main.id, limit=10, starting_after="not-a-uuid"
    )
    assert page == ([], False)
    notes = views.list_credit_notes(
        tally.views, tally.schema, work.delayed.id, limit=10, starting_after=None
    )
    assert notes == ([], False)


def test_credit_notes_list_by_invoice_and_customer_as_the_invoice_keeps_them(
    tally: Tally, work: Workload
) -> None:
    repo = tally.store.repository
    a2: Invoice = repo.get(work.main.invoices["a2"])
    listed, more = views.list_credit_notes(
        tally.views, tally.schema, work.main.id, invoice_id=a2.id, limit=10, starting_after=None
    )
    assert not more
    assert [{k: n[k] for k in a2.credit_notes[0]} for n in listed] == as_json(a2.credit_notes)
    assert {(n["invoice_id"], n["customer_id"], n["currency"]) for n in listed} == {
        (str(a2.id), str(a2.customer_id), "EUR")
    }
    ada = work.main.customers["ada"]
    every = _all_pages(
        lambda **page: views.list_credit_notes(
            tally.views, tally.schema, work.main.id, customer_id=ada, **page
        ),
        1,
    )
    refunded: list[Invoice] = [repo.get(work.main.invoices[name]) for name in ("a1", "a2")]
    expected = [n["id"] for invoice in refunded for n in invoice.credit_notes]
    assert [n["id"] for n in every] == expected
    assert len(expected) == 3


def test_due_invoice_work_finds_exactly_the_customers_with_work_due_on_the_system_clock(
    tally: Tally, work: Workload
) -> None:
    repo = tally.store.repository
    events = stored_events(tally)
    billings: list[CustomerBilling] = [repo.get(i) for i in created_ids(events, ev.BillingOpened)]
    on_clock = {b.customer_id for b in billings if repo.get(b.customer_id).test_clock_id}
    assert any(b.due for b in billings if b.customer_id in on_clock)  # left out below
    for now, names in (
        (T0, set()),
        (T0 + timedelta(hours=2), {"eve"}),
        (T0 + timedelta(days=6), {"bob", "eve"}),
    ):
        expected = sorted(
            (b.project_id, b.customer_id, b.version)
            for b in billings
            if b.due_by(now) and b.customer_id not in on_clock
        )
        found = views.due_invoice_work(tally.views, tally.schema, now, 100)
        assert sorted(found) == expected
        customers = {**work.main.customers, **work.delayed.customers}
        assert {c for _, c, _ in found} == {customers[n] for n in names}
    assert len(views.due_invoice_work(tally.views, tally.schema, T0 + timedelta(days=6), 1)) == 1


def test_customer_billing_equals_the_aggregate_with_its_credit_coupons_and_due_work(
    tally: Tally, work: Workload
) -> None:
    repo = tally.store.repository
    for project in (work.main, work.delayed):
        for name, customer_id in project.customers.items():
            found = setup.get_customer_billing(tally.views, tally.schema, project.id, customer_id)
            billing: CustomerBilling = repo.get(CustomerBilling.create_id(customer_id))
            assert found is not None, name
            assert {k: found[k] for k in billing.summary()} == as_json(billing.summary())
    dee = setup.get_customer_billing(
        tally.views, tally.schema, work.main.id, work.main.customers["dee"]
    )
    assert dee is not None
    assert dee["coupons"]["customer"]["code"] == "FIVE"
    cy = work.main.customers["cy"]
    assert setup.get_customer_billing(tally.views, tally.schema, work.delayed.id, cy) is None


def test_tax_rates_coupons_and_promotion_codes_list_as_the_aggregates_have_them(
    tally: Tally, work: Workload
) -> None:
    repo = tally.store.repository
    events = stored_events(tally)
    pid, pool, schema = work.main.id, tally.views, tally.schema
    rates: list[TaxRateDefinition] = [repo.get(i) for i in created_ids(events, ev.TaxRateDefined)]
    listed, _ = setup.list_tax_rates(pool, schema, pid, limit=10, starting_after=None)
    assert [_plain(r) for r in listed] == as_json([r.summary() for r in rates])
    active, _ = setup.list_tax_rates(pool, schema, pid, active=False, limit=10, starting_after=None)
    assert [r["percentage"] for r in active] == ["5"]
    vat = work.main.rates["vat"]
    assert _plain(setup.get_tax_rate(pool, schema, pid, vat)) == as_json(repo.get(vat).summary())
    assert setup.get_tax_rate(pool, schema, work.delayed.id, vat) is None
    coupons: list[Coupon] = [repo.get(i) for i in created_ids(events, ev.CouponDefined)]
    every = _all_pages(lambda **p: setup.list_coupons(pool, schema, pid, **p), 1)
    assert [_plain(c) for c in every] == as_json([c.summary() for c in coupons])
    ten = next(c for c in coupons if c.code == "TENPCT")
    assert ten.times_redeemed == 1
    assert _plain(setup.get_coupon(pool, schema, pid, ten.id)) == as_json(ten.summary())
    assert _plain(setup.get_coupon_by_code(pool, schema, pid, "TENPCT")) == as_json(ten.summary())
    archived, _ = setup.list_coupons(pool, schema, pid, active=False, limit=10, starting_after=None)
    assert [c["code"] for c in archived] == ["GONE"]
    promos, _ = setup.list_promotion_codes(
        pool, schema, pid, coupon_id=ten.id, limit=10, starting_after=None
    )
    spring: PromotionCode = repo.get(PromotionCode.create_id(pid, "SPRING"))
    assert [_plain(p) for p in promos] == as_json([{**spring.summary(), "coupon": ten.summary()}])
    both = _all_pages(lambda **p: setup.list_promotion_codes(pool, schema, pid, **p), 1)
    assert [p["code"] for p in both] == ["SPRING", "LOYAL"]


def test_billing_settings_are_the_projects_own_and_absent_until_configured(
    tally: Tally, work: Workload
) -> None:
    repo = tally.store.repository
    for project in (work.main, work.delayed):
        found = setup.get_billing_settings(tally.views, tally.schema, project.id)
        settings: BillingSettings = repo.get(BillingSettings.create_id(project.id))
        assert _plain(found) == as_json(settings.summary())
    fresh = Driver(tally, "fresh")
    customer = fresh.customer("zed")
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    assert setup.get_billing_settings(tally.views, tally.schema, fresh.p.id) is None
    assert setup.get_customer_billing(tally.views, tally.schema, fresh.p.id, customer) is None
    assert repo.get(customer).__class__ is Customer


def _plain(resource: dict[str, Any] | None) -> dict[str, Any]:
    """A resource without the times the read model adds."""
    assert resource is not None
    return {k: v for k, v in resource.items() if k not in ("created_at", "updated_at")}
