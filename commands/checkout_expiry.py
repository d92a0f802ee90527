"""Hosted checkouts nobody finished, ended by Tally where the provider never ends them.

Stripe expires a Checkout Session (``checkout.session.expired``) and the stub's page
expires too, so their checkouts always end. Paddle keeps a checkout's transaction
``ready`` for as long as nobody cancels it, and a declined card leaves the sale or
top-up processing (the page stays open for another card: ``webhook_effects``
``RETRY_ON_PAGE``); a customer who then walks away left it processing for ever.

``ExpireCheckout`` (sent by the sweeper, ``api/checkout_sweep.py``) asks the provider to
cancel such a checkout once ``CHECKOUT_EXPIRY`` has passed since it was made: a
``cancel_checkout`` provider call, one per checkout. Only its success fails the Tally
transaction (``commands/provider_calls.py``; Paddle's ``transaction.canceled`` does the
same, whichever comes first). Failing it without cancelling would lose a payment made on
the page afterwards; a checkout Paddle refuses to cancel was paid, and its payment's
event completes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.messages import Command
from domain.provider_call_params import CancelCheckoutParams
from domain.provider_calls import SUCCEEDED, ProviderCall
from domain.transactions import PROCESSING, Transaction

# As long as Stripe keeps a Checkout Session open by default.
CHECKOUT_EXPIRY = timedelta(hours=24)
# The providers whose checkouts Tally ends itself.
ENDED_BY_TALLY = ("paddle",)


class ExpireCheckout(Command):
    transaction_id: UUID


def expire_checkout(uow: UnitOfWork, cmd: ExpireCheckout, ctx: Context) -> Result:
    """Ask the provider to cancel the transaction's checkout, if it is still processing,
    was made at a provider in ``ENDED_BY_TALLY`` and is older than ``CHECKOUT_EXPIRY``.
    Decided on fresh state; asking twice asks once (the call's id is the checkout's)."""
    assert ctx.now is not None
    txn = uow.get(Transaction, cmd.transaction_id, ctx.project_id)
    body: dict[str, Any] = {"transaction": txn.summary()}
    checkout = _expired_checkout(uow, ctx, txn)
    if checkout is None:
        return Result.unchanged(body)
    params = CancelCheckoutParams(
        session_ref=str(checkout.result["session_ref"]),
        transaction_id=str(txn.id),
        references={"tally_transaction": str(txn.id)},
    )
    call = ProviderCall.request(
        project_id=ctx.project_id,
        provider=checkout.provider,
        subject=str(txn.id),
        params=params,
        now=ctx.now,
    )
    uow.add(call)
    return Result.changed({**body, "provider_call": call.summary()})


def _expired_checkout(uow: UnitOfWork, ctx: Context, txn: Transaction) -> ProviderCall | None:
    """The checkout call of ``txn`` if Tally is to end it now (not asked for yet)."""
    assert ctx.now is not None
    subject = str(txn.id)
    if txn.state != PROCESSING:
        return None
    if uow.find(ProviderCall, ProviderCall.create_id(ctx.project_id, "cancel_checkout", subject)):
        return None  # asked already
    checkout = uow.find(ProviderCall, ProviderCall.create_id(ctx.project_id, "checkout", subject))
    if checkout is None or checkout.provider not in ENDED_BY_TALLY:
        return None  # not a hosted checkout, or one its provider ends
    made = checkout.state == SUCCEEDED and bool(checkout.result.get("session_ref"))
    return checkout if made and ctx.now >= checkout.created_on + CHECKOUT_EXPIRY else None


HANDLERS: dict[type[Any], Handler] = {ExpireCheckout: expire_checkout}
