"""Subscriptions: create (with an optional trial), read, list, change items; and the
current subscription of a customer by your external id. Its status changes (cancel now or
at the period end and undo it, pause and resume, extend a trial, activate an incomplete
one) are in ``subscription_lifecycle``.

Names of prices are resolved to ids here, at the API edge: a price's lookup key, a
plan's code. Stripe users name prices by lookup key and Lago users subscribe to a plan
code; Tally's commands carry price ids only, so that what a command did never depends on
what a name meant later (and commands never read read models). A request that names
prices is resolved over the catalog read model of the caller's project before its
command is built (the broker's messages too, ``api/inbound/handling.py``):

- an item names ``price_id`` or ``lookup_key`` (one of them, else 422
  ``invalid_combination``); a lookup key no active price has is 404 ``not_found``, one
  that two products use is 422 ``ambiguous_price``;
- a subscription names ``items`` or a ``plan`` code (one of them); the plan's current
  active recurring prices in the customer's currency (on ``interval``, when given) are its
  items, one of each. An unknown or archived plan is 404 ``not_found``; none that fits is
  422 ``no_matching_price``; prices on several intervals without ``interval`` are 422
  ``ambiguous_price``.

A name is read after the read models have caught up with the log (bounded by
``read_wait_max_ms``), so a price published just before is found. Time is the server's
clock, or the test clock of the customer's subscription.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any, Protocol
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.as_of import AsOf
from api.auth import Caller, CallerDep, TallyDep
from api.calls import execute_and_call
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    RefPath,
    StartingAfterId,
    as_of_problems,
    caught_up,
    created_object,
    fetch_one,
    fetch_page,
    one_or_404,
    page,
    read_problems,
    respond,
    write_responses,
)
from api.routes.customers import customer_by_external_id, customer_row
from api.schemas import subscriptions as s
from api.schemas.common import Page
from api.tally import Tally
from commands import messages as m
from domain.errors import AmbiguousPrice, InvalidCombination, NoMatchingPrice, NotFound
from domain.limits import MAX_AS_OF_SUBSCRIPTIONS

router = APIRouter(tags=["subscriptions"])

BASE = "/v1/subscriptions"
ITEM_REFUSALS = (
    "not_found",
    "price_archived",
    "price_not_recurring",
    "currency_mismatch",
    "amount_too_large",
    "invalid_combination",
)


NAMING = (
    "Prices are named by `price_id` or by `lookup_key` in each item (one of them, else 422 "
    "`invalid_combination`); a lookup key no active price has is 404 `not_found`, one that "
    "two products use 422 `ambiguous_price`. "
)
PLAN_NAMING = (
    "Instead of `items`, `plan` names a plan code (not both, and not `interval` without "
    "`plan`: 422 `invalid_combination`): one of each of its active recurring prices in the "
    "customer's currency, only those on `interval` when given. An unknown plan is 404 "
    "`not_found`; no price that fits, 422 `no_matching_price`; prices on more than one "
    "interval without `interval`, 422 `ambiguous_price`. "
)
NAME_REFUSALS = ("ambiguous_price", "read_model_behind")


# -- names of prices and plans, resolved to price ids -----------------------------------


class NamedItem(Protocol):
    """An item of a request: a price by id or by lookup key, and a quantity."""

    @property
    def price_id(self) -> UUID | None: ...

    @property
    def lookup_key(self) -> str | None: ...

    @property
    def quantity(self) -> int: ...


def price_by_lookup_key(tally: Tally, caller: Caller, lookup_key: str) -> UUID:
    """The id of the one active price published under ``lookup_key``."""
    from projections.catalog import prices_by_lookup_key

    found = prices_by_lookup_key(tally.views, tally.schema, caller.project_id, lookup_key)
    if not found:
        raise NotFound(f"no active price has lookup key '{lookup_key}'", lookup_key=lookup_key)
    if len(found) > 1:
        raise AmbiguousPrice(
            f"lookup key '{lookup_key}' names {len(found)} active prices (of products "
            f"{', '.join(sorted(str(p['product_id']) for p in found))}); name the price by "
            "price_id",
            lookup_key=lookup_key,
        )
    return UUID(str(found[0]["id"]))


def resolve_items(
    tally: Tally, caller: Caller, items: Sequence[NamedItem]
) -> list[m.SubscriptionItem]:
    """Command items (price ids) for request items that name prices by id or lookup key."""
    if any(i.lookup_key is not None for i in items):
        caught_up(tally)
    resolved: list[m.SubscriptionItem] = []
    for n, item in enumerate(items):
        if (item.price_id is None) == (item.lookup_key is None):
            raise InvalidCombination(
                f"items[{n}] names a price by price_id or by lookup_key: one of them",
                item=n,
            )
        price_id = item.price_id
        if price_id is None:
            price_id = price_by_lookup_key(tally, caller, str(item.lookup_key))
        resolved.append(m.SubscriptionItem(price_id=price_id, quantity=item.quantity))
    return resolved


def plan_items(
    tally: Tally, caller: Caller, code: str, currency: str, interval: str | None
) -> list[m.SubscriptionItem]:
    """One item of each of the plan's current recurring prices that fit."""
    from projections.catalog import list_plans

    caught_up(tally)
    plans = list_plans(tally.views, tally.schema, caller.project_id)
    plan = next((p for p in plans if p.get("code") == code), None)
    if plan is None:
        raise NotFound(f"no active plan with code '{code}'", plan=code)
    # A plan's active prices are its current ones: publishing a changed price under a
    # lookup key archives the one it replaces.
    fitting = [
        p
        for p in plan["prices"]
        if p["interval"] is not None
        and p["currency"] == currency
        and (interval is None or p["interval"] == interval)
    ]
    if not fitting:
        wanted = f"{currency} billed by the {interval}" if interval else currency
        raise NoMatchingPrice(f"plan '{code}' has no active recurring price in {wanted}", plan=code)
    intervals = sorted({_interval(p) for p in fitting})
    if len(intervals) > 1:
        raise AmbiguousPrice(
            f"plan '{code}' bills on {', '.join(intervals)}: add interval, or name the "
            "items by lookup_key",
            plan=code,
        )
    return [m.SubscriptionItem(price_id=UUID(str(p["id"])), quantity=1) for p in fitting]


def _interval(price: dict[str, Any]) -> str:
    count = int(price.get("interval_count") or 1)
    return str(price["interval"]) if count == 1 else f"every {count} {price['interval']}s"


def request_items(
    tally: Tally,
    caller: Caller,
    customer_id: UUID,
    items: list[s.ItemRequest] | None,
    plan: str | None,
    interval: str | None,
) -> list[m.SubscriptionItem]:
    """The command's items for a request that names ``items`` or a ``plan``."""
    if (items is None) == (plan is None):
        raise InvalidCombination("a subscription names items or a plan: one of them")
    if interval is not None and plan is None:
        raise InvalidCombination("interval picks among a plan's prices: it goes with plan")
    if items is not None:
        return resolve_items(tally, caller, items)
    caught_up(tally)  # a customer registered just before is read too
    currency = str(customer_row(tally, caller, customer_id)["currency"])
    return plan_items(tally, caller, str(plan), currency, interval)


@router.post(
    BASE,
    status_code=201,
    response_model=s.CreatedSubscription,
    summary="Create a subscription",
    description=NAMING
    + PLAN_NAMING
    + "Every price must be active, recurring, in the customer's currency, on "
    "one billing interval and named once (else 422 `invalid_combination`). With trial "
    "days (from the request, else the prices' longest default) it starts `trialing`, else "
    "`active`; with `incomplete: true` it waits for its first payment, so it takes no "
    "trial (422 `invalid_combination`). A one-time price answers 422 "
    "`price_not_recurring`.",
    responses=write_responses(
        201,
        *ITEM_REFUSALS,
        *NAME_REFUSALS,
        "no_matching_price",
        "invalid_combination",
        "limit_reached",
    ),
)
def create_subscription(
    body: s.CreateSubscriptionRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    items = request_items(tally, caller, body.customer_id, body.items, body.plan, body.interval)
    command = m.CreateSubscription(
        customer_id=body.customer_id,
        items=items,
        trial_days=body.trial_days,
        incomplete=body.incomplete,
    )
    from projections.invoices import with_collection

    outcome = execute_and_call(tally, caller, command, key)
    # The customer's collection laid over the answer as over a GET's (on a copy: the
    # outcome may be the one an idempotent retry answers again).
    sub = outcome.body["subscription"]
    sub = with_collection(tally.views, tally.schema, caller.project_id, [sub])[0]
    answer = replace(outcome, body={**outcome.body, "subscription": sub})
    created = created_object(answer, "subscription", latest_invoice="invoice")
    return respond(created, s.CreatedSubscription)


@router.get(
    BASE,
    response_model=Page[s.Subscription],
    summary="List subscriptions",
    description="With `as_of` (which needs `customer_id`: 422 `invalid_combination` "
    "without it), the customer's subscriptions as they stood at that point of the log, "
    "each rebuilt from its events: only the page's are rebuilt, except with `status` "
    "(their status then), which rebuilds them in order until the page is full, at most "
    f"{MAX_AS_OF_SUBSCRIPTIONS:,} (409 `limit_reached`).",
    responses=as_of_problems("invalid_combination", "limit_reached"),
)
def list_subscriptions(
    tally: TallyDep,
    caller: Reader,
    as_of: AsOf,
    customer_id: Annotated[UUID | None, Query(description="Only this customer's")] = None,
    status: Annotated[s.Status | None, Query(description="Only in this status")] = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Subscription]:
    from api.as_of_reads import subscriptions_page
    from projections.invoices import collected_page
    from projections.subscriptions import list_subscriptions as query

    if as_of is not None:
        rows, has_more = subscriptions_page(
            tally,
            as_of,
            caller.project_id,
            customer_id=customer_id,
            status=status,
            limit=limit,
            starting_after=starting_after,
        )
        return page(s.Subscription, rows, has_more)
    return fetch_page(
        s.Subscription,
        collected_page(query),
        tally,
        caller,
        customer_id=customer_id,
        status=status,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    BASE + "/{subscription_id}",
    response_model=s.Subscription,
    summary="Get a subscription",
    description="With `as_of`, the subscription as it stood at that point of the log, "
    "rebuilt from its events; 404 if it did not exist yet.",
    responses=as_of_problems("not_found"),
)
def get_subscription(
    subscription_id: UUID, tally: TallyDep, caller: Reader, as_of: AsOf
) -> s.Subscription:
    from api.as_of_reads import subscription_as_of
    from projections.invoices import collected_one
    from projections.subscriptions import get_subscription as query

    if as_of is not None:
        past = subscription_as_of(tally, as_of, caller.project_id, subscription_id)
        return one_or_404(s.Subscription, past, "subscription", subscription_id)

    collected = collected_one(query)
    return fetch_one(s.Subscription, collected, tally, caller, subscription_id, "subscription")


@router.get(
    "/v1/customers/by_external_id/{external_id}/subscription",
    response_model=s.Subscription,
    summary="The current subscription of a customer, by your external id",
    description="The customer's newest subscription that is not canceled or expired; 404 "
    "when the customer is unknown or has none.",
    responses=read_problems("not_found"),
)
def current_subscription(
    external_id: RefPath,
    tally: TallyDep,
    caller: Reader,
) -> s.Subscription:
    from projections.invoices import with_collection
    from projections.subscriptions import current_subscription as query

    customer_by_external_id(tally, caller, external_id)
    row = query(tally.views, tally.schema, caller.project_id, external_id)
    if row is None:
        raise NotFound(
            f"customer '{external_id}' has no current subscription", external_id=external_id
        )
    found = with_collection(tally.views, tally.schema, caller.project_id, [row])[0]
    return s.Subscription.model_validate(found)


@router.post(
    BASE + "/{subscription_id}/items",
    response_model=s.SubscriptionResult,
    summary="Change the items (plan change, seats)",
    description=NAMING
    + "`prorate` (default) records a credit for the unused time of the old items "
    "and a charge for the rest of the period on the new ones (`proration_lines`, billed at "
    "the next renewal); `none` swaps with no lines; `period_end` switches at the next "
    "renewal (`pending_items`). The billing interval cannot change, and each price is "
    "named once (else 422 `invalid_combination`).",
    responses=write_responses(200, *ITEM_REFUSALS, *NAME_REFUSALS, "invalid_transition"),
)
def change_items(
    subscription_id: UUID,
    body: s.ChangeItemsRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    items = resolve_items(tally, caller, body.items)
    command = m.ChangeSubscriptionItems(
        subscription_id=subscription_id, items=items, proration=body.proration
    )
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)
