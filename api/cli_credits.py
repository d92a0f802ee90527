"""``tally credits grant|list|balance|consume``: a customer's prepaid credits (issue 13,
docs/usage.md), the same commands and reads as ``POST /v1/credit_grants`` (with
``--invoice``: ``POST /v1/credit_purchases``), ``GET /v1/credit_grants``,
``GET /v1/customers/{id}/credits`` and ``POST /v1/credits/consume``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any
from uuid import UUID

NEEDS = ("credits", "customers")


def cmd_credits_purchase(args: argparse.Namespace) -> int:
    """``tally credits grant --invoice``: paid credits bought on a finalized invoice,
    granted when it is paid (``POST /v1/credit_purchases``)."""
    import sys

    from api.cli_session import EXIT_OK, EXIT_REFUSED, emit, opened, run, sync_read_models
    from commands.credit_messages import PurchaseCredits

    if args.wallet is not None or args.expires_at is not None:
        print("--invoice takes neither --wallet nor --expires-at", file=sys.stderr)
        return EXIT_REFUSED
    command = PurchaseCredits(
        customer_id=args.customer,
        amount=args.amount,
        currency=args.currency,
        priority=args.priority,
        prices=args.price or None,
        description=args.description,
    )
    with opened() as tally:
        outcome = run(tally, command, args.project)
        sync_read_models(tally, outcome.position, NEEDS)
    bought = {**outcome.body["credit_purchase"], "invoice": outcome.body["invoice"]}
    invoice = bought["invoice"]
    line = (
        f"{bought['grant_id']}  paid  {bought['amount']} {bought['currency']}  {bought['status']}"
        f" on invoice {invoice['number']} ({invoice['id']}, {invoice['status']})"
    )
    emit(args, bought, [line])
    return EXIT_OK


def cmd_credits_grant(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, run, sync_read_models
    from commands.credit_messages import GrantCredits

    if args.invoice:
        return cmd_credits_purchase(args)

    command = GrantCredits(
        customer_id=args.customer,
        kind=args.kind,
        amount=args.amount,
        currency=args.currency,
        expires_at=args.expires_at,
        priority=args.priority,
        prices=args.price or None,
        source=args.source,
        description=args.description,
        wallet_account_id=args.wallet,
    )
    with opened() as tally:
        outcome = run(tally, command, args.project)
        sync_read_models(tally, outcome.position, NEEDS)
    grant = outcome.body["credit_grant"]
    line = f"{grant['id']}  {grant['kind']}  {grant['amount']} {grant['currency']}  granted"
    emit(args, grant, [line])
    return EXIT_OK


def cmd_credits_consume(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, run, sync_read_models
    from commands.credit_messages import ConsumeCredits

    command = ConsumeCredits(
        customer_id=args.customer,
        amount=args.amount,
        currency=args.currency,
        price_id=args.price,
        description=args.description,
    )
    with opened() as tally:
        outcome = run(tally, command, args.project)
        sync_read_models(tally, outcome.position, NEEDS)
    used = {**outcome.body["consumption"], "balance": outcome.body["balance"]["balance"]}
    line = f"{used['id']}  consumed {used['amount']} {used['currency']}, {used['balance']} left"
    emit(args, used, [line])
    return EXIT_OK


def cmd_credits_list(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from api.credit_views import grants_page

    grants: list[dict[str, Any]] = []
    with opened() as tally:
        sync_read_models(tally, None, NEEDS)
        more, after = True, None
        while more:  # pages of the API's size, each a keyset query
            found, more = grants_page(tally, args.project, args.customer, 100, after)
            grants += found
            after = found[-1]["id"] if found else None
    lines = [
        f"{g['id']}  {g['kind']:<11}  {g['remaining']:>12}/{g['amount']} {g['currency']}  "
        f"priority {g['priority']}  expires {g['expires_at'] or 'never'}"
        for g in grants
    ]
    emit(args, grants, lines or ["no credit grants"])
    return EXIT_OK


def cmd_credits_balance(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from api.credit_views import customer_credits

    with opened() as tally:
        sync_read_models(tally, None, NEEDS)
        found = customer_credits(tally, args.project, args.customer)
    lines = [f"{b['balance']} {b['currency']}" for b in found["balances"]]
    emit(args, found, lines or ["no credits"])
    return EXIT_OK


def _add(credits: Any, common: argparse.ArgumentParser, name: str, text: str) -> Any:
    parser = credits.add_parser(name, help=text, parents=[common])
    parser.add_argument("customer", type=UUID, help="the customer's id")
    parser.add_argument("--project", type=UUID, required=True, help="the project's id")
    return parser


def add_credit_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    credits = sub.add_parser("credits", help="prepaid credits").add_subparsers(
        dest="action", required=True
    )
    grant = _add(credits, common, "grant", "grant credits to a customer")
    grant.add_argument("amount", type=int, help="minor units")
    grant.add_argument(
        "--kind",
        choices=["paid", "promotional"],
        default="promotional",
        help="default: promotional",
    )
    grant.add_argument("--currency", default=None, help="default: the customer's")
    grant.add_argument("--expires-at", type=datetime.fromisoformat, default=None, help="RFC 3339")
    grant.add_argument("--priority", type=int, default=0, help="higher is consumed first")
    grant.add_argument(
        "--price", type=UUID, action="append", default=[], help="a price it pays for (repeat)"
    )
    grant.add_argument("--source", default="manual", help="a paid grant's funding source")
    grant.add_argument("--description", default="", help="shown with the grant")
    grant.add_argument(
        "--wallet", type=UUID, default=None,
        help="a paid grant funded by a withdrawal from this account, the customer's wallet",
    )  # fmt: skip
    grant.add_argument(
        "--invoice", action="store_true",
        help="paid credits bought on a finalized invoice, granted when it is paid",
    )  # fmt: skip
    grant.set_defaults(func=cmd_credits_grant)
    consume = _add(credits, common, "consume", "spend credits now (all or nothing)")
    consume.add_argument("amount", type=int, help="minor units")
    consume.add_argument("--currency", default=None, help="default: the customer's")
    consume.add_argument("--price", type=UUID, default=None, help="the price it pays for")
    consume.add_argument("--description", default="", help="what it paid for")
    consume.set_defaults(func=cmd_credits_consume)
    _add(credits, common, "list", "list a customer's grants").set_defaults(func=cmd_credits_list)
    _add(credits, common, "balance", "a customer's balances").set_defaults(func=cmd_credits_balance)
