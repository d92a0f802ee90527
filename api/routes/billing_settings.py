"""A project's billing settings, a customer's credit balance, and coupons attached to a
customer or a subscription (applied to their subscription invoices)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    Reader,
    execute,
    read_problems,
    respond,
    write_responses,
)
from api.routes.customers import customer_row
from api.schemas import billing_settings as s
from api.schemas.billing_setup import ApplyCouponRequest
from commands import messages as m
from domain.billing_settings import DEFAULTS

router = APIRouter(tags=["billing settings"])


@router.get(
    "/v1/billing_settings",
    response_model=s.BillingSettings,
    summary="The project's billing settings",
    description="The defaults until they are first configured.",
    responses=read_problems(),
)
def get_settings(tally: TallyDep, caller: Reader) -> s.BillingSettings:
    from projections.billing_setup import get_billing_settings

    row = get_billing_settings(tally.views, tally.schema, caller.project_id)
    return s.BillingSettings.model_validate(row or DEFAULTS)


@router.post(
    "/v1/billing_settings",
    response_model=s.BillingSettingsResult,
    summary="Configure billing",
    description="Only the fields given change. `retry_days` must increase; the default "
    "tax rates must exist and be active.",
    responses=write_responses(200, "not_found", "invalid_combination", "tax_rate_archived"),
)
def configure(
    body: s.ConfigureBillingRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.ConfigureBilling(**body.model_dump(exclude_none=True))
    return respond(execute(tally, caller, command, key), s.BillingSettingsResult)


@router.get(
    "/v1/customers/{customer_id}/billing",
    response_model=s.CustomerBilling,
    summary="A customer's credit balance and coupons",
    responses=read_problems("not_found"),
)
def customer_billing(customer_id: UUID, tally: TallyDep, caller: Reader) -> s.CustomerBilling:
    from projections.billing_setup import get_customer_billing

    customer_row(tally, caller, customer_id)
    row = get_customer_billing(tally.views, tally.schema, caller.project_id, customer_id)
    return s.CustomerBilling.model_validate(row or {"customer_id": customer_id})


@router.post(
    "/v1/customers/{customer_id}/credit_balance",
    response_model=s.CustomerBillingResult,
    summary="Adjust a customer's credit balance",
    description="Positive grants credit (used first by its next invoices); negative takes "
    "it back, never below zero (422 `insufficient_funds`).",
    responses=write_responses(200, "not_found", "insufficient_funds", "invalid_amount"),
)
def adjust_credit(
    customer_id: UUID,
    body: s.AdjustCreditRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.AdjustCreditBalance(customer_id=customer_id, **body.model_dump())
    return respond(execute(tally, caller, command, key), s.CustomerBillingResult)


@router.post(
    "/v1/customers/{customer_id}/coupon",
    response_model=s.CustomerBillingResult,
    summary="Attach a coupon to a customer",
    description="Its subscription invoices get it (a subscription's own coupon wins). "
    "Exactly one of `coupon_code`, `promotion_code` (else 422 `invalid_combination`).",
    responses=write_responses(
        200, "not_found", "coupon_unavailable", "currency_mismatch", "invalid_combination"
    ),
)
def customer_coupon(
    customer_id: UUID,
    body: ApplyCouponRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.ApplyCouponToCustomer(customer_id=customer_id, **body.model_dump())
    return respond(execute(tally, caller, command, key), s.CustomerBillingResult)


@router.post(
    "/v1/subscriptions/{subscription_id}/coupon",
    response_model=s.CustomerBillingResult,
    tags=["billing settings", "subscriptions"],
    summary="Attach a coupon to a subscription",
    description="Exactly one of `coupon_code`, `promotion_code` (else 422 `invalid_combination`).",
    responses=write_responses(
        200, "not_found", "coupon_unavailable", "currency_mismatch", "invalid_combination"
    ),
)
def subscription_coupon(
    subscription_id: UUID,
    body: ApplyCouponRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.ApplyCouponToSubscription(subscription_id=subscription_id, **body.model_dump())
    return respond(execute(tally, caller, command, key), s.CustomerBillingResult)
