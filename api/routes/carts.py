"""Carts: several prices (or ad hoc lines) checked out together."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    IdPath,
    Reader,
    execute,
    fetch_one,
    read_problems,
    respond,
    write_responses,
)
from api.schemas.carts import Cart, CartItemRequest, CartRequest, CartResult
from commands import provider_messages as pm

router = APIRouter()


@router.post(
    "/v1/carts",
    status_code=201,
    response_model=CartResult,
    tags=["checkout"],
    summary="Create a cart",
    responses=write_responses(201, "not_found", "currency_mismatch", "unknown_currency"),
)
def create_cart(
    body: CartRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = pm.CreateCart(**body.model_dump())
    return respond(execute(tally, caller, command, key), CartResult)


@router.get(
    "/v1/carts/{cart_id}",
    response_model=Cart,
    tags=["checkout"],
    summary="Get a cart",
    responses=read_problems("not_found"),
)
def get_cart(cart_id: UUID, tally: TallyDep, caller: Reader) -> Cart:
    from projections.payments import get_cart as query

    return fetch_one(Cart, query, tally, caller, cart_id, "cart")


@router.post(
    "/v1/carts/{cart_id}/items",
    response_model=CartResult,
    tags=["checkout"],
    summary="Add an item to a cart",
    description="The line names a `price_id`, or else its `name`, `unit_amount` and "
    "`currency` (else 422 `invalid_combination`). A free price (amount 0) is not sold "
    "through a cart: 422 `invalid_amount`.",
    responses=write_responses(
        200,
        "invalid_amount",
        "limit_reached",
        "not_found",
        "currency_mismatch",
        "price_archived",
        "invalid_transition",
        "amount_too_large",
        "invalid_combination",
        "unknown_currency",
    ),
)
def add_item(
    cart_id: UUID,
    body: CartItemRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = pm.AddCartItem(cart_id=cart_id, line=body.line)
    return respond(execute(tally, caller, command, key), CartResult)


@router.post(
    "/v1/carts/{cart_id}/items/{line_id}/remove",
    response_model=CartResult,
    tags=["checkout"],
    summary="Remove an item from a cart",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def remove_item(
    cart_id: UUID, line_id: IdPath, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = pm.RemoveCartItem(cart_id=cart_id, line_id=line_id)
    return respond(execute(tally, caller, command, key), CartResult)
