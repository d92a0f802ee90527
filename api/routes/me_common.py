"""What the /v1/me routes share: the customer reader dependency (authenticate the
customer, then wait for a position if asked, as ``common.read_after`` does for project
keys)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from fastapi.concurrency import run_in_threadpool

from api.auth import TallyDep
from api.customer_auth import CustomerCaller, CustomerDep, load_aggregate
from api.errors import PositionNotIssued, ReadModelBehind
from api.routes import subscriptions
from api.routes.common import _wait, behind, caught_up
from api.routes.customers import customer_row
from api.schemas.subscriptions import ItemRequest
from api.tally import Tally
from domain.errors import NotFound

A = TypeVar("A")


async def read_after_customer(
    tally: TallyDep,
    customer: CustomerDep,
    wait_for_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait (bounded) until the read models hold this event-log position, "
            "e.g. a write's Tally-Position.",
        ),
    ] = None,
) -> CustomerCaller:
    if wait_for_position is not None:
        timeout_s = tally.settings.read_wait_max_ms / 1000
        reached = await run_in_threadpool(_wait, tally, wait_for_position, timeout_s)
        if reached is None:
            raise PositionNotIssued(
                f"no write has answered position {wait_for_position} yet; pass a "
                "Tally-Position this server answered",
                position=wait_for_position,
            )
        if not reached:
            raise behind(tally, wait_for_position)
    return customer


MeReader = Annotated[CustomerCaller, Depends(read_after_customer)]


def owned(tally: Tally, me: CustomerCaller, cls: type[A], aggregate_id: UUID, what: str) -> A:
    """The customer's own ``cls`` aggregate (itself, or one whose ``customer_id`` is it),
    read from the event log (fresh, so a write is checked against the current owner);
    404 for another customer's, another project's, or none, alike."""
    found = load_aggregate(tally, aggregate_id, cls)
    if found is None or not _belongs(found, me):
        raise NotFound(f"{what} {aggregate_id} not found", id=str(aggregate_id))
    return found


def _belongs(found: Any, me: CustomerCaller) -> bool:
    if getattr(found, "project_id", None) != me.project_id:
        return False
    return me.customer_id in (found.id, getattr(found, "customer_id", None))


def own_wallet(tally: Tally, me: CustomerCaller, account_id: UUID) -> None:
    """404 unless the account is one of the customer's wallets."""
    from domain.accounts import Account

    found = load_aggregate(tally, account_id, Account)
    mine = (
        found is not None
        and found.project_id == me.project_id
        and found.owner_ref in wallet_owner_refs(tally, me)
    )
    if not mine:
        raise NotFound(f"account {account_id} not found", id=str(account_id))


def wallet_owner_refs(tally: Tally, me: CustomerCaller) -> tuple[str, ...]:
    """The ``owner_ref`` values of the customer's wallets: its Tally id only. Not its
    external id: with an identity provider that id comes from a claim the provider may
    let its users choose, so matching it could hand a customer another owner's account
    (security review finding 10, docs/access.md)."""
    from domain.customers import Customer

    owned(tally, me, Customer, me.customer_id, "customer")
    return (str(me.customer_id),)


def on_offer(tally: Tally, me: CustomerCaller, items: Sequence[ItemRequest]) -> None:
    """404 unless every item names an active price of an active plan, the prices
    ``GET /v1/me/plans`` lists: a customer never subscribes itself to a price of an
    archived product or to one the project keeps off its plans (docs/access.md). The
    project-key routes take any active price; only customers are held to the offer."""
    from projections.catalog import list_plans

    resolved = subscriptions.resolve_items(tally, me.acting(), items)
    caught_up(tally)  # a price published just before is on offer
    plans = list_plans(tally.views, tally.schema, me.project_id)
    offered = {str(price["id"]) for plan in plans for price in plan["prices"]}
    for item in resolved:
        if str(item.price_id) not in offered:
            raise NotFound(f"price {item.price_id} is not on offer", id=str(item.price_id))


def my_row(tally: Tally, me: CustomerCaller) -> dict[str, Any]:
    """The customer's read-model row. The token proved the customer exists in the log,
    so a missing row means the read models have not caught up (a concurrent first
    request registered it a moment ago): 503 ``read_model_behind``, retry, never a 404
    (security review finding 6)."""
    try:
        return customer_row(tally, me.acting(), me.customer_id)
    except NotFound:
        raise ReadModelBehind(
            "the read models do not hold this customer yet; retry shortly",
            headers={"Retry-After": "1"},
        ) from None
