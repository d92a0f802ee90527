"""``tally transactions show|confirm|fail|reverse``: one transaction read, a pending
deposit confirmed or failed, a transaction reversed (all or part), as ``GET
/v1/transactions/{id}`` and ``POST .../confirm``, ``/fail`` and ``/reverse`` do them. The
read calls its route's function; the writes, whose routes are ``async`` like the other
wallet writes, build the command message their route builds from its request model and
answer with its answer model (``executing`` in ``api/cli_routes.py``, which says why:
a change to one of these routes must be made here too)."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_accounts import account_line, transaction_line
from api.cli_routes import add_project, body_of, executing, params, read, replayed_note, write
from api.cli_session import EXIT_OK, add_idempotency_key, emit
from commands import messages as m

NEEDS = ("accounts",)


def _transaction_id(route: Any, args: argparse.Namespace) -> Any:
    return params(route, transaction_id=args.transaction_id)["transaction_id"]


def cmd_transactions_show(args: argparse.Namespace) -> int:
    from api.routes.transactions import get_transaction

    found_id = _transaction_id(get_transaction, args)
    found = read(args, lambda tally, caller: get_transaction(found_id, tally, caller), NEEDS)
    emit(args, found, [transaction_line(found)])
    return EXIT_OK


def cmd_transactions_settle(args: argparse.Namespace) -> int:
    """confirm, fail: a pending deposit's outside payment arrived, or did not."""
    from api.routes.transactions import confirm, fail
    from api.schemas.transactions import FailRequest, TransactionResult

    if args.action == "confirm":
        command: Any = m.ConfirmTransaction(transaction_id=_transaction_id(confirm, args))
    else:
        body = FailRequest.model_validate(body_of(reason=args.reason))
        command = m.FailTransaction(transaction_id=_transaction_id(fail, args), reason=body.reason)
    done, replayed = write(args, executing(command, TransactionResult), NEEDS)
    lines = [transaction_line(done["transaction"])]
    if done.get("account"):
        lines.append(account_line(done["account"]))
    emit(args, done, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_transactions_reverse(args: argparse.Namespace) -> int:
    from api.routes.transactions import reverse
    from api.schemas.transactions import ReverseRequest, ReverseResult

    body = ReverseRequest.model_validate(body_of(amount=args.amount, reason=args.reason))
    command = m.ReverseTransaction(
        transaction_id=_transaction_id(reverse, args), amount=body.amount, reason=body.reason
    )
    done, replayed = write(args, executing(command, ReverseResult), NEEDS)
    lines = [transaction_line(done["transaction"])]
    lines += [account_line(account) for account in done["accounts"]]
    emit(args, done, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def add_transaction_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    actions = sub.add_parser(
        "transactions", help="one transaction: read, confirm, fail, reverse"
    ).add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="one transaction", parents=[common])
    show.set_defaults(func=cmd_transactions_show)
    confirm = actions.add_parser(
        "confirm", help="a pending deposit's payment arrived: credit it", parents=[common]
    )
    confirm.set_defaults(func=cmd_transactions_settle)
    fail = actions.add_parser("fail", help="fail a pending transaction", parents=[common])
    fail.add_argument("--reason", default=None, help="why (kept with it)")
    fail.set_defaults(func=cmd_transactions_settle)
    reverse = actions.add_parser(
        "reverse", help="reverse it, all or part (a new entry)", parents=[common]
    )
    reverse.add_argument("--amount", type=int, default=None, help="default: all that is left")
    reverse.add_argument("--reason", default=None, help="why (kept with it)")
    reverse.set_defaults(func=cmd_transactions_reverse)
    for action in (show, confirm, fail, reverse):
        action.add_argument("transaction_id", help="the transaction's id")
    for action in (confirm, fail, reverse):
        add_idempotency_key(action)
    add_project(show, confirm, fail, reverse)
