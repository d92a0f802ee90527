"""An invoice as a document: ``GET /v1/invoices/{id}/pdf`` and ``/html``.

Both are rendered on request from the read models (the invoice, its customer, the
project and its billing settings: the seller's address, tax id, payment terms and
instructions), so they always show the invoice as it is now; a draft reads
``Invoice DRAFT``. The due date is the invoice's issue date plus the project's payment
terms.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.auth import TallyDep
from api.routes.common import Reader, read_problems
from api.routes.invoices import ONE, invoice_row
from api.tally import Tally

router = APIRouter(tags=["invoices"])


def invoice_document(tally: Tally, project_id: UUID, invoice_id: UUID) -> Any:
    """The display view of one invoice of ``project_id`` (404 for any other)."""
    from adapters.documents.model import buyer_party, invoice_view, seller_party
    from domain.billing_settings import DEFAULTS
    from projections.api_keys import get_project
    from projections.billing_setup import get_billing_settings
    from projections.customers import get_customer

    invoice = _with_rate_names(tally, project_id, invoice_row(tally, project_id, invoice_id))
    customer_id = UUID(str(invoice["customer_id"]))
    customer = get_customer(tally.views, tally.schema, project_id, customer_id)
    project = get_project(tally.views, tally.schema, project_id)
    settings = {**DEFAULTS, **(get_billing_settings(tally.views, tally.schema, project_id) or {})}
    return invoice_view(
        invoice,
        seller_party(project, settings),
        buyer_party(customer, str(customer_id)),
        terms_days=int(settings["payment_terms_days"]),
        instructions=str(settings["payment_instructions"]),
    )


def _with_rate_names(tally: Tally, project_id: UUID, invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice keeps each rate's percentage and jurisdiction as they were; its name
    (a label, never part of any amount) comes from the tax rate read model."""
    from projections.billing_setup import get_tax_rate

    rates: dict[str, dict[str, Any]] = {}
    for rate_id, rate in (invoice.get("tax_rates") or {}).items():
        found = get_tax_rate(tally.views, tally.schema, project_id, UUID(rate_id))
        rates[rate_id] = {**rate, "name": (found or {}).get("name", "")}
    return {**invoice, "tax_rates": rates}


def _filename(view: Any, extension: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(view.number))
    return f"{safe}.{extension}"


@router.get(
    ONE + "/pdf",
    response_class=Response,
    summary="The invoice as a PDF",
    description="Number, dates, seller and buyer, lines, discount, tax per rate and totals, "
    "every amount in its currency's minor-unit exponent (1234 JPY, 12.34 EUR, 1.234 BHD).",
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        **read_problems("not_found"),
    },
)
def invoice_pdf(invoice_id: UUID, tally: TallyDep, caller: Reader) -> Response:
    from adapters.documents.pdf import render_pdf

    view = invoice_document(tally, caller.project_id, invoice_id)
    return Response(
        render_pdf(view),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{_filename(view, "pdf")}"'},
    )


@router.get(
    ONE + "/html",
    response_class=HTMLResponse,
    summary="The invoice as an HTML page",
    description="The same content as the PDF; every value is HTML-escaped.",
    responses={200: {"content": {"text/html": {}}}, **read_problems("not_found")},
)
def invoice_html(invoice_id: UUID, tally: TallyDep, caller: Reader) -> HTMLResponse:
    from adapters.documents.html import render_html

    view = invoice_document(tally, caller.project_id, invoice_id)
    # The page is data, not an application: no scripts, no framing.
    headers = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(render_html(view), headers=headers)
