"""/v1/me (issue 14): what a customer may see and do about itself, with a customer token
(``api.customer_auth``). Every route is thin: it calls the same queries and commands as
the project-key routes, with the customer id taken from the principal, never from the
URL; another customer's object answers 404 (docs/access.md)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import TallyDep
from api.routes.common import read_problems
from api.routes.customers import customer_row
from api.routes.me_common import MeReader
from api.schemas import customers as s

router = APIRouter(prefix="/v1/me", tags=["me"])


@router.get(
    "",
    response_model=s.Customer,
    summary="The customer the token stands for",
    responses=read_problems("not_found"),
)
def get_me(tally: TallyDep, me: MeReader) -> s.Customer:
    return s.Customer.model_validate(customer_row(tally, me.acting(), me.customer_id))


@router.get(
    "/entitlements",
    response_model=s.Entitlements,
    summary="What the customer is entitled to",
    description="The plans, features and seats of its trialing, active and past_due "
    "subscriptions (as GET /v1/customers/{id}/entitlements).",
    responses=read_problems("not_found"),
)
def my_entitlements(tally: TallyDep, me: MeReader) -> s.Entitlements:
    from projections.entitlements import entitlements as query

    customer_row(tally, me.acting(), me.customer_id)
    found = query(tally.views, tally.schema, me.project_id, me.customer_id)
    return s.Entitlements.model_validate(found)
