"""What the outbox asks a provider for one recorded ``ProviderCall``: the typed params
it recorded, turned into the provider interface's request under the call's idempotency
key, and the answer as the plain dict ``RecordProviderCallOutcome`` takes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from adapters import provider_subscription_calls
from adapters.providers.base import (
    ChargeRequest,
    CheckoutCancel,
    CheckoutMode,
    CheckoutRequest,
    CustomerRequest,
    LineItem,
    PaymentMethodRequest,
    PaymentMethodSync,
    PaymentProvider,
    RefundRequest,
)
from commands.provider_errors import ProviderUnsupported
from domain.provider_call_params import (
    CancelCheckoutParams,
    ChargeParams,
    CheckoutParams,
    CreateCustomerParams,
    CustomerParams,
    PaymentMethodParams,
    ProviderParams,
    RefundParams,
)
from domain.provider_calls import ProviderCall
from domain.provider_subscription_params import CreateSubscriptionParams


def call_provider(
    provider: PaymentProvider, call: ProviderCall, customer_ref: str | None = None
) -> dict[str, Any]:
    """Make one call; its answer as a plain dict, or a ProviderError raised.
    ``customer_ref`` is the provider customer a call that waited for one was given."""
    params = with_project(call.request_params, call.project_id)
    if customer_ref is None:
        return _make(provider, call.idempotency_key, params)
    assert isinstance(params, CustomerParams | CreateSubscriptionParams), call.operation
    made = _make(provider, call.idempotency_key, replace(params, customer_ref=customer_ref))
    return {**made, "customer_ref": customer_ref}


def with_project(params: ProviderParams, project_id: UUID) -> ProviderParams:
    """``params`` whose references name the call's project (``tally_project``), whatever
    the handler put there: every provider object Tally makes can be traced to its tenant
    from the provider's dashboard and webhooks. Added here rather than by each handler,
    so a call recorded before (a credit note's refund, an invoice's charge) has it too."""
    references = {**params.references, "tally_project": str(project_id)}
    return replace(params, references=references)


def _make(provider: PaymentProvider, key: str, params: ProviderParams) -> dict[str, Any]:
    """Ask ``provider`` what ``params`` say, under the call's idempotency ``key``."""
    if isinstance(params, CreateCustomerParams):
        made = provider.create_customer(
            CustomerRequest(
                idempotency_key=key,
                email=params.email or None,
                name=params.name or None,
                references=params.references,
            )
        )
        return {"customer_ref": made.customer_ref}
    if isinstance(params, CheckoutParams):
        session = provider.create_checkout_session(_checkout_request(key, params))
        return {"url": session.url, "session_ref": session.session_ref}
    if isinstance(params, ChargeParams):
        charged = provider.charge(
            ChargeRequest(
                # Set for every charge: a waiting one is given its customer's reference.
                customer_ref=str(params.customer_ref),
                payment_method_ref=params.payment_method_ref,
                amount_minor=params.amount_minor,
                currency=params.currency,
                idempotency_key=key,
                description=params.description,
                references=params.references,
            )
        )
        return {"payment_ref": charged.payment_ref, "status": charged.status}
    if isinstance(params, PaymentMethodParams):
        return _sync_method(provider, key, params)
    if isinstance(params, CancelCheckoutParams):
        if not isinstance(provider, CheckoutCancel):
            raise ProviderUnsupported(
                f"{provider.name} cannot cancel a checkout", provider=provider.name
            )
        provider.cancel_checkout(params.session_ref, key)
        return {"status": "canceled"}
    if not isinstance(params, RefundParams):
        return provider_subscription_calls.make(provider, key, params)
    refunded = provider.refund(
        RefundRequest(
            payment_ref=params.payment_ref,
            amount_minor=params.amount_minor,
            currency=params.currency,
            idempotency_key=key,
            reason=params.reason,
            references=params.references,
        )
    )
    return {"refund_ref": refunded.refund_ref, "status": refunded.status}


def _sync_method(
    provider: PaymentProvider, key: str, params: PaymentMethodParams
) -> dict[str, Any]:
    """Attach, detach or set the default at the provider. Commands ask only providers
    that can (``commands/payment_methods.py``); a project that moved to one that cannot
    gets a clear refusal on the call."""
    if not (
        isinstance(provider, PaymentMethodSync) and params.action in provider.payment_method_actions
    ):
        raise ProviderUnsupported(
            f"{provider.name} cannot {params.action} a saved payment method", provider=provider.name
        )
    provider.sync_payment_method(
        PaymentMethodRequest(
            action=params.action,
            payment_method_ref=params.payment_method_ref,
            idempotency_key=key,
            customer_ref=params.customer_ref,
        )
    )
    return {"action": params.action, "payment_method_ref": params.payment_method_ref}


def _checkout_request(key: str, params: CheckoutParams) -> CheckoutRequest:
    return CheckoutRequest(
        mode=CheckoutMode(params.mode),
        lines=tuple(
            LineItem(line.name, line.unit_amount, line.currency, line.quantity)
            for line in params.lines
        ),
        success_url=params.success_url,
        cancel_url=params.cancel_url,
        idempotency_key=key,
        customer_ref=params.customer_ref,
        references=params.references,
        trial_days=params.trial_days or 0,
    )
