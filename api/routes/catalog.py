"""The catalog: products (plans by code, with their features), prices, and the plan list.

A used price is never edited. Publishing a price under a lookup key the product already
has, with a changed definition, creates a new price and archives the old one;
subscriptions on the old price keep it, new ones are refused with ``price_archived``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.revision_fan_out import check_revision
from api.routes.common import (
    IdempotencyKey,
    Limit,
    PlanCodePath,
    Reader,
    StartingAfterId,
    create_responses,
    created_object,
    execute,
    fetch_one,
    fetch_page,
    read_problems,
    respond,
    write_responses,
)
from api.schemas import catalog as s
from api.schemas.common import Page
from api.schemas.created import DefinedPrice
from commands import messages as m
from commands.limits_types import LookupKey
from domain.errors import NotFound
from domain.limits import MAX_REVISION_FAN_OUT

router = APIRouter(tags=["catalog"])

Active = Annotated[bool | None, Query(description="true: active only; false: archived only")]
PlanCode = PlanCodePath


def _created_or_revised(model: type[Any], what: str, *codes: str) -> dict[int | str, Any]:
    return create_responses(model, f"The {what} already existed: revised, or unchanged", *codes)


@router.post(
    "/v1/products",
    status_code=201,
    response_model=s.Product,
    summary="Define (or revise) a product",
    description="A product is a plan by `code`. Defining an existing code again answers "
    "200 and revises its name and features (nothing is written if they are the same). A "
    "revision changes the entitlements of every customer with a subscription the product "
    "grants to, all at once: one that would reach more than `MAX_REVISION_FAN_OUT` "
    f"({MAX_REVISION_FAN_OUT:,}) customers (or the deployment's lower "
    "`TALLY_MAX_REVISION_FAN_OUT`) answers 409 `limit_reached` and writes nothing. The "
    "count waits for the read models to catch up (503 `read_model_behind` if they do not).",
    responses=_created_or_revised(s.Product, "product", "limit_reached", "read_model_behind"),
)
def define_product(
    body: s.DefineProductRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.DefineProduct(**body.model_dump())
    check_revision(tally, caller.project_id, command)
    return respond(created_object(execute(tally, caller, command, key), "product"), s.Product)


@router.get(
    "/v1/products",
    response_model=Page[s.Product],
    summary="List products",
    responses=read_problems(),
)
def list_products(
    tally: TallyDep,
    caller: Reader,
    active: Active = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Product]:
    from projections.catalog import list_products as query

    return fetch_page(
        s.Product, query, tally, caller, active=active, limit=limit, starting_after=starting_after
    )


@router.get(
    "/v1/products/{product_id}",
    response_model=s.Product,
    summary="Get a product",
    responses=read_problems("not_found"),
)
def get_product(product_id: UUID, tally: TallyDep, caller: Reader) -> s.Product:
    from projections.catalog import get_product as query

    return fetch_one(s.Product, query, tally, caller, product_id, "product")


@router.post(
    "/v1/products/{product_id}/archive",
    response_model=s.ProductResult,
    summary="Archive a product",
    description="An archived product leaves the plan list; its subscriptions go on.",
    responses=write_responses(200, "not_found", body=False),
)
def archive_product(
    product_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ArchiveProduct(product_id=product_id)
    return respond(execute(tally, caller, command, key), s.ProductResult)


@router.post(
    "/v1/prices",
    status_code=201,
    response_model=DefinedPrice,
    summary="Publish a price",
    description="Flat, per unit, tiered (graduated or volume) or metered; recurring "
    "(`interval`) or one-time (no interval). The same definition under the same lookup key "
    "again answers 200 with the existing price; a changed one is a new price (201) and the "
    "old price of that lookup key is archived. Republishing a definition that was archived "
    "answers 409 `price_archived`. Fields that go together, else 422 "
    "`invalid_combination`: a tiered price has tiers whose `up_to` increase and only the "
    "last is open-ended (null); a metered price names its `meter`; a `metered_package` "
    "price (and only it) has a `package` (`unit_amount` per package of `size` units, a "
    "started one charged whole with `round: up` or not with `down`, after `free_units`); "
    "a one-time price has "
    "no trial and is not metered. A new metered price's `meter` is the code of a meter of "
    "the project (`POST /v1/meters`), else 422 `unknown_meter`.",
    responses=_created_or_revised(
        DefinedPrice,
        "price",
        "not_found",
        "unknown_currency",
        "price_archived",
        "invalid_combination",
        "unknown_meter",
    ),
)
def define_price(
    body: s.DefinePriceRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.DefinePrice(**body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(created_object(outcome, "price"), DefinedPrice)


@router.get(
    "/v1/prices",
    response_model=Page[s.Price],
    summary="List prices",
    responses=read_problems(),
)
def list_prices(
    tally: TallyDep,
    caller: Reader,
    product_id: Annotated[UUID | None, Query(description="Only this product's prices")] = None,
    active: Active = None,
    lookup_key: Annotated[
        LookupKey | None,
        Query(description="Only the prices published under this lookup key"),
    ] = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Price]:
    from projections.catalog import list_prices as query

    return fetch_page(
        s.Price,
        query,
        tally,
        caller,
        product_id=product_id,
        active=active,
        lookup_key=lookup_key,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    "/v1/prices/{price_id}",
    response_model=s.Price,
    summary="Get a price",
    responses=read_problems("not_found"),
)
def get_price(price_id: UUID, tally: TallyDep, caller: Reader) -> s.Price:
    from projections.catalog import get_price as query

    return fetch_one(s.Price, query, tally, caller, price_id, "price")


@router.post(
    "/v1/prices/{price_id}/archive",
    response_model=s.PriceResult,
    summary="Archive a price",
    description="New subscriptions on it are refused; existing ones keep it.",
    responses=write_responses(200, "not_found", body=False),
)
def archive_price(
    price_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ArchivePrice(price_id=price_id)
    return respond(execute(tally, caller, command, key), s.PriceResult)


@router.get(
    "/v1/plans",
    response_model=s.PlanList,
    summary="List the active plans with their active prices",
    responses=read_problems(),
)
def list_plans(tally: TallyDep, caller: Reader) -> s.PlanList:
    from projections.catalog import list_plans as query

    rows = query(tally.views, tally.schema, caller.project_id)
    return s.PlanList(data=[s.Plan.model_validate(r) for r in rows])


@router.get(
    "/v1/plans/{code}",
    response_model=s.Plan,
    summary="Get an active plan by its code",
    responses=read_problems("not_found"),
)
def get_plan(code: PlanCode, tally: TallyDep, caller: Reader) -> s.Plan:
    from projections.catalog import list_plans as query

    rows = query(tally.views, tally.schema, caller.project_id)
    found = next((r for r in rows if r.get("code") == code), None)
    if found is None:
        raise NotFound(f"no active plan with code '{code}'", code=code)
    return s.Plan.model_validate(found)
