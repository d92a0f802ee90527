"""Handlers for the ledger commands: load, call, save (the bus saves).

Every handler checks all its guards before it changes any aggregate, so a refused
command leaves the shared unit of work exactly as it found it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.credit_refunds import funding_refund
from domain.accounts import Account, clearing_ref, wallet_ref
from domain.errors import (
    AlreadyExists,
    InvalidAmount,
    InvalidCombination,
    InvalidTransition,
)
from domain.ids import uuid5
from domain.money import Money
from domain.transactions import Transaction


def _new_id(ctx: Context, purpose: str) -> UUID:
    """Ids of things a command creates derive from its idempotency key when it has one,
    so that a retried command can never create a second transaction or hold."""
    if ctx.idempotency_key is None:
        return uuid4()
    return uuid5(ctx.project_id, f"{purpose}:{ctx.idempotency_key}")


def _wallet_id(ref: str) -> UUID | None:
    return UUID(ref.removeprefix("wallet:")) if ref.startswith("wallet:") else None


def open_account(uow: UnitOfWork, cmd: m.OpenAccount, ctx: Context) -> Result:
    account_id = Account.create_id(ctx.project_id, cmd.owner_ref, cmd.currency)
    if uow.find(Account, account_id) is not None:
        raise AlreadyExists(
            f"an account for owner '{cmd.owner_ref}' in {cmd.currency} already exists",
            account_id=str(account_id),
        )
    account = Account.open(
        ctx.project_id,
        cmd.owner_ref,
        cmd.currency,
        cmd.overdraft_limit,
        dict(cmd.metadata),
        cmd.low_balance_threshold,
    )
    uow.add(account)
    return Result.created({"account": {**account.summary(), "created": created(account)}})


def deposit(uow: UnitOfWork, cmd: m.Deposit, ctx: Context) -> Result:
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    amount = Money(cmd.amount, cmd.currency)
    account.check_can_credit(amount)
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="deposit",
        amount=amount,
        from_ref=clearing_ref(cmd.source),
        to_ref=account.ref,
        complete_now=not cmd.pending,
        description=cmd.description,
        external_ref=cmd.external_ref,
    )
    if not cmd.pending:
        account.deposit(amount, txn.id)
    uow.add(txn)
    return Result.created({"transaction": txn.summary(), "account": account.summary()})


def withdraw(uow: UnitOfWork, cmd: m.Withdraw, ctx: Context) -> Result:
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    amount = Money(cmd.amount, cmd.currency)
    account.check_can_debit(amount)
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="withdrawal",
        amount=amount,
        from_ref=account.ref,
        to_ref=clearing_ref(cmd.destination),
        complete_now=True,
        description=cmd.description,
        external_ref=cmd.external_ref,
    )
    account.withdraw(amount, txn.id)
    uow.add(txn)
    return Result.created({"transaction": txn.summary(), "account": account.summary()})


def transfer(uow: UnitOfWork, cmd: m.Transfer, ctx: Context) -> Result:
    if cmd.from_account_id == cmd.to_account_id:
        raise InvalidCombination("cannot transfer from an account to itself")
    source = uow.get(Account, cmd.from_account_id, ctx.project_id)
    target = uow.get(Account, cmd.to_account_id, ctx.project_id)
    amount = Money(cmd.amount, cmd.currency)
    source.check_can_debit(amount)
    target.check_can_credit(amount)
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="transfer",
        amount=amount,
        from_ref=source.ref,
        to_ref=target.ref,
        complete_now=True,
        description=cmd.description,
    )
    source.transfer_out(amount, txn.id)
    target.transfer_in(amount, txn.id)
    uow.add(txn)
    return Result.created(
        {
            "transaction": txn.summary(),
            "from_account": source.summary(),
            "to_account": target.summary(),
        }
    )


def place_hold(uow: UnitOfWork, cmd: m.PlaceHold, ctx: Context) -> Result:
    assert ctx.now is not None
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    if cmd.expires_at.tzinfo is None:
        raise InvalidAmount("expires_at must include a timezone")
    amount = Money(cmd.amount, cmd.currency)
    destination = clearing_ref(cmd.destination)
    if cmd.destination_account_id is not None:
        if cmd.destination_account_id == cmd.account_id:
            raise InvalidCombination("a hold cannot pay into the account it holds money in")
        target = uow.get(Account, cmd.destination_account_id, ctx.project_id)
        target.check_can_credit(amount)
        destination = target.ref
    hold_id = str(_new_id(ctx, "hold"))
    account.place_hold(hold_id, amount, cmd.expires_at, destination, ctx.now)
    # The hold's placement is the account's newest event: its time is the hold's created.
    placed = {**_hold(account, hold_id), "created": account.modified_on.isoformat()}
    return Result.created({"hold": placed, "account": account.summary()})


def capture_hold(uow: UnitOfWork, cmd: m.CaptureHold, ctx: Context) -> Result:
    assert ctx.now is not None
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    hold = account.get_hold(cmd.hold_id)
    target_id = _wallet_id(hold.destination)
    target = uow.get(Account, target_id, ctx.project_id) if target_id else None
    # The hold is in the account's currency; a target in another one is refused.
    amount = account.money(cmd.amount if cmd.amount is not None else hold.amount)
    if target is not None:
        target.check_can_credit(amount)
    # capture_hold checks the hold (active, not expired, amount within it) before it
    # records anything, so the target is only credited after it has succeeded.
    txn_id = _new_id(ctx, "transaction")
    captured = account.capture_hold(cmd.hold_id, cmd.amount, txn_id, ctx.now)
    txn = Transaction.begin(
        id=txn_id,
        project_id=ctx.project_id,
        kind="capture",
        amount=captured,
        from_ref=account.ref,
        to_ref=hold.destination,
        complete_now=True,
        description=f"capture of hold {cmd.hold_id}",
    )
    if target is not None:
        target.transfer_in(captured, txn.id)
    uow.add(txn)
    return Result.created(
        {
            "hold": _hold(account, cmd.hold_id),
            "transaction": txn.summary(),
            "account": account.summary(),
        }
    )


def void_hold(uow: UnitOfWork, cmd: m.VoidHold, ctx: Context) -> Result:
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    account.void_hold(cmd.hold_id)
    return Result.changed({"hold": _hold(account, cmd.hold_id), "account": account.summary()})


def expire_holds(uow: UnitOfWork, cmd: m.ExpireHolds, ctx: Context) -> Result:
    assert ctx.now is not None
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    expired = [h for h in account.expired_holds(ctx.now) if account.expire_hold(h, ctx.now)]
    return Result.changed({"expired": expired, "account": account.summary()})


def _hold(account: Account, hold_id: str) -> dict[str, Any]:
    hold = account.get_hold(hold_id)
    return {
        "id": hold_id,
        "account_id": str(account.id),
        "amount": hold.amount,
        "currency": account.currency,
        "status": hold.status,
        "captured_amount": hold.captured,
        "destination": hold.destination,
        "expires_at": hold.expires_at.isoformat(),
    }


def confirm_transaction(uow: UnitOfWork, cmd: m.ConfirmTransaction, ctx: Context) -> Result:
    txn = uow.get(Transaction, cmd.transaction_id, ctx.project_id)
    account_id = _wallet_id(txn.to_ref)
    if txn.kind != "deposit" or account_id is None:
        raise InvalidTransition(f"only pending deposits are confirmed; this is a {txn.kind}")
    account = uow.get(Account, account_id, ctx.project_id)
    # Both guards before either change: the account's, then the transition's.
    account.check_can_receive_confirmed()
    amount = txn.money(txn.amount)
    account.check_room(amount)
    txn.complete()
    account.credit_confirmed_deposit(amount, txn.id)
    return Result.changed({"transaction": txn.summary(), "account": account.summary()})


def fail_transaction(uow: UnitOfWork, cmd: m.FailTransaction, ctx: Context) -> Result:
    txn = uow.get(Transaction, cmd.transaction_id, ctx.project_id)
    txn.fail(cmd.reason)
    return Result.changed({"transaction": txn.summary()})


def reverse_transaction(
    uow: UnitOfWork, cmd: m.ReverseTransaction, ctx: Context, *, reported: bool = False
) -> Result:
    """Reverse ``cmd.amount`` of a transaction. ``reported``: the provider already gave
    the money back (its webhook, the outbox's answer to a refund call), so the credits
    it bought are taken back without the ``credits_already_spent`` guard; a client's
    reversal (route, CLI) keeps it."""
    txn = uow.get(Transaction, cmd.transaction_id, ctx.project_id)
    amount = cmd.amount if cmd.amount is not None else txn.reversible_amount
    txn.check_reversal(amount)
    money = txn.money(amount)
    # The account that received the money gives it back, so it needs the funds.
    loser_id, gainer_id = _wallet_id(txn.to_ref), _wallet_id(txn.from_ref)
    loser = uow.get(Account, loser_id, ctx.project_id) if loser_id else None
    gainer = uow.get(Account, gainer_id, ctx.project_id) if gainer_id else None
    if loser is not None:
        loser.check_can_move()
        loser.check_funds(money)
    if gainer is not None:
        gainer.check_can_move()
        gainer.check_room(money)
    # A transaction that bought credits gives back what they still hold, or is refused.
    take_back = funding_refund(uow, ctx, txn, amount, reported=reported)
    txn.reverse(amount, cmd.reason)
    if take_back is not None:
        take_back()
    if loser is not None:
        loser.post_reversal(-money, txn.id)
    if gainer is not None:
        gainer.post_reversal(money, txn.id)
    body: dict[str, Any] = {"transaction": txn.summary()}
    body["accounts"] = [a.summary() for a in (loser, gainer) if a is not None]
    return Result.changed(body)


def freeze_account(uow: UnitOfWork, cmd: m.FreezeAccount, ctx: Context) -> Result:
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    account.freeze(cmd.reason)
    return Result.changed({"account": account.summary()})


def set_low_balance_threshold(
    uow: UnitOfWork, cmd: m.SetLowBalanceThreshold, ctx: Context
) -> Result:
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    if account.set_low_balance_threshold(cmd.low_balance_threshold):
        return Result.changed({"account": account.summary()})
    return Result.unchanged({"account": account.summary()})


def unfreeze_account(uow: UnitOfWork, cmd: m.UnfreezeAccount, ctx: Context) -> Result:
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    account.unfreeze()
    return Result.changed({"account": account.summary()})


def close_account(uow: UnitOfWork, cmd: m.CloseAccount, ctx: Context) -> Result:
    account = uow.get(Account, cmd.account_id, ctx.project_id)
    account.close()
    return Result.changed({"account": account.summary()})


HANDLERS: dict[type[m.Command], Handler] = {
    m.OpenAccount: open_account,
    m.Deposit: deposit,
    m.Withdraw: withdraw,
    m.Transfer: transfer,
    m.PlaceHold: place_hold,
    m.CaptureHold: capture_hold,
    m.VoidHold: void_hold,
    m.ExpireHolds: expire_holds,
    m.ConfirmTransaction: confirm_transaction,
    m.FailTransaction: fail_transaction,
    m.ReverseTransaction: reverse_transaction,
    m.FreezeAccount: freeze_account,
    m.UnfreezeAccount: unfreeze_account,
    m.SetLowBalanceThreshold: set_low_balance_threshold,
    m.CloseAccount: close_account,
}

__all__ = ["HANDLERS", "wallet_ref"]
