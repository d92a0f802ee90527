"""The upcoming invoice (a dry run: nothing written), and the OpenAPI of the invoicing
routes: every route authenticated, documenting its problems, every example valid."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from adapters.clock import FixedClock
from api.schemas import billing_settings, billing_setup, credit_notes, invoices, reports
from tests.e2e.billing import customer, plan, problem, subscribe
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import coupon, tax_rate
from tests.e2e.test_subscriptions_openapi import models, openapi_operations

PREFIXES = (
    "/v1/invoices",
    "/v1/credit_notes",
    "/v1/tax_rates",
    "/v1/coupons",
    "/v1/promotion_codes",
    "/v1/billing_settings",
    "/v1/reports",
)


def test_upcoming_invoice_shows_the_next_period_with_coupon_and_tax_and_writes_nothing(
    api: Client, clock: FixedClock
) -> None:
    vat = tax_rate(api, "20")
    api.ok(api.post("/v1/billing_settings", {"default_tax_rate_ids": [vat]}))
    coupon(api, "HALF", percent_off="50", duration="forever")
    buyer = customer(api)
    sub = subscribe(api, buyer, plan(api, "PRO", 3000))
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/coupon", {"coupon_code": "HALF"}))
    clock.advance(timedelta(days=3))
    with nothing_written(api.tally):
        upcoming = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/upcoming_invoice"))
    invoice = upcoming["upcoming_invoice"]
    assert (invoice["id"], invoice["number"], invoice["status"]) == (None, None, "draft")
    assert invoice["period_start"] == sub["current_period_end"]
    assert (invoice["subtotal"], invoice["discount"], invoice["tax"]) == (3000, 1500, 300)
    assert invoice["total"] == 1800
    listed = api.ok(api.get("/v1/invoices", subscription_id=sub["id"]))["data"]
    assert len(listed) == 1  # the first period's only


def test_upcoming_invoice_of_a_canceled_subscription_is_null_and_others_404(
    api: Client, other: Client
) -> None:
    sub = subscribe(api, customer(api), plan(api, "PRO", 1000))
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/cancel"))
    path = f"/v1/subscriptions/{sub['id']}/upcoming_invoice"
    assert api.ok(api.get(path))["upcoming_invoice"] is None
    problem(other.get(path), 404, "not_found")


def test_every_invoicing_route_is_authenticated_and_documents_its_problems(
    http: TestClient,
) -> None:
    spec = http.get("/openapi.json").json()
    operations = openapi_operations(spec, PREFIXES)
    assert len(operations) == 28
    for path, method, op in operations:
        responses = op["responses"]
        assert op["security"] == [{"ApiKey": []}], path
        assert {"401", "422"} <= responses.keys(), (method, path)
        assert op["summary"], path
        if method == "post":
            assert "Idempotency-Key" in [p["name"] for p in op.get("parameters", [])], path
            success = next(r for s, r in responses.items() if s.startswith("2"))
            assert "Tally-Position" in success["headers"], path
        else:
            assert "503" in responses, path
    finalize = spec["paths"]["/v1/invoices/{invoice_id}/finalize"]["post"]["responses"]
    assert "invoice_empty" in finalize["422"]["description"]
    coupon_route = spec["paths"]["/v1/invoices/{invoice_id}/coupon"]["post"]["responses"]
    assert "coupon_unavailable" in coupon_route["409"]["description"]
    pdf = spec["paths"]["/v1/invoices/{invoice_id}/pdf"]["get"]["responses"]["200"]
    assert "application/pdf" in pdf["content"]


def test_every_example_is_valid_for_its_model() -> None:
    checked = 0
    for module in (invoices, credit_notes, billing_setup, billing_settings, reports):
        for model in models(module):
            extra = model.model_config.get("json_schema_extra") or {}
            examples = extra.get("examples", []) if isinstance(extra, dict) else []
            for example in examples:  # type: ignore[union-attr]
                model.model_validate(example)
                checked += 1
    assert checked >= 20
