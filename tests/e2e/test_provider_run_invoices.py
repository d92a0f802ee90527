"""The invoices of a subscription Stripe runs, mirrored in every state (issue 18), over
HTTP against the fake Stripe Billing: an invoice Stripe finalized and has not been paid
shows in ``GET /v1/invoices`` as open with what the customer owes, stays open (past
due) when a payment fails, and follows Stripe to paid, void or uncollectible, on the
same Tally invoice. Each line is as Stripe billed it: its amount, quantity, discount
and tax, named by Tally's price."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.provider_shop import Shop
from tests.e2e.stripe_billing_fake import FakeBilling, send
from tests.e2e.stripe_billing_run import T0, shop, started

__all__ = ["shop"]  # the fixture this module's tests use


def unpaid(fake: FakeBilling, ref: str, amount: int) -> dict[str, Any]:
    """An invoice of ``ref`` Stripe finalized for ``amount`` and nobody paid yet."""
    invoice = fake.invoices[fake.add_invoice(ref, amount, "pi_later")]
    invoice.update(status="open", amount_paid=0, amount_remaining=amount)
    invoice["payments"] = {"object": "list", "data": []}
    return invoice


def paid_now(invoice: dict[str, Any], payment: str) -> None:
    invoice.update(status="paid", amount_paid=invoice["total"], amount_remaining=0)
    entry = {"status": "paid", "payment": {"type": "payment_intent", "payment_intent": payment}}
    invoice["payments"] = {"object": "list", "data": [entry]}


def mirrored(shop: Shop, sub_id: str) -> dict[str, Any]:
    [invoice] = shop.api.ok(shop.api.get("/v1/invoices", subscription_id=sub_id))["data"]
    return dict(invoice)


def test_an_unpaid_stripe_invoice_shows_what_is_owed_and_follows_stripe_to_paid(
    shop: tuple[Shop, FakeBilling],
) -> None:
    store, fake = shop
    created, ref, _ = started(store, fake)
    invoice = unpaid(fake, ref, 1000)
    send(store.api, "evt_fin", "invoice.finalized", invoice, T0 + 5)
    shown = mirrored(store, created["id"])
    assert (shown["status"], shown["total"], shown["amount_remaining"]) == ("open", 1000, 1000)
    # A declined payment: still open at Stripe (past due), still owed in Tally, and no
    # dunning of Tally's own (Stripe retries).
    invoice["attempt_count"] = 1
    send(store.api, "evt_fail", "invoice.payment_failed", invoice, T0 + 6)
    shown = mirrored(store, created["id"])
    assert (shown["status"], shown["amount_remaining"], shown["dunning"]) == ("open", 1000, None)
    paid_now(invoice, "pi_paid_late")
    send(store.api, "evt_paid", "invoice.paid", invoice, T0 + 7)
    shown = mirrored(store, created["id"])
    assert (shown["status"], shown["amount_paid"], shown["amount_remaining"]) == ("paid", 1000, 0)
    assert [p["reference"] for p in shown["payments"]] == ["pi_paid_late"]
    # One GET per state change, each applied to the one Tally invoice.
    assert len(store.stripe.sent("GET", f"/v1/invoices/{invoice['id']}")) == 3


@pytest.mark.parametrize(
    ("kind", "status"),
    [("invoice.voided", "void"), ("invoice.marked_uncollectible", "uncollectible")],
)
def test_a_stripe_invoice_voided_or_given_up_is_so_in_tally(
    shop: tuple[Shop, FakeBilling], kind: str, status: str
) -> None:
    store, fake = shop
    created, ref, _ = started(store, fake)
    invoice = unpaid(fake, ref, 1000)
    send(store.api, "evt_fin", "invoice.finalized", invoice, T0 + 5)
    invoice["status"] = status
    send(store.api, "evt_end", kind, invoice, T0 + 6)
    send(store.api, "evt_end_again", kind, invoice, T0 + 7)  # redelivered: nothing more
    shown = mirrored(store, created["id"])
    owed = 0 if status == "void" else 1000
    assert (shown["status"], shown["amount_remaining"]) == (status, owed)
    assert len(store.stripe.sent("GET", f"/v1/invoices/{invoice['id']}")) == 2


def test_an_invoice_first_seen_void_is_mirrored_void(shop: tuple[Shop, FakeBilling]) -> None:
    """Its earlier events were missed: the one fetch brings it to Stripe's state."""
    store, fake = shop
    created, ref, _ = started(store, fake)
    invoice = unpaid(fake, ref, 1000)
    invoice["status"] = "void"
    send(store.api, "evt_void", "invoice.voided", invoice, T0 + 5)
    assert mirrored(store, created["id"])["status"] == "void"
    rows = store.api.ok(store.api.get("/v1/system_accounts", limit=100))["data"]
    assert {r["account"]: int(r["balance"]) for r in rows}.get("revenue", 0) == 0


def test_a_prorated_taxed_discounted_stripe_line_keeps_stripes_amounts(
    shop: tuple[Shop, FakeBilling],
) -> None:
    """Tally's catalog says Pro is 10.00 a month; Stripe billed two seats for part of a
    month (7.33), took 1.00 off and added 1.27 tax: the mirror shows Stripe's numbers,
    named as Tally names its price."""
    store, fake = shop
    created, ref, pro = started(store, fake)
    invoice = unpaid(fake, ref, 760)
    [line] = invoice["lines"]["data"]
    line.update(amount=733, quantity=2, description="Remaining time on 2 x Pro")
    line["discount_amounts"] = [{"amount": 100, "discount": "di_1"}]
    line["taxes"] = [
        {
            "amount": 127,
            "tax_behavior": "exclusive",
            "type": "tax_rate_details",
            "taxability_reason": "standard_rated",
            "taxable_amount": 633,
            "tax_rate_details": {"tax_rate": "txr_1"},
        }
    ]
    line["parent"] = {
        "type": "subscription_item_details",
        "subscription_item_details": {"proration": True, "subscription": ref},
    }
    invoice.update(subtotal=733, total=760, amount_due=760)
    paid_now(invoice, "pi_prorated")
    send(store.api, "evt_paid", "invoice.paid", invoice, T0 + 5)
    shown = mirrored(store, created["id"])
    assert (shown["subtotal"], shown["discount"], shown["tax"], shown["total"]) == (
        733,
        100,
        127,
        760,
    )
    [mirrored_line] = shown["lines"]  # no "tax and discounts" line: each is on its line
    assert (mirrored_line["amount"], mirrored_line["quantity"], mirrored_line["kind"]) == (
        733,
        2,
        "proration",
    )
    assert (mirrored_line["discount"], mirrored_line["tax"], mirrored_line["gross"]) == (
        100,
        127,
        760,
    )
    assert (mirrored_line["description"], mirrored_line["price_id"]) == ("Pro, monthly", pro)
    assert shown["tax_by_rate"] == {"stripe": 127}
    assert (shown["status"], shown["amount_paid"]) == ("paid", 760)
    trial = store.api.ok(store.api.get("/v1/reports/trial_balance"))
    assert {c: int(v["total"]) for c, v in trial["currencies"].items()} == {"EUR": 0}
