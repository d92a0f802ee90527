"""/v1/me (issue 14): what a customer may see and do about its subscriptions, with a
customer token (``api.customer_auth``). Every route is thin: it checks that the object
is the customer's (``me_common.owned``: from the event log, 404 otherwise), then runs
the project-key route's own code with the customer id taken from the principal, never
from the URL or the body (docs/access.md). Billing documents, payment methods, wallets
and usage: ``api/routes/me_billing.py``."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import TallyDep
from api.customer_auth import CustomerDep
from api.routes import catalog, checkout, invoices, subscription_lifecycle, subscriptions
from api.routes.common import (
    IdempotencyKey,
    Limit,
    StartingAfterId,
    execute,
    read_problems,
    respond,
    write_responses,
)
from api.routes.me_common import MeReader, my_row, on_offer, owned
from api.schemas import checkout as cs
from api.schemas import customers as s
from api.schemas import me as ms
from api.schemas import subscriptions as ss
from api.schemas.catalog import PlanList
from api.schemas.common import Page
from api.schemas.invoices import UpcomingInvoiceResult
from commands.plan_change_preview import PreviewSubscriptionChange
from domain.subscriptions import Subscription

router = APIRouter(prefix="/v1/me", tags=["me"])

SUB = "/subscriptions/{subscription_id}"
CHANGE_REFUSALS = (*subscriptions.ITEM_REFUSALS, *subscriptions.NAME_REFUSALS)


@router.get(
    "",
    response_model=s.Customer,
    summary="The customer the token stands for",
    responses=read_problems(),
)
def get_me(tally: TallyDep, me: MeReader) -> s.Customer:
    return s.Customer.model_validate(my_row(tally, me))


@router.get(
    "/entitlements",
    response_model=s.Entitlements,
    summary="What the customer is entitled to",
    description="The plans, features and seats of its trialing, active and past_due "
    "subscriptions (as GET /v1/customers/{id}/entitlements).",
    responses=read_problems(),
)
def my_entitlements(tally: TallyDep, me: MeReader) -> s.Entitlements:
    from projections.entitlements import entitlements as query

    my_row(tally, me)
    found = query(tally.views, tally.schema, me.project_id, me.customer_id)
    return s.Entitlements.model_validate(found)


@router.get(
    "/plans",
    response_model=PlanList,
    summary="The plans on offer",
    description="The project's active plans with their active prices (as GET /v1/plans).",
    responses=read_problems(),
)
def my_plans(tally: TallyDep, me: MeReader) -> PlanList:
    return catalog.list_plans(tally, me.acting())


@router.get(
    "/subscriptions",
    response_model=Page[ss.Subscription],
    summary="The customer's subscriptions",
    responses=read_problems(),
)
def my_subscriptions(
    tally: TallyDep,
    me: MeReader,
    status: ss.Status | None = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[ss.Subscription]:
    return subscriptions.list_subscriptions(
        tally,
        me.acting(),
        None,
        customer_id=me.customer_id,
        status=status,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    SUB,
    response_model=ss.Subscription,
    summary="One of the customer's subscriptions",
    responses=read_problems("not_found"),
)
def my_subscription(subscription_id: UUID, tally: TallyDep, me: MeReader) -> ss.Subscription:
    owned(tally, me, Subscription, subscription_id, "subscription")
    return subscriptions.get_subscription(subscription_id, tally, me.acting(), None)


@router.get(
    SUB + "/upcoming_invoice",
    response_model=UpcomingInvoiceResult,
    summary="The subscription's next invoice (nothing is written)",
    responses=read_problems("not_found"),
)
def my_upcoming_invoice(
    subscription_id: UUID, tally: TallyDep, me: MeReader
) -> UpcomingInvoiceResult:
    owned(tally, me, Subscription, subscription_id, "subscription")
    return invoices.upcoming_invoice(subscription_id, tally, me.acting())


@router.post(
    "/checkout",
    status_code=201,
    response_model=cs.CheckoutResult,
    summary="Start a checkout of a subscription",
    description="As POST /v1/checkout/subscription for this customer (the prices' own "
    "default trial applies). Go to `url` to pay.",
    responses=write_responses(201, *CHANGE_REFUSALS, "no_matching_price", "limit_reached"),
)
def my_checkout(
    body: ms.MeCheckoutRequest, tally: TallyDep, me: CustomerDep, key: IdempotencyKey = None
) -> JSONResponse:
    if body.items is not None:
        on_offer(tally, me, body.items)  # a plan code is looked up among the offer only
    request = cs.SubscriptionCheckoutRequest(customer_id=me.customer_id, **body.model_dump())
    return checkout.checkout_subscription(request, tally, me.acting(), key)


@router.post(
    SUB + "/preview_change",
    response_model=ms.PlanChangePreview,
    summary="Preview a plan change (nothing is written)",
    description="The items and the proration lines POST .../change would record now.",
    responses=write_responses(200, "not_found", "invalid_transition", *CHANGE_REFUSALS),
)
def preview_change(
    subscription_id: UUID,
    body: ms.MeChangeRequest,
    tally: TallyDep,
    me: CustomerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    owned(tally, me, Subscription, subscription_id, "subscription")
    on_offer(tally, me, body.items)
    acting = me.acting()
    items = subscriptions.resolve_items(tally, acting, body.items)
    command = PreviewSubscriptionChange(
        subscription_id=subscription_id, customer_id=me.customer_id, items=items
    )
    return respond(execute(tally, acting, command, key), ms.PlanChangePreview)


@router.post(
    SUB + "/change",
    response_model=ss.SubscriptionResult,
    summary="Change the plan (prorated)",
    description="As POST /v1/subscriptions/{id}/items with `prorate`: preview it first.",
    responses=write_responses(200, "not_found", "invalid_transition", *CHANGE_REFUSALS),
)
def change_plan(
    subscription_id: UUID,
    body: ms.MeChangeRequest,
    tally: TallyDep,
    me: CustomerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    owned(tally, me, Subscription, subscription_id, "subscription")
    on_offer(tally, me, body.items)
    request = ss.ChangeItemsRequest(items=body.items, proration="prorate")
    return subscriptions.change_items(subscription_id, request, tally, me.acting(), key)


@router.post(
    SUB + "/cancel",
    response_model=ss.SubscriptionResult,
    summary="Cancel the subscription",
    description="At the end of the period by default (undo with .../undo_cancel), or now. "
    "A paused subscription is canceled only now (`at_period_end: false`): no period runs "
    "while it is paused, so the default answers 409 `invalid_transition`.",
    responses=write_responses(200, "not_found", "invalid_transition"),
)
def cancel(
    subscription_id: UUID,
    tally: TallyDep,
    me: CustomerDep,
    body: ms.MeCancelRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    owned(tally, me, Subscription, subscription_id, "subscription")
    at_period_end = True if body is None else body.at_period_end
    request = ss.CancelRequest(at_period_end=at_period_end)
    return subscription_lifecycle.cancel(subscription_id, tally, me.acting(), request, key)


@router.post(
    SUB + "/undo_cancel",
    response_model=ss.SubscriptionResult,
    summary="Undo a cancellation at period end",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def undo_cancel(
    subscription_id: UUID, tally: TallyDep, me: CustomerDep, key: IdempotencyKey = None
) -> JSONResponse:
    owned(tally, me, Subscription, subscription_id, "subscription")
    return subscription_lifecycle.undo_cancel(subscription_id, tally, me.acting(), key)
