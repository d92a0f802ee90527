"""Customers: register-or-retrieve by your external id, update, read, list, entitlements."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.as_of import AsOf, require_existed
from api.auth import Caller, CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    RefPath,
    StartingAfterId,
    as_of_problems,
    create_responses,
    created_object,
    execute,
    fetch_page,
    found_or_404,
    read_problems,
    respond,
    write_responses,
)
from api.schemas import customers as s
from api.schemas.common import Page
from api.schemas.created import RegisteredCustomer
from api.tally import Tally
from commands import messages as m
from domain.errors import NotFound
from domain.limits import MAX_AS_OF_SUBSCRIPTIONS, TEXT_PATTERN

router = APIRouter(prefix="/v1/customers", tags=["customers"])

ExternalIdPath = RefPath


def customer_row(tally: Tally, caller: Caller, customer_id: UUID) -> dict[str, Any]:
    """The customer's read-model row, or 404 (also for another project's customer)."""
    from projections.customers import get_customer

    row: dict[str, Any] | None = get_customer(
        tally.views, tally.schema, caller.project_id, customer_id
    )
    return found_or_404(row, "customer", customer_id)


def customer_by_external_id(tally: Tally, caller: Caller, external_id: str) -> dict[str, Any]:
    from projections.customers import get_customer_by_external_id

    row: dict[str, Any] | None = get_customer_by_external_id(
        tally.views, tally.schema, caller.project_id, external_id
    )
    if row is None:
        raise NotFound(f"no customer with external id '{external_id}'", external_id=external_id)
    return row


@router.post(
    "",
    status_code=201,
    response_model=RegisteredCustomer,
    summary="Register (or retrieve) a customer",
    description="Register-or-retrieve by `external_id`: the first call creates the customer "
    "(201, `existed: false`); a later call with the same external id answers that customer "
    "(200, `existed: true`) and changes nothing. `test_clock_id` (test-mode projects "
    "only) puts its subscriptions on that clock.",
    responses=create_responses(
        RegisteredCustomer,
        "The external id was already registered: that customer, unchanged",
        "not_found",
        "unknown_currency",
        "test_clock_in_live_mode",
    ),
)
def register_customer(
    body: s.RegisterCustomerRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.RegisterCustomer(**body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(created_object(outcome, "customer"), RegisteredCustomer)


@router.get(
    "",
    response_model=Page[s.Customer],
    summary="List customers",
    responses=read_problems(),
)
def list_customers(
    tally: TallyDep,
    caller: Reader,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
    email: Annotated[
        str | None, Query(max_length=254, pattern=TEXT_PATTERN, description="Exact email")
    ] = None,
) -> Page[s.Customer]:
    from projections.customers import list_customers as query

    return fetch_page(
        s.Customer, query, tally, caller, limit=limit, starting_after=starting_after, email=email
    )


@router.get(
    "/by_external_id/{external_id}",
    response_model=s.Customer,
    summary="Get a customer by your external id",
    responses=read_problems("not_found"),
)
def get_by_external_id(external_id: ExternalIdPath, tally: TallyDep, caller: Reader) -> s.Customer:
    return s.Customer.model_validate(customer_by_external_id(tally, caller, external_id))


@router.get(
    "/{customer_id}",
    response_model=s.Customer,
    summary="Get a customer",
    responses=read_problems("not_found"),
)
def get_customer(customer_id: UUID, tally: TallyDep, caller: Reader) -> s.Customer:
    return s.Customer.model_validate(customer_row(tally, caller, customer_id))


@router.post(
    "/{customer_id}",
    response_model=s.CustomerResult,
    summary="Update a customer",
    description="Fields left out stay as they are. The external id and the currency never change.",
    responses=write_responses(200, "not_found"),
)
def update_customer(
    customer_id: UUID,
    body: s.UpdateCustomerRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.UpdateCustomer(customer_id=customer_id, **body.model_dump())
    return respond(execute(tally, caller, command, key), s.CustomerResult)


@router.get(
    "/{customer_id}/entitlements",
    response_model=s.Entitlements,
    summary="What a customer is entitled to",
    description="The plans, features and seats of the customer's trialing, active and "
    "past_due subscriptions. With `as_of`, those of the subscriptions, prices and products "
    "as they stood at that point of the log, each rebuilt from its events (404 if the "
    f"customer did not exist yet; 409 `limit_reached` if it had more than "
    f"{MAX_AS_OF_SUBSCRIPTIONS:,} subscriptions then).",
    responses=as_of_problems("not_found", "limit_reached"),
)
def entitlements(customer_id: UUID, tally: TallyDep, caller: Reader, as_of: AsOf) -> s.Entitlements:
    from api.as_of_reads import entitlements_as_of
    from projections.entitlements import entitlements as query

    customer_row(tally, caller, customer_id)
    if as_of is not None:
        require_existed(as_of, customer_id, "customer")
        past = entitlements_as_of(tally, as_of, caller.project_id, customer_id)
        return s.Entitlements.model_validate(past)
    found = query(tally.views, tally.schema, caller.project_id, customer_id)
    return s.Entitlements.model_validate(found)
