"""``tally accounts open|list|show|balance|deposit|withdraw|transfer|freeze|unfreeze|close|
low-balance-threshold``: a project's accounts (customer wallets) and the money moved
through them, as ``POST``/``GET /v1/accounts``, ``GET /v1/accounts/{id}``, ``POST
/v1/accounts/{id}/deposits``, ``/withdrawals``, ``/freeze``, ``/unfreeze``, ``/close`` and
``/low_balance_threshold`` and ``POST /v1/transfers`` do them: the reads call their
routes' functions; the writes, whose routes are ``async``, answer with the route's answer
model (``executing`` in ``api/cli_routes.py``, which says why). open, deposit, withdraw
and transfer build their command with the function their route calls; freeze, unfreeze,
close and low-balance-threshold build it here from the route's request model, as the
route builds it in its own body (their routes have no such function yet), so a change
to one of those routes' commands must be made here too. Holds are ``tally holds``
(``api/cli_holds.py``), one transaction ``tally transactions``
(``api/cli_transactions.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_routes import (
    add_paging,
    add_project,
    body_of,
    executing,
    metadata,
    page_lines,
    paging,
    params,
    read,
    replayed_note,
    show,
    write,
)
from api.cli_session import EXIT_OK, add_idempotency_key, emit
from commands import messages as m

NEEDS = ("accounts",)


def account_line(a: dict[str, Any]) -> str:
    held = f"  ({a['held_balance']} held, {a['available_balance']} available)"
    return (
        f"{a['id']}  {a['owner_ref']}  {a['status']:<6}  {a['ledger_balance']} "
        f"{a['currency']}{held if a['held_balance'] else ''}"
    )


def transaction_line(t: dict[str, Any]) -> str:
    return (
        f"{t['id']}  {t['kind']}  {t['state']}  {t['amount']} {t['currency']}"
        f"  {t['from']} -> {t['to']}"
    )


def cmd_accounts_open(args: argparse.Namespace) -> int:
    from api.routes.accounts import opening
    from api.schemas.accounts import Account, OpenAccountRequest

    body = OpenAccountRequest.model_validate(
        body_of(
            owner_ref=args.owner_ref,
            currency=args.currency,
            overdraft_limit=args.overdraft_limit,
            metadata=metadata(args.metadata),
            low_balance_threshold=args.low_balance_threshold,
        )
    )
    account, replayed = write(args, executing(opening(body), Account, "account"), NEEDS)
    emit(args, account, [f"{account_line(account)}  opened", *replayed_note(replayed)])
    return EXIT_OK


def cmd_accounts_list(args: argparse.Namespace) -> int:
    from api.routes.accounts import list_accounts

    options = paging(args, list_accounts) | params(list_accounts, owner_ref=args.owner_ref)
    page = read(args, lambda tally, caller: list_accounts(tally, caller, **options), NEEDS)
    emit(args, page, page_lines(page, account_line, "no accounts"))
    return EXIT_OK


def cmd_accounts_show(args: argparse.Namespace) -> int:
    from api.routes.accounts import get_account

    return show(args, get_account, account_line, NEEDS, account_id=args.account_id)


def _movement(
    args: argparse.Namespace, route: Any, request: Any, building: Any, **fields: Any
) -> int:
    """A deposit or a withdrawal: its route (for the account id's type), the route's
    body, and the function that builds its command for the route and here."""
    from api.schemas.transactions import MovementResult

    account_id = params(route, account_id=args.account_id)["account_id"]
    body = request.model_validate(body_of(**fields))
    command = building(account_id, body)
    moved, replayed = write(args, executing(command, MovementResult), NEEDS)
    lines = [transaction_line(moved["transaction"]), account_line(moved["account"])]
    emit(args, moved, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_accounts_deposit(args: argparse.Namespace) -> int:
    from api.routes.accounts import deposit, depositing
    from api.schemas.accounts import DepositRequest

    return _movement(
        args,
        deposit,
        DepositRequest,
        depositing,
        amount=args.amount,
        currency=args.currency,
        source=args.source,
        pending=args.pending or None,
        description=args.description,
        external_ref=args.external_ref,
    )


def cmd_accounts_withdraw(args: argparse.Namespace) -> int:
    from api.routes.accounts import withdraw, withdrawing
    from api.schemas.accounts import WithdrawalRequest

    return _movement(
        args,
        withdraw,
        WithdrawalRequest,
        withdrawing,
        amount=args.amount,
        currency=args.currency,
        destination=args.destination,
        description=args.description,
        external_ref=args.external_ref,
    )


def cmd_accounts_transfer(args: argparse.Namespace) -> int:
    from api.routes.transfers import transferring
    from api.schemas.transfers import TransferRequest, TransferResult

    body = TransferRequest.model_validate(
        body_of(
            from_account_id=args.from_account,
            to_account_id=args.to_account,
            amount=args.amount,
            currency=args.currency,
            description=args.description,
        )
    )
    moved, replayed = write(args, executing(transferring(body), TransferResult), NEEDS)
    lines = [transaction_line(moved["transaction"])]
    lines += [account_line(moved[side]) for side in ("from_account", "to_account")]
    emit(args, moved, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_accounts_state(args: argparse.Namespace) -> int:
    """freeze, unfreeze, close: the command message of the verb's route, its body (a
    freeze's reason) validated by the route's request model."""
    from api.routes.accounts import close
    from api.schemas.accounts import AccountResult, FreezeRequest

    account_id = params(close, account_id=args.account_id)["account_id"]
    command: Any = m.CloseAccount(account_id=account_id)
    if args.action == "freeze":
        reason = FreezeRequest.model_validate(body_of(reason=args.reason)).reason
        command = m.FreezeAccount(account_id=account_id, reason=reason)
    elif args.action == "unfreeze":
        command = m.UnfreezeAccount(account_id=account_id)
    done, replayed = write(args, executing(command, AccountResult), NEEDS)
    emit(args, done, [account_line(done["account"]), *replayed_note(replayed)])
    return EXIT_OK


def cmd_accounts_threshold(args: argparse.Namespace) -> int:
    from api.routes.accounts import set_low_balance_threshold
    from api.schemas.accounts import AccountResult, LowBalanceThresholdRequest

    route = set_low_balance_threshold
    account_id = params(route, account_id=args.account_id)["account_id"]
    # The field is required and null clears it, so "none" is sent as null rather than
    # left out; anything else not a whole number goes as given, for the model to refuse.
    raw = args.threshold
    value = None if raw == "none" else int(raw) if raw.lstrip("-").isdigit() else raw
    body = LowBalanceThresholdRequest.model_validate({"low_balance_threshold": value})
    command = m.SetLowBalanceThreshold(account_id=account_id, **body.model_dump())
    done, replayed = write(args, executing(command, AccountResult), NEEDS)
    threshold = done["account"].get("low_balance_threshold", "none")  # null is left out
    lines = [account_line(done["account"]), f"low-balance threshold {threshold}"]
    emit(args, done, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def _add_states(accounts: Any, common: argparse.ArgumentParser) -> list[Any]:
    states = []
    for name, text in (
        ("freeze", "freeze: it neither sends nor receives money"),
        ("unfreeze", "unfreeze a frozen account"),
        ("close", "close an empty account with no active hold"),
    ):
        state = accounts.add_parser(name, help=text, parents=[common])
        state.add_argument("account_id", help="the account's id")
        state.set_defaults(func=cmd_accounts_state)
        states.append(state)
    states[0].add_argument("--reason", default=None, help="why (kept with the account)")
    threshold = accounts.add_parser(
        "low-balance-threshold", help="set or clear the low-balance threshold", parents=[common]
    )
    threshold.add_argument("account_id", help="the account's id")
    threshold.add_argument("threshold", help="minor units, or none to clear it")
    threshold.set_defaults(func=cmd_accounts_threshold)
    return [*states, threshold]


def _money(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("amount", type=int, help="minor units (1999 is 19.99 EUR)")
    parser.add_argument("--currency", required=True, help="ISO 4217, the account's")
    parser.add_argument("--description", default=None, help="shown with the transaction")


def _add_writes(accounts: Any, common: argparse.ArgumentParser) -> list[Any]:
    opening = accounts.add_parser("open", help="open an account (a wallet)", parents=[common])
    opening.add_argument("owner_ref", help="your id for its owner (a customer's id for a wallet)")
    opening.add_argument("--currency", required=True, help="ISO 4217")
    opening.add_argument("--overdraft-limit", type=int, default=None, help="minor units")
    opening.add_argument("--low-balance-threshold", type=int, default=None, help="minor units")
    opening.add_argument(
        "--metadata", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    opening.set_defaults(func=cmd_accounts_open)
    deposit = accounts.add_parser("deposit", help="deposit money", parents=[common])
    deposit.add_argument("account_id", help="the account's id")
    _money(deposit)
    deposit.add_argument("--source", default=None, help="the clearing account it comes from")
    deposit.add_argument(
        "--pending", action="store_true", help="waits in processing for the outside payment"
    )
    deposit.set_defaults(func=cmd_accounts_deposit)
    withdraw = accounts.add_parser("withdraw", help="withdraw money", parents=[common])
    withdraw.add_argument("account_id", help="the account's id")
    _money(withdraw)
    withdraw.add_argument("--destination", default=None, help="the clearing account it goes to")
    withdraw.set_defaults(func=cmd_accounts_withdraw)
    for action in (deposit, withdraw):
        action.add_argument("--external-ref", default=None, help="your reference (a PSP id)")
    transfer = accounts.add_parser(
        "transfer", help="move money between two accounts", parents=[common]
    )
    transfer.add_argument("from_account", help="the account it leaves")
    transfer.add_argument("to_account", help="the account it reaches")
    _money(transfer)
    transfer.set_defaults(func=cmd_accounts_transfer)
    writes = [opening, deposit, withdraw, transfer, *_add_states(accounts, common)]
    for action in writes:
        add_idempotency_key(action)
    return writes


def add_account_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    accounts = sub.add_parser("accounts", help="accounts (wallets) and their money").add_subparsers(
        dest="action", required=True
    )
    writes = _add_writes(accounts, common)
    listing = accounts.add_parser("list", help="list accounts, oldest first", parents=[common])
    listing.add_argument("--owner-ref", default=None, help="only this owner's")
    add_paging(listing)
    listing.set_defaults(func=cmd_accounts_list)
    reads = [listing]
    for name in ("show", "balance"):  # two names: an alias would share one help's example
        show = accounts.add_parser(name, help="one account and its balances", parents=[common])
        show.add_argument("account_id", help="the account's id")
        show.set_defaults(func=cmd_accounts_show)
        reads.append(show)
    add_project(*writes, *reads)
