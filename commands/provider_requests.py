"""What every payment through a provider records (``commands/checkout.py``,
``commands/wallet_payments.py``): the ``ProviderCall`` the outbox worker makes after the
commit, checked against the provider's limits first, and a hosted checkout's parameters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from commands import provider_customers
from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.now import context_now
from domain import provider_limits
from domain.errors import ValidationFailed
from domain.provider_call_params import ChargeParams, CheckoutLine, CheckoutParams, RefundParams
from domain.provider_calls import ProviderCall


def request_call(
    uow: UnitOfWork,
    ctx: Context,
    *,
    provider: str,
    subject: str,
    params: CheckoutParams | ChargeParams | RefundParams,
) -> ProviderCall:
    """Record the call; the provider is told the project too (``tally_project``). A
    call the provider would refuse for its texts or currency (Paddle's limits) is
    refused here, before anything is recorded."""
    provider_limits.check_call(provider, params)
    references = {"tally_project": str(ctx.project_id), **params.references}
    call = ProviderCall.request(
        project_id=ctx.project_id,
        provider=provider,
        subject=subject,
        params=replace(params, references=references),
        now=context_now(ctx),
    )
    if uow.find(ProviderCall, call.id) is not None:
        raise ValidationFailed(f"a {call.operation} for {subject} was asked for already")
    uow.add(call)
    return call


def checkout_params(  # the page's lines, for whom, and what it pays
    cmd: Any,
    mode: str,
    lines: list[dict[str, Any]],
    customer: provider_customers.NamedCustomer,
    references: dict[str, str],
    transaction_id: str | None,
    trial_days: int | None = None,
) -> CheckoutParams:
    return CheckoutParams(
        mode=mode,
        # The lines built here have the stored lines' shape.
        lines=tuple(CheckoutLine.from_params(line) for line in lines),
        success_url=cmd.success_url,
        cancel_url=cmd.cancel_url,
        customer_ref=customer.customer_ref,
        customer_id=customer.customer_id,
        customer_call=customer.customer_call,
        references=references,
        transaction_id=transaction_id,
        trial_days=trial_days,
    )
