"""Invoices: create a draft, add and remove lines, apply a coupon or promotion code,
finalize, void, mark uncollectible; read and list (per customer, subscription, status,
period); and the upcoming invoice of a subscription (a dry run: nothing is written).

Paying one (and retrying a failed payment) is in ``invoice_payments``; documents (PDF
and HTML) are in ``invoice_documents``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.as_of import AsOf
from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    IdPath,
    Limit,
    Reader,
    StartingAfterId,
    as_of_problems,
    created_object,
    execute,
    fetch_page,
    found_or_404,
    read_problems,
    respond,
    write_responses,
)
from api.schemas import invoices as s
from api.schemas.billing_setup import ApplyCouponRequest
from api.schemas.common import Page
from api.tally import Tally
from commands import messages as m
from commands.limits_types import TIMESTAMP_RULE, Timestamp

router = APIRouter(tags=["invoices"])

BASE = "/v1/invoices"
ONE = BASE + "/{invoice_id}"
LineId = IdPath


def invoice_row(tally: Tally, project_id: UUID, invoice_id: UUID) -> dict[str, Any]:
    """The invoice from the read model, or 404 (another project's ids too)."""
    from projections.invoices import get_invoice

    row: dict[str, Any] | None = get_invoice(tally.views, tally.schema, project_id, invoice_id)
    return found_or_404(row, "invoice", invoice_id)


@router.post(
    BASE,
    status_code=201,
    response_model=s.Invoice,
    summary="Create a draft invoice",
    description="In the customer's currency, with optional lines, each with its own tax "
    "rates (the project's default rates are for subscription lines).",
    responses=write_responses(201, "not_found", "invalid_amount", "tax_rate_archived"),
)
def create_invoice(
    body: s.CreateInvoiceRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.CreateInvoice(
        customer_id=body.customer_id, description=body.description, lines=body.lines
    )
    return respond(created_object(execute(tally, caller, command, key), "invoice"), s.Invoice)


@router.get(
    BASE,
    response_model=Page[s.Invoice],
    summary="List invoices",
    description="Oldest first. Filters combine; `period_from`/`period_to` select invoices "
    "whose billing period starts in that range.",
    responses=read_problems(),
)
def list_invoices(  # one parameter per documented filter
    tally: TallyDep,
    caller: Reader,
    customer_id: Annotated[UUID | None, Query(description="Only this customer's")] = None,
    subscription_id: Annotated[UUID | None, Query(description="Only this subscription's")] = None,
    status: Annotated[s.Status | None, Query(description="Only in this status")] = None,
    period_from: Annotated[
        Timestamp | None, Query(description=f"Period starts at or after. {TIMESTAMP_RULE}")
    ] = None,
    period_to: Annotated[
        Timestamp | None, Query(description=f"Period starts before. {TIMESTAMP_RULE}")
    ] = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Invoice]:
    from projections.invoices import collected_page
    from projections.invoices import list_invoices as query

    return fetch_page(
        s.Invoice,
        collected_page(query),
        tally,
        caller,
        customer_id=customer_id,
        subscription_id=subscription_id,
        status=status,
        period_from=period_from,
        period_to=period_to,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    ONE,
    response_model=s.Invoice,
    summary="Get an invoice",
    description="With `as_of`, the invoice as it stood at that point of the log, rebuilt "
    "from its events and its dunning record's (its collection from the billing settings "
    "and payment methods of then); 404 if it did not exist yet.",
    responses=as_of_problems("not_found"),
)
def get_invoice(invoice_id: UUID, tally: TallyDep, caller: Reader, as_of: AsOf) -> s.Invoice:
    from api.as_of_reads import invoice_as_of
    from projections.invoices import with_collection

    if as_of is not None:
        past = invoice_as_of(tally, as_of, caller.project_id, invoice_id)
        return s.Invoice.model_validate(found_or_404(past, "invoice", invoice_id))
    row = invoice_row(tally, caller.project_id, invoice_id)
    return s.Invoice.model_validate(
        with_collection(tally.views, tally.schema, caller.project_id, [row])[0]
    )


@router.post(
    ONE + "/lines",
    response_model=s.InvoiceResult,
    summary="Add a line to a draft",
    description="Only a draft takes lines (409 `invalid_transition` once finalized).",
    responses=write_responses(
        200,
        "not_found",
        "invalid_transition",
        "invalid_amount",
        "limit_reached",
        "already_exists",
        "tax_rate_archived",
    ),
)
def add_line(
    invoice_id: UUID,
    body: s.AddLineRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    line = m.InvoiceLineInput(**body.model_dump())
    command = m.AddInvoiceLine(invoice_id=invoice_id, line=line)
    return respond(execute(tally, caller, command, key), s.InvoiceResult)


@router.post(
    ONE + "/lines/{line_id}/remove",
    response_model=s.InvoiceResult,
    summary="Remove a line from a draft",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def remove_line(
    invoice_id: UUID,
    line_id: LineId,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.RemoveInvoiceLine(invoice_id=invoice_id, line_id=line_id)
    return respond(execute(tally, caller, command, key), s.InvoiceResult)


@router.post(
    ONE + "/coupon",
    response_model=s.InvoiceResult,
    summary="Apply a coupon or a promotion code to a draft",
    description="Exactly one of `coupon_code`, `promotion_code` (else 422 "
    "`invalid_combination`). A coupon past its redemption limit or expiry, archived, or in "
    "another currency answers 409 `coupon_unavailable`.",
    responses=write_responses(
        200,
        "not_found",
        "invalid_transition",
        "coupon_unavailable",
        "currency_mismatch",
        "invalid_combination",
    ),
)
def apply_coupon(
    invoice_id: UUID,
    body: ApplyCouponRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.ApplyCoupon(
        invoice_id=invoice_id, coupon_code=body.coupon_code, promotion_code=body.promotion_code
    )
    return respond(execute(tally, caller, command, key), s.InvoiceResult)


# The operation ids stay those of the routes' first names (``invoice_finalize``, ...):
# clients generated from the OpenAPI document call them by these.


@router.post(
    ONE + "/finalize",
    name="invoice_finalize",
    response_model=s.InvoiceResult,
    summary="Finalize a draft",
    description="Computes the totals, uses the customer's credit balance, takes the next "
    "number and records the accounting entry. An invoice without lines answers 422 "
    "`invoice_empty`.",
    responses=write_responses(
        200, "not_found", "invalid_transition", "invoice_empty", "amount_too_large", body=False
    ),
)
def finalize_invoice(
    invoice_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.FinalizeInvoice(invoice_id=invoice_id)
    return respond(execute(tally, caller, command, key), s.InvoiceResult)


@router.post(
    ONE + "/void",
    name="invoice_void",
    response_model=s.InvoiceResult,
    summary="Void an open invoice",
    description="Reverses the finalization entry and gives back credit it used. Only an "
    "open invoice with nothing paid.",
    responses=write_responses(
        200, "not_found", "invalid_transition", "amount_too_large", body=False
    ),
)
def void_invoice(
    invoice_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.VoidInvoice(invoice_id=invoice_id)
    return respond(execute(tally, caller, command, key), s.InvoiceResult)


@router.post(
    ONE + "/mark_uncollectible",
    name="invoice_mark_uncollectible",
    response_model=s.InvoiceResult,
    summary="Mark an open invoice uncollectible",
    description="Stops dunning; it can still be paid later.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def mark_invoice_uncollectible(
    invoice_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.MarkInvoiceUncollectible(invoice_id=invoice_id)
    return respond(execute(tally, caller, command, key), s.InvoiceResult)


@router.get(
    "/v1/subscriptions/{subscription_id}/upcoming_invoice",
    response_model=s.UpcomingInvoiceResult,
    tags=["invoices", "subscriptions"],
    summary="The next invoice of a subscription (nothing is written)",
    description="Its items for the next period, the proration collected so far, the "
    "usage of the current period so far (metered prices, rated as the renewal will rate "
    "it: `usage` lines; those past the 500 lines an invoice holds on `continued` invoices "
    "of usage alone, as the renewal splits them), the "
    "coupon and tax as they stand now. `upcoming_invoice` is null when none will come "
    "(canceled at period end, ended). Read from the read models: pass a write's "
    "`Tally-Position` as `wait_for_position` to see it.",
    responses=read_problems("not_found"),
)
def upcoming_invoice(
    subscription_id: UUID, tally: TallyDep, caller: Reader
) -> s.UpcomingInvoiceResult:
    from api.usage_report import usage_reader
    from projections.invoices import with_collection
    from projections.upcoming_invoices import upcoming_invoice as query

    reader = usage_reader(tally, caller.project_id)
    found = query(tally.views, tally.schema, caller.project_id, subscription_id, reader)
    preview = found_or_404(found, "subscription", subscription_id)
    answer = preview["upcoming_invoice"]
    if answer is not None:
        answer = with_collection(tally.views, tally.schema, caller.project_id, [answer])[0]
    more = with_collection(tally.views, tally.schema, caller.project_id, preview["continued"])
    return s.UpcomingInvoiceResult.model_validate({"upcoming_invoice": answer, "continued": more})
