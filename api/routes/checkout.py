"""Payments through the project's provider: hosted checkouts, the portal, wallet top-ups,
refunds, and the provider calls behind them (``GET /v1/provider_calls``).

Every write records its part first (a pending Transaction, an incomplete subscription,
a checked-out cart) together with a ``ProviderCall``; after the commit the route asks
the outbox to make the call at once, so the answer normally holds the hosted URL. If
the provider is unavailable the write still succeeds: the call stays ``pending`` (its
``url`` null) and the outbox retries it with backoff; ``GET /v1/provider_calls/{id}``
shows its state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from adapters.outbox import provider_for
from api.auth import Caller, CallerDep, TallyDep
from api.calls import call_now
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    StartingAfter,
    caught_up,
    execute,
    fetch_one,
    fetch_page,
    read_problems,
    respond,
    write_responses,
)
from api.routes.customers import customer_row
from api.routes.subscriptions import NAME_REFUSALS, NAMING, PLAN_NAMING, request_items
from api.schemas import checkout as s
from api.schemas.common import Page
from api.tally import Tally
from commands import provider_messages as pm
from commands.messages import Command
from domain.errors import NotFound
from domain.limits import TEXT_PATTERN

router = APIRouter(tags=["checkout"])

# provider_limit_exceeded: a line name or currency the project's provider refuses
# (Paddle's limits, docs/providers.md), refused before anything is written.
CHECKOUT_REFUSALS = (
    "not_found",
    "currency_mismatch",
    "price_archived",
    "invalid_amount",
    "provider_limit_exceeded",
)


def provider_name(tally: Tally, caller: Caller) -> str:
    return provider_for(tally, caller.project_id).name


def run_and_call(tally: Tally, caller: Caller, command: Command, key: str | None) -> JSONResponse:
    """Execute the command, then make its provider call now (after the commit)."""
    outcome = execute(tally, caller, command, key)
    body: dict[str, Any] = dict(outcome.body)
    call = body["provider_call"]
    pending = [call["id"]] if call["state"] == "pending" else []
    # The call's latest state, and its position, newer than the command's.
    moved, made = call_now(tally, caller.project_id, outcome, pending)
    call = (made[0] if made else None) or call
    body["provider_call"] = call
    body["url"] = call.get("url")
    return respond(replace(outcome, body=body), s.CheckoutResult, headers_of=moved)


@router.post(
    "/v1/checkout/subscription",
    status_code=201,
    response_model=s.CheckoutResult,
    summary="Check out a subscription",
    description="Creates an incomplete subscription. Without a trial it has its first "
    "invoice, and paying on the provider's page pays the invoice and activates the "
    "subscription. With a trial (`trial_days`, else the prices' longest default) the page "
    "charges nothing and saves a payment method (the customer's default); completing it "
    "starts the trial (`trialing`, for the trial's days from then), and the trial's end "
    "bills that method. The stub and Stripe can; at Paddle and YooKassa a checkout with a "
    "trial answers 422 `provider_unsupported`, and so does a checkout of plans the "
    "provider runs (`POST /v1/subscription_runner`: create those with POST "
    "/v1/subscriptions). Its prices are recurring (else 422 "
    "`price_not_recurring`). " + NAMING + PLAN_NAMING,
    responses=write_responses(
        201,
        *CHECKOUT_REFUSALS,
        *NAME_REFUSALS,
        "no_matching_price",
        "price_not_recurring",
        "invalid_combination",
        "provider_unsupported",
        "limit_reached",
    ),
)
def checkout_subscription(
    body: s.SubscriptionCheckoutRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    items = request_items(tally, caller, body.customer_id, body.items, body.plan, body.interval)
    command = pm.CheckoutSubscription(
        provider=provider_name(tally, caller),
        customer_id=body.customer_id,
        items=items,
        trial_days=body.trial_days,
        success_url=body.success_url,
        cancel_url=body.cancel_url,
    )
    return run_and_call(tally, caller, command, key)


@router.post(
    "/v1/checkout/item",
    status_code=201,
    response_model=s.CheckoutResult,
    summary="Check out one item",
    description="A one-time purchase: a pending Transaction that completes when the "
    "provider confirms the payment. The line names a `price_id`, or else its `name`, "
    "`unit_amount` and `currency` (else 422 `invalid_combination`).",
    responses=write_responses(201, *CHECKOUT_REFUSALS, "invalid_combination", "unknown_currency"),
)
def checkout_item(
    body: s.ItemCheckoutRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = pm.CheckoutItem(provider=provider_name(tally, caller), **body.model_dump())
    return run_and_call(tally, caller, command, key)


@router.post(
    "/v1/checkout/cart",
    status_code=201,
    response_model=s.CheckoutResult,
    summary="Check out a cart",
    description="An empty cart answers 422 `cart_empty`.",
    responses=write_responses(201, *CHECKOUT_REFUSALS, "invalid_transition", "cart_empty"),
)
def checkout_cart(
    body: s.CartCheckoutRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = pm.CheckoutCart(provider=provider_name(tally, caller), **body.model_dump())
    return run_and_call(tally, caller, command, key)


@router.post(
    "/v1/accounts/{account_id}/top_ups",
    status_code=201,
    response_model=s.CheckoutResult,
    tags=["accounts"],
    summary="Top up a wallet through the provider",
    description="A pending deposit from the provider's clearing account. With "
    "`payment_method` the saved method is charged off-session; without, `url` is a "
    "hosted checkout. The deposit completes (and the wallet is credited) when the "
    "provider confirms the payment, or fails if it declines.",
    responses=write_responses(
        201,
        "not_found",
        "currency_mismatch",
        "account_frozen",
        "account_closed",
        "invalid_amount",
        "unknown_currency",
        "provider_limit_exceeded",
    ),
)
def top_up(
    account_id: UUID,
    body: s.TopUpRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = pm.TopUpAccount(
        provider=provider_name(tally, caller), account_id=account_id, **body.model_dump()
    )
    return run_and_call(tally, caller, command, key)


@router.post(
    "/v1/transactions/{transaction_id}/refunds",
    status_code=202,
    response_model=s.CheckoutResult,
    tags=["transactions"],
    summary="Refund a provider payment",
    description="Asks the provider to refund (through the outbox); the transaction is "
    "reversed by the refunded amount when the provider has refunded (a refund Paddle "
    "holds for review, `pending_approval`, when it approves). A transaction not "
    "paid through a provider (or not confirmed yet) answers 409 `not_refundable`: "
    "reverse it instead.",
    responses=write_responses(
        202, "not_found", "invalid_transition", "reversal_exceeds_amount", "not_refundable"
    ),
)
def refund(
    transaction_id: UUID,
    tally: TallyDep,
    caller: CallerDep,
    body: s.RefundRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump() if body is not None else {}
    command = pm.RefundTransaction(transaction_id=transaction_id, **fields)
    return run_and_call(tally, caller, command, key)


@router.post(
    "/v1/portal",
    response_model=s.PortalResult,
    summary="Open the provider's customer portal",
    description="A one-off URL of the provider's portal for the customer (nothing is "
    "recorded). YooKassa has none: 422 `provider_unsupported`.",
    responses=write_responses(
        200, "not_found", "provider_unsupported", "provider_unavailable", "read_model_behind"
    ),
)
def portal(
    body: s.PortalRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,  # accepted like on every POST; the portal records nothing
) -> s.PortalResult:
    caught_up(tally)  # a customer registered just before is read too
    customer = customer_row(tally, caller, body.customer_id)
    provider = provider_for(tally, caller.project_id)
    refs = customer.get("provider_refs") or {}
    reference = refs.get(provider.name) or (
        str(body.customer_id) if provider.name in ("stub", "yookassa") else None
    )
    if reference is None:
        raise NotFound(
            f"customer {body.customer_id} has no {provider.name} customer yet (it is linked "
            "by their first checkout)",
            id=str(body.customer_id),
        )
    session = provider.create_portal_session(reference, body.return_url)
    return s.PortalResult(url=session.url, provider=session.provider)


@router.get(
    "/v1/provider_calls",
    response_model=Page[s.ProviderCall],
    summary="List provider calls (the outbox)",
    responses=read_problems(),
)
def list_calls(
    tally: TallyDep,
    caller: Reader,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
    state: Annotated[str | None, Query(pattern="^(pending|succeeded|failed)$")] = None,
    subject: Annotated[str | None, Query(max_length=100, pattern=TEXT_PATTERN)] = None,
) -> Page[s.ProviderCall]:
    from projections.payments import list_provider_calls

    return fetch_page(
        s.ProviderCall,
        list_provider_calls,
        tally,
        caller,
        state=state,
        subject=subject,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    "/v1/provider_calls/{call_id}",
    response_model=s.ProviderCall,
    summary="Get a provider call",
    responses=read_problems("not_found"),
)
def get_call(call_id: UUID, tally: TallyDep, caller: Reader) -> s.ProviderCall:
    from projections.payments import get_provider_call

    return fetch_one(s.ProviderCall, get_provider_call, tally, caller, call_id, "provider call")
