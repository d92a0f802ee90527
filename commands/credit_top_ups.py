"""Automatic top-ups of prepaid credits (issue 13): a charge of the customer's saved
payment method when its credits cross their low threshold, and paid credits granted
when the charge succeeds.

The ``CreditBalance`` records ``TopUpRequested`` with the crossing's number
(``domain/credit_balance.py``); in the same command, ``request_top_ups`` records a
pending ledger ``Transaction`` (``clearing:<provider>`` -> ``credits:<customer>``) and a
``ProviderCall`` charging the customer's default payment method at the project's
``auto_charge_provider``. Both ids derive from the balance and the crossing
(``credit_top_up:<balance id>:<n>``), so the outbox's idempotency key is the
crossing's: however often the command or the outbox runs, the crossing is charged once.
When the charge succeeds (the outbox's answer or the provider's webhook, whichever
comes first: ``commands/webhook_effects.complete_transaction``), the transaction
completes and posts the money's entry, and ``grant_top_up`` grants the amount as paid
credits (the grant posts nothing more). A declined charge fails the transaction,
grants nothing and records ``TopUpFailed`` with the decline's code
(``top_up_declined``, from the outbox's answer or the provider's webhook), which re-arms
the low watch. Without a provider or a payment method, or when the balance could not
record the grant (``limit_reached``: ``CreditWatch.top_up_refusal``), the balance
records ``TopUpFailed`` at once and nothing is charged.
"""

from __future__ import annotations

from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.invoice_charges import payment_method
from commands.invoice_common import settings_values
from commands.now import now_for
from commands.provider_customers import named_customer
from domain.accounts import clearing_ref
from domain.credit_balance import CreditBalance, credits_ref
from domain.credit_watch import top_up_grant_id
from domain.customers import Customer
from domain.ids import uuid5
from domain.money import Money
from domain.provider_call_params import ChargeParams
from domain.provider_calls import ProviderCall
from domain.transactions import Transaction

PREFIX = "credit_top_up"


def subject_of(balance: CreditBalance, crossing: int) -> str:
    return f"{PREFIX}:{balance.id}:{crossing}"


def request_top_ups(
    uow: UnitOfWork, ctx: Context, balance: CreditBalance, customer: Customer, before: int
) -> None:
    """Ask for the charges of the top-ups the current command recorded (those past the
    first ``before`` of ``balance.top_ups``)."""
    for top_up in list(balance.top_ups[before:]):
        _request(uow, ctx, balance, customer, int(top_up["crossing"]), int(top_up["amount"]))


def _request(
    uow: UnitOfWork,
    ctx: Context,
    balance: CreditBalance,
    customer: Customer,
    crossing: int,
    amount: int,
) -> None:
    assert ctx.now is not None
    provider = str(settings_values(uow, ctx)["auto_charge_provider"] or "")
    method = payment_method(uow, ctx, customer, provider) if provider else None
    refused = balance.top_up_refusal(amount, ctx.now)
    if method is None or refused is not None:
        reason = refused or ("no_payment_method" if provider else "no_auto_charge_provider")
        balance.top_up_failed(crossing, reason)
        return
    subject = subject_of(balance, crossing)
    txn = Transaction.begin(
        id=uuid5(ctx.project_id, subject),
        project_id=ctx.project_id,
        kind="deposit",
        amount=Money(amount, balance.currency),
        from_ref=clearing_ref(provider),
        to_ref=credits_ref(customer.id),
        complete_now=False,
        description="automatic credit top-up",
        external_ref=subject,
    )
    uow.add(txn)
    named = named_customer(uow, ctx, customer, provider)
    params = ChargeParams(
        customer_ref=named.customer_ref or str(customer.id),
        customer_call=named.customer_call,
        customer_id=str(customer.id),
        payment_method_ref=method,
        amount_minor=amount,
        currency=balance.currency,
        description="automatic credit top-up",
        references={
            "tally_customer": str(customer.id),
            "tally_credit_top_up": subject,
            # What a dashboard refund of this charge names (commands/webhook_refunds.py).
            "tally_transaction": str(txn.id),
        },
        transaction_id=str(txn.id),
    )
    call = ProviderCall.request(
        project_id=ctx.project_id, provider=provider, subject=subject, params=params, now=ctx.now
    )
    uow.add(call)


def grant_top_up(uow: UnitOfWork, ctx: Context, txn: Transaction) -> None:
    """The paid credits of a top-up whose charge succeeded (its transaction completed)."""
    prefix, balance_id, crossing = txn.external_ref.split(":")
    assert prefix == PREFIX, txn.external_ref
    balance = uow.get(CreditBalance, UUID(balance_id), ctx.project_id)
    customer = uow.get(Customer, balance.customer_id, ctx.project_id)
    balance.grant(
        grant_id=top_up_grant_id(balance.id, int(crossing)),
        kind="paid",
        amount=txn.amount,
        now=now_for(uow, ctx, customer.test_clock_id),
        source=txn.from_ref.removeprefix("clearing:"),
        description="automatic top-up",
        posted=True,
        top_up=int(crossing),
    )


def top_up_declined(uow: UnitOfWork, ctx: Context, txn: Transaction, code: str) -> None:
    """The balance's record of a top-up whose charge failed (its transaction just
    failed): ``TopUpFailed`` with ``code``, which re-arms the low watch. Nothing for a
    transaction that is not a top-up's."""
    prefix, _, rest = txn.external_ref.partition(":")
    if prefix != PREFIX or not txn.to_ref.startswith("credits:"):
        return
    balance_id, crossing = rest.split(":")
    balance = uow.get(CreditBalance, UUID(balance_id), ctx.project_id)
    balance.top_up_failed(int(crossing), code or "declined")
