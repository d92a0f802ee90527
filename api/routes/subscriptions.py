"""Subscriptions: create (with an optional trial), read, list, change items, cancel (now or
at the period end) and undo it, pause and resume, extend a trial, activate an incomplete
one; and the current subscription of a customer by your external id.

Time is the server's clock, or the test clock of the customer's subscription.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import Caller, CallerDep, TallyDep
from api.calls import execute_and_call
from api.catalog_names import catch_up, plan_items, resolve_items
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    RefPath,
    StartingAfterId,
    created_object,
    fetch_one,
    fetch_page,
    read_problems,
    respond,
    write_responses,
)
from api.routes.customers import customer_by_external_id, customer_row
from api.schemas import subscriptions as s
from api.schemas.common import Page
from api.schemas.created import CreatedSubscription
from api.tally import Tally
from commands import messages as m
from domain.errors import InvalidCombination, NotFound

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
    catch_up(tally)  # a customer registered just before is read too
    currency = str(customer_row(tally, caller, customer_id)["currency"])
    return plan_items(tally, caller, str(plan), currency, interval)


@router.post(
    BASE,
    status_code=201,
    response_model=CreatedSubscription,
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
    return respond(created, CreatedSubscription)


@router.get(
    BASE,
    response_model=Page[s.Subscription],
    summary="List subscriptions",
    responses=read_problems(),
)
def list_subscriptions(
    tally: TallyDep,
    caller: Reader,
    customer_id: Annotated[UUID | None, Query(description="Only this customer's")] = None,
    status: Annotated[s.Status | None, Query(description="Only in this status")] = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Subscription]:
    from projections.invoices import collected_page
    from projections.subscriptions import list_subscriptions as query

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
    responses=read_problems("not_found"),
)
def get_subscription(subscription_id: UUID, tally: TallyDep, caller: Reader) -> s.Subscription:
    from projections.invoices import collected_one
    from projections.subscriptions import get_subscription as query

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


@router.post(
    BASE + "/{subscription_id}/cancel",
    response_model=s.SubscriptionResult,
    summary="Cancel a subscription",
    description="Now (default), or at the end of the current period with "
    "`at_period_end: true` (a trial is always canceled now). A canceled subscription "
    "cannot be canceled again (409 `invalid_transition`).",
    responses=write_responses(200, "not_found", "invalid_transition"),
)
def cancel(
    subscription_id: UUID,
    tally: TallyDep,
    caller: CallerDep,
    body: s.CancelRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    at_period_end = body.at_period_end if body is not None else False
    command = m.CancelSubscription(subscription_id=subscription_id, at_period_end=at_period_end)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/undo_cancel",
    response_model=s.SubscriptionResult,
    summary="Undo a cancellation at period end",
    description="Only before the period ends; a subscription already canceled stays canceled.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def undo_cancel(
    subscription_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.UndoCancelSubscription(subscription_id=subscription_id)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/resume",
    response_model=s.SubscriptionResult,
    summary="Resume a paused subscription",
    description="Paused time is not billed: a new period starts now.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def resume(
    subscription_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ResumeSubscription(subscription_id=subscription_id)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/activate",
    response_model=s.SubscriptionResult,
    summary="Activate an incomplete subscription",
    description="Its first payment arrived.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def activate(
    subscription_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ActivateSubscription(subscription_id=subscription_id)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/pause",
    response_model=s.SubscriptionResult,
    summary="Pause an active subscription",
    description="Until resumed, or until `resume_at` (the scheduler resumes it then), "
    "which lies ahead of its clock (else 422 `time_not_in_future`).",
    responses=write_responses(200, "not_found", "invalid_transition", "time_not_in_future"),
)
def pause(
    subscription_id: UUID,
    tally: TallyDep,
    caller: CallerDep,
    body: s.PauseRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    resume_at = body.resume_at if body is not None else None
    command = m.PauseSubscription(subscription_id=subscription_id, resume_at=resume_at)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/extend_trial",
    response_model=s.SubscriptionResult,
    summary="Extend a trial",
    description="Only a trialing subscription, only to a later end; the first period then "
    "starts at the new trial end.",
    responses=write_responses(200, "not_found", "invalid_transition"),
)
def extend_trial(
    subscription_id: UUID,
    body: s.ExtendTrialRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.ExtendTrial(subscription_id=subscription_id, trial_end=body.trial_end)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)
