"""``tally subscriptions run-by`` and ``tally prices map``: who runs a project's
subscriptions and each price's provider prices (issue 18, docs/subscriptions.md "Who
runs the subscription"), the same commands as ``POST /v1/subscription_runner`` and
``POST /v1/prices/{id}/provider_price_ids``."""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID


def cmd_run_by(args: argparse.Namespace) -> int:
    from adapters.outbox import provider_for
    from api.cli_session import EXIT_OK, emit, opened, run
    from commands.provider_subscriptions import ChooseSubscriptionRunner

    with opened() as tally:
        provider = provider_for(tally, args.project).name
        command = ChooseSubscriptionRunner(
            run_by=args.run_by, provider=provider, product_id=args.plan
        )
        chosen = run(tally, command, args.project).body["subscription_runner"]
    by = chosen["provider"] if chosen["run_by"] == "provider" else "tally"
    emit(args, {"object": "subscription_runner", **chosen}, [f"subscriptions run by {by}"])
    return EXIT_OK


def _mapping(raw: list[str]) -> dict[str, str]:
    from api.cli_session import CannotStart

    mapping: dict[str, str] = {}
    for item in raw:
        provider, sep, price_ref = item.partition("=")
        if not sep or not provider or not price_ref:
            raise CannotStart(f"give provider=price_id (stripe=price_...), not {item!r}")
        mapping[provider] = price_ref
    return mapping


def cmd_prices_map(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, run
    from api.cli_shapes import as_object
    from commands.provider_subscriptions import MapPriceToProviders

    command = MapPriceToProviders(price_id=args.price_id, provider_price_ids=_mapping(args.ids))
    with opened() as tally:
        price = run(tally, command, args.project).body["price"]
    mapped = ", ".join(f"{k}={v}" for k, v in price["provider_price_ids"].items()) or "none"
    emit(args, as_object(price, "price"), [f"{price['id']}  provider prices: {mapped}"])
    return EXIT_OK


def add_provider_subscription_commands(sub: Any, common: argparse.ArgumentParser) -> Any:
    """``subscriptions run-by`` and ``prices map``; answers the ``subscriptions`` group's
    verbs, for the others (``api/cli_subscriptions.py``)."""
    subscriptions = sub.add_parser("subscriptions", help="subscriptions, and who runs them")
    actions = subscriptions.add_subparsers(dest="action", required=True)
    run_by = actions.add_parser(
        "run-by", help="tally (default) or provider (stripe, paddle)", parents=[common]
    )
    run_by.add_argument(
        "run_by", choices=["tally", "provider"], help="who runs the project's new subscriptions"
    )
    run_by.add_argument("--plan", type=UUID, help="only this plan (its product id)")
    run_by.set_defaults(func=cmd_run_by)
    prices = sub.add_parser("prices", help="a price's provider prices")
    mapping = prices.add_subparsers(dest="action", required=True).add_parser(
        "map", help="set a price's provider price ids (replaces the mapping)", parents=[common]
    )
    mapping.add_argument("price_id", type=UUID, help="the Tally price")
    mapping.add_argument("ids", nargs="*", help="provider=price_id, e.g. stripe=price_123")
    mapping.set_defaults(func=cmd_prices_map)
    for action in (run_by, mapping):
        action.add_argument("--project", type=UUID, required=True, help="the project's id")
    return actions
