"""``tally test-clocks create|advance|list|show``: a test-mode project's test clocks,
through the functions of ``POST``/``GET /v1/test_clocks``, ``GET /v1/test_clocks/{id}``
and ``POST /v1/test_clocks/{id}/advance`` (every trial end, renewal, cancellation and
pause end on the way, with the provider calls they ask for), with the routes' request
models and answers (``api/cli_routes.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_routes import (
    add_paging,
    add_project,
    body_of,
    page_lines,
    paging,
    params,
    read,
    replayed_note,
    show,
    write,
)
from api.cli_session import EXIT_OK, add_idempotency_key, emit

NEEDS = ("test_clocks",)
# An advance renews, invoices and charges the clock's subscriptions.
ADVANCE_NEEDS = ("test_clocks", "subscriptions", "invoices")


def clock_line(c: dict[str, Any]) -> str:
    name = f"  {c['name']}" if c.get("name") else ""
    return f"{c['id']}  {c['frozen_time']}  {c.get('subscriptions', 0)} subscriptions{name}"


def cmd_clocks_create(args: argparse.Namespace) -> int:
    from api.routes.test_clocks import create_test_clock
    from api.schemas.test_clocks import CreateTestClockRequest

    body = CreateTestClockRequest.model_validate(
        body_of(name=args.name, frozen_time=args.frozen_time)
    )
    clock, replayed = write(
        args, lambda tally, caller, key: create_test_clock(body, tally, caller, key), NEEDS
    )
    emit(args, clock, [clock_line(clock), *replayed_note(replayed)])
    return EXIT_OK


def cmd_clocks_advance(args: argparse.Namespace) -> int:
    from api.routes.test_clocks import advance_test_clock
    from api.schemas.test_clocks import AdvanceTestClockRequest

    clock_id = params(advance_test_clock, test_clock_id=args.test_clock_id)["test_clock_id"]
    body = AdvanceTestClockRequest.model_validate({"frozen_time": args.frozen_time})
    moved, replayed = write(
        args,
        lambda tally, caller, key: advance_test_clock(clock_id, body, tally, caller, key),
        ADVANCE_NEEDS,
    )
    steps = ", ".join(f"{n} {step}" for step, n in sorted(moved["steps"].items())) or "nothing due"
    lines = [clock_line(moved["test_clock"]), f"on the way: {steps}"]
    emit(args, moved, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_clocks_list(args: argparse.Namespace) -> int:
    from api.routes.test_clocks import list_test_clocks

    options = paging(args, list_test_clocks)
    page = read(args, lambda tally, caller: list_test_clocks(tally, caller, **options), NEEDS)
    emit(args, page, page_lines(page, clock_line, "no test clocks"))
    return EXIT_OK


def cmd_clocks_show(args: argparse.Namespace) -> int:
    from api.routes.test_clocks import get_test_clock

    return show(args, get_test_clock, clock_line, NEEDS, test_clock_id=args.test_clock_id)


def add_test_clock_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    clocks = sub.add_parser(
        "test-clocks", help="test clocks (test-mode projects): time that moves when told"
    ).add_subparsers(dest="action", required=True)
    create = clocks.add_parser("create", help="a clock at a frozen time", parents=[common])
    create.add_argument("--frozen-time", required=True, help="RFC 3339: its time")
    create.add_argument("--name", default=None, help="a name")
    create.set_defaults(func=cmd_clocks_create)
    advance = clocks.add_parser(
        "advance", help="move it forward, doing everything due on the way", parents=[common]
    )
    advance.add_argument("test_clock_id", help="the clock's id")
    advance.add_argument("--frozen-time", required=True, help="RFC 3339: its new time")
    advance.set_defaults(func=cmd_clocks_advance)
    for action in (create, advance):
        add_idempotency_key(action)
    listing = clocks.add_parser("list", help="list the project's clocks", parents=[common])
    add_paging(listing)
    listing.set_defaults(func=cmd_clocks_list)
    show = clocks.add_parser("show", help="one clock", parents=[common])
    show.add_argument("test_clock_id", help="the clock's id")
    show.set_defaults(func=cmd_clocks_show)
    add_project(create, advance, listing, show)
