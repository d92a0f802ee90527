"""``tally meters define|list|show``: a project's meters (issue 13, docs/usage.md), for
operators without an API key at hand (``POST``/``GET /v1/meters``,
``GET /v1/meters/{id}``). The catalog file can declare them too."""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID


def _filters(raw: list[str]) -> dict[str, list[str]]:
    """``--filter region=eu,us`` (repeatable) as the meter's filters."""
    from api.cli_session import CannotStart

    filters: dict[str, list[str]] = {}
    for item in raw:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise CannotStart(f"--filter takes property=value[,value...], not {item!r}")
        filters[name] = values.split(",")
    return filters


def cmd_meters_define(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, run, sync_read_models
    from api.cli_shapes import as_object
    from commands.meter_messages import DefineMeter

    command = DefineMeter(
        code=args.code,
        name=args.name or args.code,
        event_name=args.event_name,
        aggregation=args.aggregation,
        property=args.property,
        filters=_filters(args.filter),
        group_by=args.group_by.split(",") if args.group_by else [],
    )
    with opened() as tally:
        outcome = run(tally, command, args.project)
        sync_read_models(tally, outcome.position, ("meters",))
    meter = outcome.body["meter"]
    verb = "defined" if outcome.body["created"] else "already defined, unchanged"
    emit(args, as_object(meter, "meter"), [f"{meter['id']}  {meter['code']}  {verb}"])
    return EXIT_OK


def cmd_meters_list(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from projections.meters import meters_of

    with opened() as tally:
        sync_read_models(tally, None, ("meters",))
        rows = meters_of(tally.views, tally.schema, args.project)
    lines = [
        f"{r['id']}  {r['code']:<20}  {r['aggregation']:<12}  {r['event_name']}"
        + (f"  ({r['property']})" if r["property"] else "")
        for r in rows
    ]
    emit(args, rows, lines or ["no meters"])
    return EXIT_OK


def cmd_meters_show(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from api.cli_shapes import as_object
    from domain.errors import NotFound
    from projections.meters import get_meter

    with opened() as tally:
        sync_read_models(tally, None, ("meters",))
        row = get_meter(tally.views, tally.schema, args.project, args.meter_id)
    if row is None:  # as the route: another project's meter is not found either
        raise NotFound(f"meter {args.meter_id} not found", id=str(args.meter_id))
    meter = as_object(row, "meter")
    emit(args, meter, [f"{meter['id']}  {meter['code']:<20}  {meter['aggregation']:<12}"])
    return EXIT_OK


def add_meter_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    meters = sub.add_parser("meters", help="meters (what usage counts)").add_subparsers(
        dest="action", required=True
    )
    define = meters.add_parser("define", help="define a meter", parents=[common])
    define.add_argument("code", help="unique per project; metered prices name it")
    define.add_argument("--name", default="", help="a name (default: the code)")
    define.add_argument("--event-name", required=True, help="the usage events it counts")
    define.add_argument(
        "--aggregation",
        required=True,
        choices=["count", "sum", "max", "unique_count", "latest", "weighted_sum"],
        help="how it folds the events (docs/usage.md)",
    )
    define.add_argument("--property", default=None, help="the property it folds (not for count)")
    define.add_argument(
        "--filter", action="append", default=[], help="property=value[,value...] (repeatable)"
    )
    define.add_argument("--group-by", default="", help="property[,property...] (at most 3)")
    define.set_defaults(func=cmd_meters_define)
    listing = meters.add_parser("list", help="list a project's meters", parents=[common])
    listing.set_defaults(func=cmd_meters_list)
    show = meters.add_parser("show", help="one meter", parents=[common])
    show.add_argument("meter_id", type=UUID, help="the meter's id")
    show.set_defaults(func=cmd_meters_show)
    for action in (define, listing, show):
        action.add_argument("--project", type=UUID, required=True, help="the project's id")
