"""The outbox's side of provider-run subscriptions: each recorded call's params as a
``SubscriptionProvider`` request, and the answer as the plain dict the call records.

A provider without a subscription API cannot be asked (``ProviderUnsupported``, which
fails the call at once); a project can only choose one that has it, but it may have
changed providers since it asked.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from adapters.providers.base import PaymentProvider
from adapters.providers.subscriptions import (
    SubscriptionItem,
    SubscriptionProvider,
    SubscriptionRequest,
)
from commands.provider_errors import ProviderUnsupported
from domain.limits import MAX_DESCRIPTION_CHARS, plain_text
from domain.provider_subscription_params import (
    CANCEL,
    CANCEL_AT_PERIOD_END,
    CHANGE_ITEMS,
    ChangeSubscriptionParams,
    CreateSubscriptionParams,
    SubscriptionLine,
    SubscriptionParams,
)


def _words(text: str | None) -> str:
    """A provider's text without control characters or lone surrogates, at most
    ``MAX_DESCRIPTION_CHARS`` (an invoice line's limit)."""
    cleaned = plain_text(text or "").encode("utf-8", "replace").decode("utf-8").strip()
    return cleaned[:MAX_DESCRIPTION_CHARS]


def _items(lines: tuple[SubscriptionLine, ...]) -> tuple[SubscriptionItem, ...]:
    return tuple(SubscriptionItem(line.price_ref, line.quantity) for line in lines)


def make(provider: PaymentProvider, key: str, params: SubscriptionParams) -> dict[str, Any]:
    """Ask ``provider`` what ``params`` say, under the call's idempotency ``key``."""
    if not isinstance(provider, SubscriptionProvider):
        raise ProviderUnsupported(
            f"{provider.name} has no subscription API", provider=provider.name
        )
    if isinstance(params, CreateSubscriptionParams):
        made = provider.create_subscription(
            SubscriptionRequest(
                customer_ref=str(params.customer_ref),
                items=_items(params.lines),
                currency=params.currency,
                idempotency_key=key,
                trial_days=params.trial_days,
                payment_method_ref=params.payment_method_ref,
                references=params.references,
            )
        )
        # ``url``: where the customer pays the first period, when the provider makes the
        # subscription only then (Paddle); the provider_calls read model shows it.
        started = {"subscription_ref": made.subscription_ref, "status": made.status}
        return started | ({"url": made.checkout_url} if made.checkout_url else {})
    if isinstance(params, ChangeSubscriptionParams):
        _change(provider, key, params)
        return {"subscription_ref": params.subscription_ref, "action": params.action}
    found = provider.get_invoice(params.invoice_ref)
    # Plain JSON (times as ISO text, the provider's words as text every read model
    # stores): the answer is kept in the call's event.
    answer: dict[str, Any] = dataclasses.asdict(found)
    answer["number"] = _words(found.number) or None
    for line in answer["lines"]:
        line["description"] = _words(line["description"]) or "Subscription"
    for name in ("period_start", "period_end"):
        value = getattr(found, name)
        answer[name] = value.isoformat() if value is not None else None
    return answer


def _change(provider: SubscriptionProvider, key: str, params: ChangeSubscriptionParams) -> None:
    ref = params.subscription_ref
    if params.action == CHANGE_ITEMS:
        provider.change_subscription_items(
            ref, _items(params.lines), prorate=params.prorate, idempotency_key=key
        )
    elif params.action in (CANCEL, CANCEL_AT_PERIOD_END):
        at_period_end = params.action == CANCEL_AT_PERIOD_END
        provider.cancel_subscription(ref, at_period_end=at_period_end, idempotency_key=key)
    else:
        provider.undo_cancel_subscription(ref, idempotency_key=key)
