"""Handlers for prepaid credits (issue 13): grant, consume, void, thresholds, expiry.

Each loads the customer's ``CreditBalance`` for the currency (opening it on the first
grant), takes the time from the customer's clock (its test clock, if it has one) and
lets the aggregate decide: every guard runs before any event, and the bus decides a
refusal again on fresh state, so concurrent consumers of one customer never overspend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.credit_messages import (
    ConsumeCredits,
    ExpireCredits,
    GrantCredits,
    SetCreditThreshold,
    VoidCreditGrant,
)
from commands.credit_top_ups import request_top_ups
from commands.invoice_charges import reporting_calls
from commands.messages import Command
from commands.now import now_for
from domain.accounts import Account
from domain.catalog import Price
from domain.copies import plain_copy
from domain.credit_balance import CreditBalance, credits_ref
from domain.credit_invoicing import apply_credits
from domain.customers import Customer
from domain.errors import CurrencyMismatch, InsufficientCredits, InvalidCombination, NotFound
from domain.ids import uuid5
from domain.invoices import Invoice
from domain.money import Money
from domain.transactions import Transaction


def _new_id(ctx: Context, purpose: str) -> str:
    """A grant's or consumption's id derives from the idempotency key when there is one,
    so a retried command can never spend or grant twice."""
    if ctx.idempotency_key is None:
        return f"{purpose}_{uuid4().hex}"
    return f"{purpose}_{uuid5(ctx.project_id, f'{purpose}:{ctx.idempotency_key}').hex}"


def grant_id_for(balance_id: UUID, ctx: Context) -> str:
    """``cg_<balance id>_<16 hex>``: a grant's id names the balance that holds it, so a
    void finds it by its id alone (the balance is then loaded in the caller's project,
    like any id from outside)."""
    return f"cg_{balance_id.hex}_{_new_id(ctx, 'g')[2:18]}"


def balance_of_grant(grant_id: str) -> UUID:
    """The balance a grant id names; ``not_found`` for an id that names none."""
    parts = grant_id.split("_")
    try:
        if len(parts) != 3 or parts[0] != "cg":
            raise ValueError(grant_id)
        return UUID(hex=parts[1])
    except ValueError:
        raise NotFound(f"credit grant {grant_id} not found", id=grant_id) from None


def balance_for(
    uow: UnitOfWork, ctx: Context, customer: Customer, currency: str | None, *, open_: bool
) -> CreditBalance | None:
    code = currency or customer.currency
    found = uow.find(CreditBalance, CreditBalance.create_id(customer.id, code))
    if found is not None and found.project_id != ctx.project_id:
        raise NotFound(f"customer {customer.id} not found", id=str(customer.id))
    if found is None and open_:
        found = CreditBalance.open(ctx.project_id, customer.id, code)
    return found


def balance_body(balance: CreditBalance) -> dict[str, Any]:
    return {**balance.summary(), "object": "credit_balance", "created": created(balance)}


def grant_body(balance: CreditBalance, grant: dict[str, Any]) -> dict[str, Any]:
    return {
        **plain_copy(grant),
        "object": "credit_grant",
        "created": grant["granted_at"],
        "customer_id": str(balance.customer_id),
        "currency": balance.currency,
    }


def check_prices(uow: UnitOfWork, ctx: Context, prices: list[UUID], currency: str) -> None:
    for price_id in prices:
        price = uow.get(Price, price_id, ctx.project_id)
        if not price.metered:
            raise InvalidCombination(f"price {price_id} is not metered", price_id=str(price_id))
        if price.currency != currency:
            raise CurrencyMismatch(f"price {price_id} is in {price.currency}, not {currency}")


def _wallet(
    uow: UnitOfWork, ctx: Context, cmd: GrantCredits, customer: Customer, currency: str
) -> Account | None:
    """The customer's wallet that funds a paid grant, checked for the withdrawal."""
    if cmd.wallet_account_id is None:
        return None
    if cmd.kind != "paid":
        raise InvalidCombination("only a paid grant is funded by a wallet")
    account = uow.get(Account, cmd.wallet_account_id, ctx.project_id)
    if account.owner_ref != str(customer.id):
        raise InvalidCombination(
            f"account {account.id} is not the customer's wallet (its owner_ref must be "
            "the customer's id)"
        )
    account.check_can_debit(Money(cmd.amount, currency))
    return account


def _withdraw(
    uow: UnitOfWork, ctx: Context, account: Account, balance: CreditBalance, grant_id: str
) -> None:
    """The wallet withdrawal that funds ``grant_id``: wallet -> credits:<customer>."""
    amount = Money(int(balance.grants[grant_id]["amount"]), balance.currency)
    txn = Transaction.begin(
        id=uuid5(ctx.project_id, f"credit_grant:{grant_id}"),
        project_id=ctx.project_id,
        kind="withdrawal",
        amount=amount,
        from_ref=account.ref,
        to_ref=credits_ref(balance.customer_id),
        complete_now=True,
        description="prepaid credits",
        external_ref=grant_id,
    )
    account.withdraw(amount, txn.id)
    uow.add(txn)


def grant_credits(uow: UnitOfWork, cmd: GrantCredits, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    balance = balance_for(uow, ctx, customer, cmd.currency, open_=True)
    assert balance is not None
    if cmd.prices is not None:
        check_prices(uow, ctx, cmd.prices, balance.currency)
    wallet = _wallet(uow, ctx, cmd, customer, balance.currency)
    grant = balance.grant(
        grant_id=grant_id_for(balance.id, ctx),
        kind=cmd.kind,
        amount=cmd.amount,
        now=now_for(uow, ctx, customer.test_clock_id),
        priority=cmd.priority,
        expires_at=cmd.expires_at,
        prices=None if cmd.prices is None else [str(p) for p in cmd.prices],
        source=cmd.source if wallet is None else wallet.ref,
        description=cmd.description,
        posted=wallet is not None,  # the withdrawal posts wallet -> credits
    )
    if wallet is not None:
        _withdraw(uow, ctx, wallet, balance, str(grant["id"]))
    uow.add(balance)
    return Result.created(
        {"credit_grant": grant_body(balance, grant), "balance": balance_body(balance)}
    )


def consume_credits(uow: UnitOfWork, cmd: ConsumeCredits, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    balance = balance_for(uow, ctx, customer, cmd.currency, open_=False)
    now = now_for(uow, ctx, customer.test_clock_id)
    price_id = None if cmd.price_id is None else str(cmd.price_id)
    if cmd.price_id is not None:
        uow.get(Price, cmd.price_id, ctx.project_id)  # the caller's own price, or 404
    if balance is None:  # never granted anything: nothing to spend
        raise InsufficientCredits(
            f"the customer's credits (0) cannot cover {cmd.amount}",
            available=0,
            amount=cmd.amount,
            currency=cmd.currency or customer.currency,
        )
    consumption_id = _new_id(ctx, "cc")
    before = len(balance.top_ups)
    taken = balance.consume(
        consumption_id, cmd.amount, now, price_id=price_id, description=cmd.description
    )
    request_top_ups(uow, ctx, balance, customer, before)
    return Result.created(
        {
            "consumption": {
                "id": consumption_id,
                "object": "credit_consumption",
                "customer_id": str(customer.id),
                "currency": balance.currency,
                "amount": cmd.amount,
                "price_id": price_id,
                "description": cmd.description,
                "grants": [{"grant_id": g, "amount": a} for g, a in taken],
                "consumed_at": now.isoformat(),
                "created": now.isoformat(),
            },
            "balance": balance_body(balance),
        }
    )


def _was_retired(uow: UnitOfWork, balance: CreditBalance, grant_id: str) -> bool:
    """Whether the balance retired ``grant_id``: its ``Retired`` events name it (read only
    for an id it does not keep, and only if it retired any)."""
    if not balance.retired["count"]:
        return False
    retired = uow.recorded(balance.id, "tally:CreditBalance.Retired")
    return any(g["id"] == grant_id for e in retired for g in e.grants)


def void_credit_grant(uow: UnitOfWork, cmd: VoidCreditGrant, ctx: Context) -> Result:
    balance = uow.find(CreditBalance, balance_of_grant(cmd.grant_id))
    if balance is None or balance.project_id != ctx.project_id:
        raise NotFound(f"credit grant {cmd.grant_id} not found", id=cmd.grant_id)
    if cmd.grant_id not in balance.grants and not _was_retired(uow, balance, cmd.grant_id):
        # An id the balance never had is not found, whatever it retired (those are 409).
        raise NotFound(f"credit grant {cmd.grant_id} not found", id=cmd.grant_id)
    # The grant as the void leaves it: the void retires it (it holds nothing), so it
    # is no longer in ``balance.grants`` afterwards; its events update this dict.
    grant = balance.grant_of(cmd.grant_id)
    customer = uow.get(Customer, balance.customer_id, ctx.project_id)
    before = len(balance.top_ups)
    balance.void(cmd.grant_id, now_for(uow, ctx, customer.test_clock_id))
    request_top_ups(uow, ctx, balance, customer, before)
    return Result.changed(
        {"credit_grant": grant_body(balance, grant), "balance": balance_body(balance)}
    )


def set_credit_threshold(uow: UnitOfWork, cmd: SetCreditThreshold, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    balance = balance_for(uow, ctx, customer, cmd.currency, open_=True)
    assert balance is not None
    if cmd.top_up_amount is not None and cmd.low_threshold is None:
        raise InvalidCombination("an automatic top-up needs a low_threshold to fire at")
    before = len(balance.top_ups)
    balance.set_threshold(cmd.low_threshold, cmd.top_up_amount)
    uow.add(balance)
    request_top_ups(uow, ctx, balance, customer, before)
    return Result.changed({"balance": balance_body(balance)})


def credit_invoice(uow: UnitOfWork, ctx: Context, invoice: Invoice, at: datetime) -> int:
    """Apply the customer's prepaid credits to the draft ``invoice``'s usage at ``at``
    (``domain.credit_invoicing``), and ask for the top-ups that crossed a threshold."""
    balance = uow.find(
        CreditBalance, CreditBalance.create_id(invoice.customer_id, invoice.currency)
    )
    if balance is None or balance.project_id != ctx.project_id:
        return 0
    before = len(balance.top_ups)
    applied = apply_credits(invoice, balance, at)
    customer = uow.get(Customer, invoice.customer_id, ctx.project_id)
    request_top_ups(uow, ctx, balance, customer, before)
    return applied


def expire_at(uow: UnitOfWork, ctx: Context, customer: Customer, at: datetime) -> int:
    """Record the breakage of the customer's credits in its currency expired by ``at``:
    a test clock's advance calls it for the customers of its subscriptions, so breakage
    is booked as the clock passes it."""
    balance = uow.find(CreditBalance, CreditBalance.create_id(customer.id, customer.currency))
    if balance is None or balance.project_id != ctx.project_id:
        return 0
    before = len(balance.top_ups)
    expired = balance.expire_due(at)
    request_top_ups(uow, ctx, balance, customer, before)
    return expired


def expire_credits(uow: UnitOfWork, cmd: ExpireCredits, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    balance = balance_for(uow, ctx, customer, cmd.currency, open_=False)
    if balance is None:
        return Result.unchanged({"expired": 0})
    before = len(balance.top_ups)
    expired = balance.expire_due(now_for(uow, ctx, customer.test_clock_id))
    request_top_ups(uow, ctx, balance, customer, before)
    return Result.changed({"expired": expired, "balance": balance_body(balance)})


# The commands that can cross a threshold answer the top-up charges they asked for
# (``provider_calls``), which their routes make at once (``api/calls.py``).
HANDLERS: dict[type[Command], Handler] = {
    GrantCredits: grant_credits,
    ConsumeCredits: reporting_calls(consume_credits),
    VoidCreditGrant: reporting_calls(void_credit_grant),
    SetCreditThreshold: reporting_calls(set_credit_threshold),
    ExpireCredits: reporting_calls(expire_credits),
}
