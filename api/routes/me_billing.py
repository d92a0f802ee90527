"""/v1/me (issue 14), billing: the customer's invoices (drafts are the project's own
business and are never shown), payment methods, the provider's portal, wallets and usage.
Thin as ``api/routes/me.py``: ownership checked from the event log (404 otherwise), then
the project-key route's own code with the principal's customer id."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.auth import TallyDep
from api.customer_auth import CustomerDep
from api.routes import accounts, checkout, invoice_documents, invoices, journal, payment_methods
from api.routes import usage as usage_routes
from api.routes.common import (
    IdempotencyKey,
    Limit,
    PaymentMethodPath,
    StartingAfterId,
    read_problems,
    write_responses,
)
from api.routes.me_common import MeReader, my_row, own_wallet, owned, wallet_owner_refs
from api.routes.usage import Moment
from api.schemas import accounts as acs
from api.schemas import checkout as cs
from api.schemas import invoices as ins
from api.schemas import journal as js
from api.schemas import me as ms
from api.schemas import payment_methods as pms
from api.schemas import usage as us
from api.schemas.common import Page
from domain.errors import NotFound
from domain.invoices import DRAFT, Invoice

router = APIRouter(prefix="/v1/me", tags=["me"])

INVOICE = "/invoices/{invoice_id}"
WALLET = "/wallets/{account_id}"
SHOWN_STATUSES = ("open", "paid", "void", "uncollectible")


def _my_invoice(tally: TallyDep, me: MeReader, invoice_id: UUID) -> None:
    invoice = owned(tally, me, Invoice, invoice_id, "invoice")
    if invoice.status == DRAFT:
        raise NotFound(f"invoice {invoice_id} not found", id=str(invoice_id))


@router.get(
    "/invoices",
    response_model=Page[ins.Invoice],
    summary="The customer's invoices",
    description="Finalized ones (open, paid, void, uncollectible); drafts are not shown.",
    responses=read_problems(),
)
def my_invoices(
    tally: TallyDep,
    me: MeReader,
    status: ins.Status | None = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[ins.Invoice]:
    if status == DRAFT:
        return Page[ins.Invoice](data=[], has_more=False)
    found = invoices.list_invoices(
        tally,
        me.acting(),
        customer_id=me.customer_id,
        status=status,
        limit=limit,
        starting_after=starting_after,
    )
    # Drafts left out of the page: a page may hold fewer than ``limit`` then, and
    # ``has_more`` still tells whether to ask for the next one.
    found.data = [i for i in found.data if i.status in SHOWN_STATUSES]
    return found


@router.get(
    INVOICE,
    response_model=ins.Invoice,
    summary="One of the customer's invoices",
    responses=read_problems("not_found"),
)
def my_invoice(invoice_id: UUID, tally: TallyDep, me: MeReader) -> ins.Invoice:
    _my_invoice(tally, me, invoice_id)
    return invoices.get_invoice(invoice_id, tally, me.acting(), None)


@router.get(
    INVOICE + "/pdf",
    response_class=Response,
    summary="One of the customer's invoices as a PDF",
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        **read_problems("not_found"),
    },
)
def my_invoice_pdf(invoice_id: UUID, tally: TallyDep, me: MeReader) -> Response:
    _my_invoice(tally, me, invoice_id)
    return invoice_documents.invoice_pdf(invoice_id, tally, me.acting())


@router.get(
    "/payment_methods",
    response_model=pms.PaymentMethods,
    summary="The customer's payment methods",
    responses=read_problems("not_found"),
)
def my_payment_methods(tally: TallyDep, me: MeReader) -> pms.PaymentMethods:
    my_row(tally, me)  # 503, not 404, while the read models catch up with a new customer
    return payment_methods.list_methods(me.customer_id, tally, me.acting())


@router.post(
    "/payment_methods/{payment_method}/default",
    response_model=pms.PaymentMethodsResult,
    summary="Make a payment method the default",
    responses=write_responses(200, "not_found", body=False),
)
def my_default_method(
    payment_method: PaymentMethodPath, tally: TallyDep, me: CustomerDep, key: IdempotencyKey = None
) -> JSONResponse:
    ref = pms.PaymentMethodRef(customer_id=me.customer_id)
    return payment_methods.set_default(payment_method, ref, tally, me.acting(), key)


@router.post(
    "/payment_methods/{payment_method}/detach",
    response_model=pms.PaymentMethodsResult,
    summary="Remove a payment method",
    responses=write_responses(200, "not_found", body=False),
)
def my_detach_method(
    payment_method: PaymentMethodPath, tally: TallyDep, me: CustomerDep, key: IdempotencyKey = None
) -> JSONResponse:
    ref = pms.PaymentMethodRef(customer_id=me.customer_id)
    return payment_methods.detach(payment_method, ref, tally, me.acting(), key)


@router.post(
    "/portal",
    response_model=cs.PortalResult,
    summary="Open the provider's customer portal",
    responses=write_responses(200, "not_found", "provider_unsupported", "provider_unavailable"),
)
def my_portal(
    body: ms.MePortalRequest, tally: TallyDep, me: CustomerDep, key: IdempotencyKey = None
) -> cs.PortalResult:
    request = cs.PortalRequest(customer_id=me.customer_id, return_url=body.return_url)
    return checkout.portal(request, tally, me.acting(), key)


@router.get(
    "/wallets",
    response_model=Page[acs.Account],
    summary="The customer's wallets",
    description="Accounts whose `owner_ref` is the customer's Tally id, with their "
    "balances (at most 100).",
    responses=read_problems("not_found"),
)
def my_wallets(tally: TallyDep, me: MeReader) -> Page[acs.Account]:
    pages = [
        accounts.list_accounts(tally, me.acting(), limit=100, owner_ref=ref)
        for ref in wallet_owner_refs(tally, me)
    ]
    data = [a for p in pages for a in p.data]
    return Page[acs.Account](data=data, has_more=any(p.has_more for p in pages))


@router.get(
    WALLET + "/entries",
    response_model=Page[js.Entry],
    summary="A wallet's history (journal entries)",
    responses=read_problems("not_found"),
)
def my_wallet_entries(
    account_id: UUID,
    tally: TallyDep,
    me: MeReader,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[js.Entry]:
    own_wallet(tally, me, account_id)
    return journal.list_entries(account_id, tally, me.acting(), None, limit, starting_after)


@router.get(
    "/usage",
    response_model=us.Usage,
    summary="The customer's usage",
    description="As GET /v1/customers/{id}/usage: per meter and group over `[start, end)`.",
    responses=read_problems("not_found", "invalid_combination"),
)
def my_usage(tally: TallyDep, me: MeReader, start: Moment = None, end: Moment = None) -> us.Usage:
    my_row(tally, me)  # 503, not 404, while the read models catch up with a new customer
    return usage_routes.customer_usage(me.customer_id, tally, me.acting(), start, end)
