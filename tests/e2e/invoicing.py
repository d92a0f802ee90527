"""Helpers for the invoicing HTTP tests: a customer with a draft invoice, tax rates,
coupons, and reading a PDF's text back."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from tests.e2e.billing import customer
from tests.e2e.conftest import Client


def line(description: str, unit_amount: int, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {"description": description, "unit_amount": unit_amount, "quantity": quantity, **extra}


def draft(
    api: Client, customer_id: str | None = None, *lines: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """A draft invoice (for a new customer unless one is given) with ``lines``."""
    body = {"customer_id": customer_id or customer(api), "lines": list(lines), **fields}
    invoice: dict[str, Any] = api.ok(api.post("/v1/invoices", body), 201)
    return invoice


def act(api: Client, invoice_id: str, action: str, body: Any = None, status: int = 200) -> Any:
    return api.ok(api.post(f"/v1/invoices/{invoice_id}/{action}", body), status)


def tax_rate(api: Client, percentage: str, **fields: Any) -> str:
    body = {"percentage": percentage, **fields}
    return str(api.ok(api.post("/v1/tax_rates", body), 201)["id"])


def coupon(api: Client, code: str, **fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(api.post("/v1/coupons", {"code": code, **fields}), 201)
    return found


def wallet(api: Client, customer_id: str, amount: int, currency: str = "EUR") -> str:
    """The customer's wallet (its owner_ref is the customer id), funded with ``amount``."""
    account_id = api.open_account(owner=customer_id, currency=currency)
    api.deposit(account_id, amount, currency)
    return account_id


def pdf_text(api: Client, invoice_id: str) -> str:
    response = api.get(f"/v1/invoices/{invoice_id}/pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)
