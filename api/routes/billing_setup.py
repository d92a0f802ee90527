"""What invoicing is configured with: tax rates, coupons and promotion codes.

Tax rates and coupons are never edited (an invoice keeps the rate or discount it was
given); a changed one is defined anew and the old one archived. Coupons are addressed
by their code, which is unique per project. Billing settings and credit balances are in
``billing_settings``.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    CodePath,
    IdempotencyKey,
    Limit,
    Reader,
    StartingAfter,
    StartingAfterId,
    created_object,
    execute,
    fetch_one,
    fetch_page,
    read_problems,
    respond,
    write_responses,
)
from api.schemas import billing_setup as s
from api.schemas.common import Page
from commands import messages as m
from domain.coupons import Coupon
from domain.errors import NotFound

router = APIRouter(tags=["tax rates and coupons"])


# -- tax rates ---------------------------------------------------------------------------------


@router.post(
    "/v1/tax_rates",
    status_code=201,
    response_model=s.TaxRate,
    summary="Define a tax rate",
    description="A percentage from 0 to 100 (at most 4 decimals), exclusive or inclusive. "
    "Outside that range: 422 `invalid_percentage`.",
    responses=write_responses(201, "invalid_percentage"),
)
def define_tax_rate(
    body: s.DefineTaxRateRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.DefineTaxRate(**body.model_dump())
    return respond(created_object(execute(tally, caller, command, key), "tax_rate"), s.TaxRate)


@router.get(
    "/v1/tax_rates",
    response_model=Page[s.TaxRate],
    summary="List tax rates",
    responses=read_problems(),
)
def list_tax_rates(
    tally: TallyDep,
    caller: Reader,
    active: Annotated[bool | None, Query(description="Only active (or archived) ones")] = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.TaxRate]:
    from projections.billing_setup import list_tax_rates as query

    return fetch_page(
        s.TaxRate, query, tally, caller, active=active, limit=limit, starting_after=starting_after
    )


@router.get(
    "/v1/tax_rates/{tax_rate_id}",
    response_model=s.TaxRate,
    summary="Get a tax rate",
    responses=read_problems("not_found"),
)
def get_tax_rate(tax_rate_id: UUID, tally: TallyDep, caller: Reader) -> s.TaxRate:
    from projections.billing_setup import get_tax_rate as query

    return fetch_one(s.TaxRate, query, tally, caller, tax_rate_id, "tax rate")


@router.post(
    "/v1/tax_rates/{tax_rate_id}/archive",
    response_model=s.TaxRateResult,
    summary="Archive a tax rate",
    description="New lines cannot use it; invoices that have it keep it.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def archive_tax_rate(
    tax_rate_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ArchiveTaxRate(tax_rate_id=tax_rate_id)
    return respond(execute(tally, caller, command, key), s.TaxRateResult)


# -- coupons -----------------------------------------------------------------------------------


@router.post(
    "/v1/coupons",
    status_code=201,
    response_model=s.Coupon,
    summary="Define a coupon",
    description="`percent_off` (0-100) or `amount_off` with its `currency`, exactly one "
    "of the two (else 422 `invalid_combination`). Redemptions past `max_redemptions` or "
    "after `expires_at` answer 409 `coupon_unavailable`.",
    responses=write_responses(
        201,
        "invalid_percentage",
        "already_exists",
        "invalid_amount",
        "invalid_combination",
        "unknown_currency",
    ),
)
def define_coupon(
    body: s.DefineCouponRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.DefineCoupon(**body.model_dump())
    return respond(created_object(execute(tally, caller, command, key), "coupon"), s.Coupon)


@router.get(
    "/v1/coupons",
    response_model=Page[s.Coupon],
    summary="List coupons",
    responses=read_problems(),
)
def list_coupons(
    tally: TallyDep,
    caller: Reader,
    active: Annotated[bool | None, Query(description="Only active (or archived) ones")] = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Coupon]:
    from projections.billing_setup import list_coupons as query

    return fetch_page(
        s.Coupon, query, tally, caller, active=active, limit=limit, starting_after=starting_after
    )


@router.get(
    "/v1/coupons/{code}",
    response_model=s.Coupon,
    summary="Get a coupon by its code",
    responses=read_problems("not_found"),
)
def get_coupon(code: CodePath, tally: TallyDep, caller: Reader) -> s.Coupon:
    from projections.billing_setup import get_coupon as query

    row = query(
        tally.views, tally.schema, caller.project_id, Coupon.create_id(caller.project_id, code)
    )
    if row is None:
        raise NotFound(f"coupon '{code}' not found", code=code)
    return s.Coupon.model_validate(row)


@router.post(
    "/v1/coupons/{code}/archive",
    response_model=s.CouponResult,
    summary="Archive a coupon",
    description="It can no longer be applied; discounts already given stay.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def archive_coupon(
    code: CodePath, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    return respond(execute(tally, caller, m.ArchiveCoupon(code=code), key), s.CouponResult)


# -- promotion codes ---------------------------------------------------------------------------


@router.post(
    "/v1/promotion_codes",
    status_code=201,
    response_model=s.PromotionCode,
    summary="Define a promotion code for a coupon",
    description="A customer-facing code with its own redemption limit and expiry.",
    responses=write_responses(201, "not_found", "already_exists"),
)
def define_promotion_code(
    body: s.DefinePromotionCodeRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.DefinePromotionCode(**body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(created_object(outcome, "promotion_code"), s.PromotionCode)


@router.get(
    "/v1/promotion_codes",
    response_model=Page[s.PromotionCode],
    summary="List promotion codes",
    responses=read_problems(),
)
def list_promotion_codes(
    tally: TallyDep,
    caller: Reader,
    coupon_id: Annotated[UUID | None, Query(description="Only this coupon's")] = None,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
) -> Page[s.PromotionCode]:
    from projections.billing_setup import list_promotion_codes as query

    return fetch_page(
        s.PromotionCode,
        query,
        tally,
        caller,
        coupon_id=coupon_id,
        limit=limit,
        starting_after=starting_after,
    )
