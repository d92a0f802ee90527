"""Wallet top-ups and refunds through a provider: a top-up records a pending deposit
and asks for a hosted checkout (or, with a saved payment method, an off-session charge);
a refund asks the provider that took a payment to give it back. The provider's
confirmation comes back on its webhooks (``commands/webhook_effects.py``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands import ledger, provider_customers
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.ledger import _new_id
from commands.provider_requests import checkout_params, request_call
from domain.accounts import Account
from domain.customers import Customer
from domain.errors import NotRefundable
from domain.provider_call_params import ChargeParams, CheckoutParams, RefundParams
from domain.provider_calls import ProviderCall
from domain.transactions import Transaction


def _owner(uow: UnitOfWork, ctx: Context, account_id: UUID) -> Customer | None:
    """The customer who owns a wallet, when its owner_ref is a customer id."""
    account = uow.get(Account, account_id, ctx.project_id)
    try:
        owner_id = UUID(account.owner_ref)
    except ValueError:
        return None
    customer = uow.find(Customer, owner_id)
    return customer if customer is not None and customer.project_id == ctx.project_id else None


def top_up(uow: UnitOfWork, cmd: pm.TopUpAccount, ctx: Context) -> Result:
    deposit = m.Deposit(
        account_id=cmd.account_id,
        amount=cmd.amount,
        currency=cmd.currency,
        source=cmd.provider,
        pending=True,
        description=cmd.description or f"top-up through {cmd.provider}",
    )
    body = ledger.deposit(uow, deposit, ctx).body
    txn_id = body["transaction"]["id"]
    refs = {"tally_transaction": txn_id, "tally_account": str(cmd.account_id)}
    # A customer's wallet: the provider knows them, and a card saved on the hosted page
    # becomes one of their payment methods.
    customer = _owner(uow, ctx, cmd.account_id)
    if customer is not None:
        refs["tally_customer"] = str(customer.id)
    line = {
        "name": "Wallet top-up",
        "unit_amount": cmd.amount,
        "currency": cmd.currency,
        "quantity": 1,
    }
    named = provider_customers.named_customer(uow, ctx, customer, cmd.provider)
    params: CheckoutParams | ChargeParams
    if cmd.payment_method is None:
        params = checkout_params(cmd, "item", [line], named, refs, txn_id)
    else:
        if named.customer_ref is None and named.customer_call is None:
            # A wallet of no customer, or of one the provider keeps no customer for (a
            # Paddle customer without email: Paddle charges a subscription, not a
            # customer): the wallet's id stands in, as before customers were created.
            named = provider_customers.NamedCustomer(customer_ref=str(cmd.account_id))
        params = ChargeParams(
            customer_ref=named.customer_ref,
            # The Tally customer, even when the provider's already exists: the payment
            # object and billing.payment.* name the customer from it.
            customer_id=None if customer is None else str(customer.id),
            customer_call=named.customer_call,
            payment_method_ref=cmd.payment_method,
            amount_minor=cmd.amount,
            currency=cmd.currency,
            description=deposit.description,
            references=refs,
            transaction_id=txn_id,
        )
    call = request_call(uow, ctx, provider=cmd.provider, subject=txn_id, params=params)
    return Result.created({**body, "provider_call": call.summary()})


def refund(uow: UnitOfWork, cmd: pm.RefundTransaction, ctx: Context) -> Result:
    txn = uow.get(Transaction, cmd.transaction_id, ctx.project_id)
    amount = cmd.amount if cmd.amount is not None else txn.reversible_amount
    txn.check_reversal(amount)
    paid = _paid_by(uow, ctx, txn)
    if paid is None or not paid.payment_ref:
        raise NotRefundable(
            f"transaction {txn.id} was not paid through a provider (or its payment is not "
            "confirmed yet); reverse it instead"
        )
    refund_id = _new_id(ctx, "refund")
    call_id = ProviderCall.create_id(ctx.project_id, "refund", f"{txn.id}:{refund_id}")
    call = request_call(
        uow,
        ctx,
        provider=paid.provider,
        subject=f"{txn.id}:{refund_id}",
        params=RefundParams(
            payment_ref=paid.payment_ref,
            amount_minor=amount,
            currency=txn.currency,
            reason=cmd.reason,
            transaction_id=str(txn.id),
            references={"tally_transaction": str(txn.id), "tally_refund_call": str(call_id)},
        ),
    )
    return Result.accepted({"transaction": txn.summary(), "provider_call": call.summary()})


def _paid_by(uow: UnitOfWork, ctx: Context, txn: Transaction) -> ProviderCall | None:
    for operation in ("checkout", "charge"):
        call = uow.find(
            ProviderCall, ProviderCall.create_id(ctx.project_id, operation, str(txn.id))
        )
        if call is not None:
            return call
    return None


HANDLERS: dict[type[Any], Handler] = {
    pm.TopUpAccount: top_up,
    pm.RefundTransaction: refund,
}
