"""What the /v1/me routes share: the customer reader dependency (authenticate the
customer, then wait for a position if asked, as ``common.read_after`` does for project
keys)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import Depends, Query
from fastapi.concurrency import run_in_threadpool

from api.auth import TallyDep
from api.customer_auth import CustomerCaller, CustomerDep
from api.errors import PositionNotIssued
from api.routes.common import _wait, behind
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
    found: Any = _load(tally, aggregate_id)
    if not (isinstance(found, cls) and _belongs(found, me)):
        raise NotFound(f"{what} {aggregate_id} not found", id=str(aggregate_id))
    result: A = found
    return result


def _belongs(found: Any, me: CustomerCaller) -> bool:
    if getattr(found, "project_id", None) != me.project_id:
        return False
    return me.customer_id in (found.id, getattr(found, "customer_id", None))


def own_wallet(tally: Tally, me: CustomerCaller, account_id: UUID) -> None:
    """404 unless the account is one of the customer's wallets."""
    from domain.accounts import Account

    found = _load(tally, account_id)
    mine = (
        isinstance(found, Account)
        and found.project_id == me.project_id
        and found.owner_ref in wallet_owner_refs(tally, me)
    )
    if not mine:
        raise NotFound(f"account {account_id} not found", id=str(account_id))


def wallet_owner_refs(tally: Tally, me: CustomerCaller) -> tuple[str, ...]:
    """The ``owner_ref`` values of the customer's wallets: its Tally id, and its external
    id (docs/access.md)."""
    from domain.customers import Customer

    customer = owned(tally, me, Customer, me.customer_id, "customer")
    return (str(me.customer_id), str(customer.external_id))


def _load(tally: Tally, aggregate_id: UUID) -> Any:
    try:
        return tally.store.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None
