"""A subscription's invoice as a customer reads it (issue 11): lines named after the
product and price, a graduated price's tiers as rows that add up, the seller's address,
tax id, due date and payment instructions from the billing settings, the test clock's
dates and no internal reason. The PDF's text is read back and its numbers added up."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.billing import START, clock, customer, plan, price, product
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client
from tests.e2e.invoicing import coupon, pdf_text, tax_rate

SELLER = {
    "seller_address": ["Acme Cloud GmbH", "Hauptstrasse 1", "10115 Berlin, Germany"],
    "seller_tax_id": "DE123456789",
    "payment_terms_days": 14,
    "payment_instructions": "Bank transfer to IBAN DE89 3704 0044 0532 0130 00",
}
TIERS = [{"up_to": 10, "unit_amount": 500}, {"up_to": None, "unit_amount": 400}]


def _trial_ended_invoice(api: Client, seller: dict[str, Any]) -> dict[str, Any]:
    """Pro (29.00 EUR a month) and 12 seats on a graduated price (10 x 5.00 + 2 x 4.00),
    19% VAT, a 10% coupon, a 14-day trial on a test clock, advanced past the trial."""
    vat = tax_rate(api, "19", jurisdiction="DE", name="VAT")
    api.ok(api.post("/v1/billing_settings", {**seller, "default_tax_rate_ids": [vat]}))
    coupon(api, "LAUNCH10", percent_off="10", duration="forever")
    clock_id = clock(api)
    buyer = customer(
        api, "ada", name="Ada Lovelace", email="ada@example.com", test_clock_id=clock_id
    )
    pro = plan(api, "PRO", 2900)
    seats = price(api, product(api, "SEATS"), "seats_monthly", scheme="graduated", tiers=TIERS)
    items = [{"price_id": pro}, {"price_id": seats, "quantity": 12}]
    body = {"customer_id": buyer, "items": items, "trial_days": 14}
    sub = api.ok(api.post("/v1/subscriptions", body), 201)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/coupon", {"coupon_code": "LAUNCH10"}))
    to = (START + timedelta(days=14)).isoformat()
    api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"to": to}))
    (invoice,) = api.ok(api.get("/v1/invoices", subscription_id=sub["id"]))["data"]
    assert invoice["status"] == "open"
    found: dict[str, Any] = invoice
    return found


def _eur(text: str, label: str) -> int:
    """The amount shown after ``label`` on a line of its own, in cents."""
    match = re.search(rf"^{re.escape(label)} (-?\d+)\.(\d\d) EUR$", text, re.MULTILINE)
    assert match is not None, f"{label!r} not in PDF text:\n{text}"
    sign = -1 if match.group(1).startswith("-") else 1
    return sign * (abs(int(match.group(1))) * 100 + int(match.group(2)))


def test_subscription_lines_name_the_product_and_price_in_the_api(sandbox: Client) -> None:
    invoice = _trial_ended_invoice(sandbox, {})
    described = [(li["description"], li["quantity"], li["amount"]) for li in invoice["lines"]]
    assert described == [("Pro, monthly", 1, 2900), ("Seats, monthly", 12, 5800)]
    assert invoice["description"] == "First period after the trial"


def test_the_pdf_adds_up_and_shows_seller_due_date_and_clock_dates(sandbox: Client) -> None:
    invoice = _trial_ended_invoice(sandbox, SELLER)
    text = pdf_text(sandbox, invoice["id"])
    line_amounts = [_eur(text, f"{desc} {qty}") for desc, qty in (("Seats, monthly", 12),)]
    line_amounts.append(_eur(text, "Pro, monthly 1 29.00 EUR"))
    tiers = [_eur(text, "units 1-10 10 5.00 EUR"), _eur(text, "units 11-12 2 4.00 EUR")]
    assert sum(tiers) == line_amounts[0] == 5800  # the tiers add up to their line
    subtotal, discount = _eur(text, "Subtotal"), _eur(text, "Discount (LAUNCH10)")
    tax, total = _eur(text, "VAT (DE) 19%"), _eur(text, "Total")
    assert sum(line_amounts) == subtotal == invoice["subtotal"]
    assert subtotal + discount + tax == total == invoice["total"]  # discount is shown < 0
    assert _eur(text, "Amount due") == invoice["amount_remaining"]
    # No unit price that does not multiply out (12 x 4.83 EUR is not 58.00 EUR).
    assert "4.83" not in text
    issued = START + timedelta(days=14)  # the test clock's time, not the real one
    for expected in (
        *SELLER["seller_address"],
        "Tax ID: DE123456789",
        f"Issued {issued.date().isoformat()}",
        f"Due {(issued + timedelta(days=14)).date().isoformat()}",
        f"Period {issued.date().isoformat()} to 2030-03-14",
        f"How to pay: {SELLER['payment_instructions']}",
        "First period after the trial",
    ):
        assert expected in text, f"{expected!r} not in PDF text:\n{text}"
    assert datetime.now(UTC).date().isoformat() not in text
    assert "trial_ended" not in text
    assert re.search(r"price [0-9a-f]{8}-", text) is None  # no price ids


def test_the_html_shows_the_same_lines_tiers_and_seller(sandbox: Client) -> None:
    invoice = _trial_ended_invoice(sandbox, SELLER)
    page = sandbox.get(f"/v1/invoices/{invoice['id']}/html").text
    for expected in ("Pro, monthly", "Seats, monthly", "units 11-12", "DE123456789", "Due"):
        assert expected in page
    assert "trial_ended" not in page
    assert "4.83" not in page
    assert "http://" not in page
    assert "https://" not in page


def test_a_paid_invoice_shows_the_clocks_payment_date_and_no_instructions(
    sandbox: Client,
) -> None:
    invoice = _trial_ended_invoice(sandbox, SELLER)
    body = {"method": "out_of_band", "reference": "wire 42"}
    sandbox.ok(sandbox.post(f"/v1/invoices/{invoice['id']}/pay", body))
    text = pdf_text(sandbox, invoice["id"])
    assert f"Paid {(START + timedelta(days=14)).date().isoformat()}" in text
    assert "Status: paid" in text
    assert "How to pay" not in text
    assert _eur(text, "Amount due") == 0
