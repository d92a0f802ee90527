"""Saved payment methods (references only), kept in step at the provider: each write
makes its provider calls right after the commit (``api.calls.execute_and_call``)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from adapters.outbox import provider_for
from api.auth import CallerDep, TallyDep
from api.calls import execute_and_call
from api.routes.common import (
    IdempotencyKey,
    PaymentMethodPath,
    Reader,
    read_problems,
    respond,
    write_responses,
)
from api.routes.customers import customer_row
from api.schemas import payment_methods as s
from commands import provider_messages as pm

router = APIRouter()


@router.get(
    "/v1/payment_methods",
    response_model=s.PaymentMethods,
    tags=["payment methods"],
    summary="List a customer's payment methods",
    responses=read_problems("not_found"),
)
def list_methods(
    customer_id: Annotated[UUID, Query()], tally: TallyDep, caller: Reader
) -> s.PaymentMethods:
    from projections.payments import get_payment_methods

    customer_row(tally, caller, customer_id)
    row = get_payment_methods(tally.views, tally.schema, caller.project_id, customer_id)
    if row is None:
        return s.PaymentMethods(customer_id=customer_id, default=None, data=[])
    return s.PaymentMethods.model_validate(row)


@router.post(
    "/v1/payment_methods",
    response_model=s.PaymentMethodsResult,
    tags=["payment methods"],
    summary="Attach a payment method",
    description="Attach the reference the provider's setup flow returned (Stripe "
    "`pm_...`, stub `stub_pm_<test card>`). A completed checkout attaches the method it "
    "saved by itself. Card numbers are refused: they never touch Tally.",
    responses=write_responses(200, "not_found", "limit_reached"),
)
def attach(
    body: s.AttachRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    provider = provider_for(tally, caller.project_id).name
    command = pm.AttachPaymentMethod(provider=provider, **body.model_dump())
    return respond(execute_and_call(tally, caller, command, key), s.PaymentMethodsResult)


@router.post(
    "/v1/payment_methods/{payment_method}/detach",
    response_model=s.PaymentMethodsResult,
    tags=["payment methods"],
    summary="Detach a payment method",
    responses=write_responses(200, "not_found"),
)
def detach(
    payment_method: PaymentMethodPath,
    body: s.PaymentMethodRef,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = pm.DetachPaymentMethod(customer_id=body.customer_id, payment_method=payment_method)
    return respond(execute_and_call(tally, caller, command, key), s.PaymentMethodsResult)


@router.post(
    "/v1/payment_methods/{payment_method}/default",
    response_model=s.PaymentMethodsResult,
    tags=["payment methods"],
    summary="Make a payment method the default",
    responses=write_responses(200, "not_found"),
)
def set_default(
    payment_method: PaymentMethodPath,
    body: s.PaymentMethodRef,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = pm.SetDefaultPaymentMethod(
        customer_id=body.customer_id, payment_method=payment_method
    )
    return respond(execute_and_call(tally, caller, command, key), s.PaymentMethodsResult)
