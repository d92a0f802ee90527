"""``tally subscriptions create|list|show|cancel|undo-cancel|pause|resume|activate|
extend-trial|change-items``: a project's subscriptions, through the functions of
``POST``/``GET /v1/subscriptions``, ``GET /v1/subscriptions/{id}`` and ``.../cancel``,
``/undo_cancel``, ``/pause``, ``/resume``, ``/activate``, ``/extend_trial`` and
``/items``, with the routes' request models, name resolution (lookup keys, plan codes),
provider calls and answers (``api/cli_routes.py``). ``tally subscriptions run-by`` (who
runs them) is in ``api/cli_provider_subscriptions.py``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, get_args

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
from api.cli_session import EXIT_OK, CannotStart, add_idempotency_key, emit
from api.schemas.subscriptions import Status

NEEDS = ("subscriptions", "invoices")


def subscription_line(s: dict[str, Any]) -> str:
    items = ", ".join(f"{i['price_id']} x{i['quantity']}" for i in s["items"])
    ending = "  cancels at period end" if s.get("cancel_at_period_end") else ""
    return (
        f"{s['id']}  {s['status']:<9}  customer {s['customer_id']}  {items}"
        f"  period {s['current_period_start']} - {s['current_period_end']}{ending}"
    )


def _items(prices: list[str], lookup_keys: list[str]) -> list[dict[str, Any]] | None:
    """``--price ID[:QUANTITY]`` and ``--lookup-key KEY[:QUANTITY]`` as the body's items
    (neither an id nor a lookup key has a colon); none given: None (a plan, then)."""
    items: list[dict[str, Any]] = []
    for field, raw in [("price_id", p) for p in prices] + [("lookup_key", k) for k in lookup_keys]:
        name, sep, quantity = raw.partition(":")
        if sep and not quantity.isdigit():
            raise CannotStart(f"give PRICE[:QUANTITY] (a whole number), not {raw!r}")
        items.append({field: name, "quantity": int(quantity)} if sep else {field: name})
    return items or None


def cmd_subscriptions_create(args: argparse.Namespace) -> int:
    from api.routes.subscriptions import create_subscription
    from api.schemas.subscriptions import CreateSubscriptionRequest

    body = CreateSubscriptionRequest.model_validate(
        body_of(
            customer_id=args.customer,
            items=_items(args.price, args.lookup_key),
            plan=args.plan,
            interval=args.interval,
            trial_days=args.trial_days,
            incomplete=args.incomplete or None,
        )
    )
    made, replayed = write(
        args, lambda tally, caller, key: create_subscription(body, tally, caller, key), NEEDS
    )
    lines = [subscription_line(made)]
    invoice = made.get("latest_invoice")
    if invoice:
        lines.append(f"first invoice {invoice['id']}  {invoice['status']}  {invoice['total']}")
    emit(args, made, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_subscriptions_list(args: argparse.Namespace) -> int:
    from api.routes.subscriptions import list_subscriptions

    options = paging(args, list_subscriptions) | params(
        list_subscriptions, customer_id=args.customer, status=args.status
    )
    page = read(
        args, lambda tally, caller: list_subscriptions(tally, caller, None, **options), NEEDS
    )
    emit(args, page, page_lines(page, subscription_line, "no subscriptions"))
    return EXIT_OK


def cmd_subscriptions_show(args: argparse.Namespace) -> int:
    from api.routes.subscriptions import get_subscription

    sub_id = args.subscription_id
    return show(args, get_subscription, subscription_line, NEEDS, subscription_id=sub_id)


def cmd_subscriptions_change(args: argparse.Namespace) -> int:
    """cancel, undo-cancel, pause, resume, activate: the route of the verb, with its body
    if any."""
    from api.routes import subscription_lifecycle as routes
    from api.schemas.subscriptions import CancelRequest, PauseRequest

    routes_by_verb: dict[str, Callable[..., Any]] = {
        "cancel": routes.cancel,
        "undo-cancel": routes.undo_cancel,
        "pause": routes.pause,
        "resume": routes.resume,
        "activate": routes.activate,
    }
    route = routes_by_verb[args.action]
    sub_id = params(route, subscription_id=args.subscription_id)["subscription_id"]
    body: Any = None
    if args.action == "cancel":
        body = CancelRequest.model_validate(body_of(at_period_end=args.at_period_end or None))
    elif args.action == "pause":
        body = PauseRequest.model_validate(body_of(resume_at=args.resume_at))

    def call(tally: Any, caller: Any, key: str) -> Any:
        if body is None:
            return route(sub_id, tally, caller, key=key)
        return route(sub_id, tally, caller, body, key)

    answer, replayed = write(args, call, NEEDS)
    emit(args, answer, [subscription_line(answer["subscription"]), *replayed_note(replayed)])
    return EXIT_OK


def _with_body(args: argparse.Namespace, route: Callable[..., Any], body: Any) -> int:
    """A verb whose route takes the subscription's id and a required body."""
    sub_id = params(route, subscription_id=args.subscription_id)["subscription_id"]
    answer, replayed = write(
        args, lambda tally, caller, key: route(sub_id, body, tally, caller, key), NEEDS
    )
    emit(args, answer, [subscription_line(answer["subscription"]), *replayed_note(replayed)])
    return EXIT_OK


def cmd_subscriptions_extend_trial(args: argparse.Namespace) -> int:
    from api.routes.subscription_lifecycle import extend_trial
    from api.schemas.subscriptions import ExtendTrialRequest

    body = ExtendTrialRequest.model_validate(body_of(trial_end=args.trial_end))
    return _with_body(args, extend_trial, body)


def cmd_subscriptions_change_items(args: argparse.Namespace) -> int:
    from api.routes.subscriptions import change_items
    from api.schemas.subscriptions import ChangeItemsRequest

    items = _items(args.price, args.lookup_key)
    body = ChangeItemsRequest.model_validate(body_of(items=items, proration=args.proration))
    return _with_body(args, change_items, body)


def _add_with_body(actions: Any, common: argparse.ArgumentParser) -> list[Any]:
    extend = actions.add_parser("extend-trial", help="end a trial later", parents=[common])
    extend.add_argument("subscription_id", help="the subscription's id")
    extend.add_argument("--trial-end", required=True, help="RFC 3339, after the current end")
    extend.set_defaults(func=cmd_subscriptions_extend_trial)
    change = actions.add_parser(
        "change-items", help="new items: a plan change, seats", parents=[common]
    )
    change.add_argument("subscription_id", help="the subscription's id")
    _add_prices(change)
    change.add_argument("--proration", default=None, help="prorate (default), none or period_end")
    change.set_defaults(func=cmd_subscriptions_change_items)
    return [extend, change]


def _add_prices(parser: argparse.ArgumentParser) -> None:
    """The items as ``create`` and ``change-items`` both take them: prices by id or by
    lookup key, each with an optional quantity."""
    parser.add_argument(
        "--price", action="append", default=[], metavar="ID[:QUANTITY]",
        help="a recurring price by id (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--lookup-key", action="append", default=[], metavar="KEY[:QUANTITY]",
        help="a price by its lookup key (repeatable)",
    )  # fmt: skip


def _add_create(actions: Any, common: argparse.ArgumentParser) -> Any:
    create = actions.add_parser("create", help="subscribe a customer", parents=[common])
    create.add_argument("customer", help="the customer's id")
    _add_prices(create)
    create.add_argument("--plan", default=None, help="instead of prices: a plan (product) code")
    create.add_argument("--interval", default=None, help="with --plan: its prices on this one")
    create.add_argument("--trial-days", type=int, default=None, help="default: the prices'")
    create.add_argument(
        "--incomplete", action="store_true", help="wait for its first payment (no trial)"
    )
    create.set_defaults(func=cmd_subscriptions_create)
    return create


def add_subscription_commands(actions: Any, common: argparse.ArgumentParser) -> None:
    """The verbs beside ``run-by`` in ``tally subscriptions`` (``actions``)."""
    writes = [_add_create(actions, common)]
    for name, text in (
        ("cancel", "cancel now, or at the period end"),
        ("undo-cancel", "keep one canceled at the period end"),
        ("pause", "pause an active one"),
        ("resume", "resume a paused one (a new period starts now)"),
        ("activate", "activate an incomplete one: its first payment arrived"),
    ):
        change = actions.add_parser(name, help=text, parents=[common])
        change.add_argument("subscription_id", help="the subscription's id")
        change.set_defaults(func=cmd_subscriptions_change)
        writes.append(change)
    writes[1].add_argument("--at-period-end", action="store_true", help="not now: then")
    writes[3].add_argument("--resume-at", default=None, help="RFC 3339: the scheduler resumes it")
    writes += _add_with_body(actions, common)
    for action in writes:
        add_idempotency_key(action)
    listing = actions.add_parser("list", help="list subscriptions, oldest first", parents=[common])
    listing.add_argument("--customer", default=None, help="only this customer's")
    statuses = ", ".join(get_args(Status))
    listing.add_argument("--status", default=None, help=f"only in this status: {statuses}")
    add_paging(listing)
    listing.set_defaults(func=cmd_subscriptions_list)
    show = actions.add_parser("show", help="one subscription", parents=[common])
    show.add_argument("subscription_id", help="the subscription's id")
    show.set_defaults(func=cmd_subscriptions_show)
    add_project(*writes, listing, show)
