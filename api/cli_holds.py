"""``tally holds place|capture|void|list|show``: part of an account's balance reserved,
then captured (all or part) or voided (released), as ``POST``/``GET
/v1/accounts/{id}/holds``, ``.../holds/{hold_id}/capture`` and ``/void`` and ``GET
.../holds/{hold_id}`` do them: the reads call their routes' functions; the writes, whose
routes are ``async``, build their command with the function their route calls and answer
with its answer model (``executing`` in ``api/cli_routes.py``, which says why)."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_accounts import account_line, transaction_line
from api.cli_routes import (
    add_paging,
    add_project,
    body_of,
    executing,
    page_lines,
    paging,
    params,
    read,
    replayed_note,
    show,
    write,
)
from api.cli_session import EXIT_OK, add_idempotency_key, emit

NEEDS = ("accounts", "holds")


def hold_line(h: dict[str, Any]) -> str:
    captured = f"{h['captured_amount']} of " if h.get("captured_amount") else ""
    return (
        f"{h['id']}  {h['status']}  {captured}{h['amount']} {h['currency']}"
        f"  to {h['destination']}  expires {h['expires_at']}"
    )


def cmd_holds_place(args: argparse.Namespace) -> int:
    from api.routes.holds import place_hold, placing
    from api.schemas.created import PlacedHold
    from api.schemas.holds import PlaceHoldRequest

    account_id = params(place_hold, account_id=args.account_id)["account_id"]
    body = PlaceHoldRequest.model_validate(
        body_of(
            amount=args.amount,
            currency=args.currency,
            expires_at=args.expires_at,
            destination_account_id=args.destination_account,
            destination=args.destination,
            description=args.description,
        )
    )
    command = placing(account_id, body)
    hold, replayed = write(args, executing(command, PlacedHold, "hold", account="account"), NEEDS)
    lines = [f"{hold_line(hold)}  placed"]
    if hold.get("account"):
        lines.append(account_line(hold["account"]))
    emit(args, hold, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_holds_capture(args: argparse.Namespace) -> int:
    from api.routes.holds import capture_hold, capturing
    from api.schemas.holds import CaptureHoldRequest, CaptureResult

    ids = params(capture_hold, account_id=args.account_id, hold_id=args.hold_id)
    body = CaptureHoldRequest.model_validate(body_of(amount=args.amount))
    command = capturing(ids["account_id"], ids["hold_id"], body)
    done, replayed = write(args, executing(command, CaptureResult), NEEDS)
    lines = [hold_line(done["hold"]), transaction_line(done["transaction"])]
    emit(args, done, [*lines, account_line(done["account"]), *replayed_note(replayed)])
    return EXIT_OK


def cmd_holds_void(args: argparse.Namespace) -> int:
    from api.routes.holds import void_hold, voiding
    from api.schemas.holds import HoldResult

    ids = params(void_hold, account_id=args.account_id, hold_id=args.hold_id)
    done, replayed = write(
        args, executing(voiding(ids["account_id"], ids["hold_id"]), HoldResult), NEEDS
    )
    lines = [hold_line(done["hold"]), account_line(done["account"])]
    emit(args, done, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_holds_list(args: argparse.Namespace) -> int:
    from api.routes.holds import list_holds

    found = params(list_holds, account_id=args.account_id, status=args.status)
    options = found | paging(args, list_holds)
    page = read(
        args, lambda tally, caller: list_holds(tally=tally, caller=caller, **options), NEEDS
    )
    emit(args, page, page_lines(page, hold_line, "no holds"))
    return EXIT_OK


def cmd_holds_show(args: argparse.Namespace) -> int:
    from api.routes.holds import get_hold

    ids = {"account_id": args.account_id, "hold_id": args.hold_id}
    return show(args, get_hold, hold_line, NEEDS, **ids)


def add_hold_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    holds = sub.add_parser("holds", help="holds on an account's balance").add_subparsers(
        dest="action", required=True
    )
    place = holds.add_parser("place", help="reserve part of the balance", parents=[common])
    place.add_argument("account_id", help="the held account's id")
    place.add_argument("amount", type=int, help="minor units")
    place.add_argument("--currency", required=True, help="ISO 4217, the account's")
    place.add_argument("--expires-at", required=True, help="RFC 3339; released after it")
    place.add_argument(
        "--destination-account", default=None, help="a capture pays into this account"
    )
    place.add_argument("--destination", default=None, help="else this clearing account")
    place.add_argument("--description", default=None, help="shown with it")
    place.set_defaults(func=cmd_holds_place)
    capture = holds.add_parser("capture", help="capture all or part of it", parents=[common])
    capture.set_defaults(func=cmd_holds_capture)
    # Two names: an alias would share one help's example.
    void, release = (
        holds.add_parser(name, help="release it, capturing nothing", parents=[common])
        for name in ("void", "release")
    )
    show = holds.add_parser("show", help="one hold", parents=[common])
    show.set_defaults(func=cmd_holds_show)
    for action in (capture, void, release, show):
        action.add_argument("account_id", help="the held account's id")
        action.add_argument("hold_id", help="the hold's id")
    capture.add_argument("--amount", type=int, default=None, help="default: the whole hold")
    listing = holds.add_parser("list", help="an account's holds", parents=[common])
    listing.add_argument("account_id", help="the account's id")
    listing.add_argument("--status", default=None, help="active, captured, voided or expired")
    add_paging(listing)
    listing.set_defaults(func=cmd_holds_list)
    for action in (place, capture, void, release):
        add_idempotency_key(action)
    void.set_defaults(func=cmd_holds_void)
    release.set_defaults(func=cmd_holds_void)
    add_project(place, capture, void, release, show, listing)
