"""The invoice document's view (adapters/documents/model.py) and what it rests on: a
tiered price's parts add up to its amount, a line shows no unit price that does not
multiply out, stored internal reasons are not shown, and the seller's settings are
checked like every other text."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.documents.model import Party, invoice_view, seller_party
from domain.billing_settings import BillingSettings
from domain.errors import ValidationFailed
from domain.price_tiers import tier_breakdown, tiered_amount


@st.composite
def tiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    bounds = sorted(draw(st.sets(st.integers(1, 50), max_size=4)))
    ups: list[int | None] = [*bounds, None]
    amount = st.integers(0, 10_000)
    return [{"up_to": u, "unit_amount": draw(amount), "flat_amount": draw(amount)} for u in ups]


@given(st.sampled_from(["graduated", "volume"]), tiers(), st.integers(1, 80))
def test_a_tiered_prices_parts_add_up_to_its_amount(
    scheme: str, found: list[dict[str, Any]], quantity: int
) -> None:
    parts = tier_breakdown(scheme, found, quantity)
    assert sum(p["amount"] for p in parts) == tiered_amount(scheme, found, quantity)
    assert sum(p["quantity"] for p in parts) == quantity
    for part in parts:
        assert part["amount"] == part["unit_amount"] * part["quantity"] + part["flat_amount"]


def _invoice(**fields: Any) -> dict[str, Any]:
    line = {"description": "Seats, monthly", "quantity": 12, "unit_amount": 483, "amount": 5800}
    return {
        "currency": "EUR",
        "status": "open",
        "number": "INV-2030-000001",
        "lines": [line],
        "subtotal": 5800,
        "total": 5800,
        "amount_remaining": 5800,
        "finalized_at": "2030-02-14T09:00:00+00:00",
        **fields,
    }


def test_a_line_whose_unit_price_does_not_multiply_out_shows_none() -> None:
    view = invoice_view(_invoice(), Party("Acme"), Party("Ada"))
    (line,) = view.lines
    assert (line.quantity, line.unit_amount, line.amount) == ("12", "", "58.00 EUR")


def test_a_stored_internal_reason_is_not_shown() -> None:
    view = invoice_view(_invoice(description="subscription trial_ended"), Party("A"), Party("B"))
    assert view.summary == ""
    assert not any("trial_ended" in note for note in view.notes)
    kept = invoice_view(_invoice(description="March consulting"), Party("A"), Party("B"))
    assert kept.summary == "March consulting"


def test_the_due_date_is_the_issue_date_plus_the_terms() -> None:
    view = invoice_view(_invoice(), Party("A"), Party("B"), terms_days=30)
    assert ("Due", "2030-03-16") in view.dates
    assert ("Issued", "2030-02-14") in view.dates
    voided = invoice_view(_invoice(status="void"), Party("A"), Party("B"), terms_days=30)
    assert [label for label, _ in voided.dates] == ["Issued"]


def test_the_seller_shows_address_and_tax_id() -> None:
    settings = {"seller_address": ["Main St 1", "Berlin"], "seller_tax_id": "DE1"}
    seller = seller_party({"name": "Acme"}, settings)
    assert (seller.name, seller.lines) == ("Acme", ["Main St 1", "Berlin", "Tax ID: DE1"])


@pytest.mark.parametrize(
    "changes",
    [
        {"seller_address": ["a"] * 7},
        {"seller_address": ["line\nbreak"]},
        {"seller_tax_id": "x" * 101},
        {"payment_instructions": "pay\x00now"},
        {"payment_terms_days": 366},
        {"payment_terms_days": True},
    ],
)
def test_seller_settings_past_their_limits_are_refused(changes: dict[str, Any]) -> None:
    settings = BillingSettings(project_id=uuid4())
    with pytest.raises(ValidationFailed):
        settings.configure(changes)


def test_settings_stored_before_the_seller_fields_read_their_defaults() -> None:
    settings = BillingSettings(project_id=uuid4())
    settings.values = {k: v for k, v in settings.values.items() if not k.startswith("seller")}
    settings.configure({"payment_terms_days": 7})
    assert settings.summary()["seller_address"] == []
    assert settings.values["payment_terms_days"] == 7


def test_a_subscription_checkouts_line_names_items_quantities_and_period() -> None:
    from commands.line_descriptions import first_period_name

    invoice = {
        "lines": [
            {"kind": "subscription", "description": "Pro, monthly", "quantity": 1},
            {"kind": "subscription", "description": "Seats, monthly", "quantity": 12},
            {"kind": "proration", "description": "unused time", "quantity": 1},
        ],
        "period_start": "2030-01-31T09:00:00Z",
        "period_end": "2030-02-28T09:00:00Z",
    }
    expected = "Pro, monthly; Seats, monthly \u00d7 12: 31 Jan 2030 to 28 Feb 2030"
    assert first_period_name(invoice) == expected
