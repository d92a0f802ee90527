"""``tally usage replay|export``: the usage totals rebuilt from the usage table and
compared with the live ones, and a project's usage events as JSON lines (issue 13,
docs/usage.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from uuid import UUID


def cmd_usage_replay(args: argparse.Namespace) -> int:
    from adapters.usage_replay import replay_usage
    from api.cli_session import EXIT_OK, EXIT_REFUSED, emit, opened, sync_read_models

    with opened() as tally:
        sync_read_models(tally, None, ("meters",))
        report = replay_usage(tally.views, tally.schema)
    verdict = "equal" if report.equal else "DIFFERENT"
    data = {"events": report.events, "totals": report.totals, "equal": report.equal,
            "differences": report.differences}  # fmt: skip
    lines = [f"usage  {report.events} events, {report.totals} totals: {verdict}"]
    emit(args, data, lines + report.differences)
    return EXIT_OK if report.equal else EXIT_REFUSED


def cmd_usage_export(args: argparse.Namespace) -> int:
    from adapters.usage_replay import export_usage
    from api.cli_session import EXIT_OK, opened

    out = sys.stdout.buffer
    with opened() as tally:
        for line in export_usage(tally.views, tally.schema, args.project):
            out.write(line + b"\n")
    out.flush()
    return EXIT_OK


def add_usage_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    usage = sub.add_parser("usage", help="usage events and their totals").add_subparsers(
        dest="action", required=True
    )
    replay = usage.add_parser(
        "replay",
        help="rebuild the usage totals from the usage events and compare (exit 1 if not equal)",
        parents=[common],
    )
    replay.set_defaults(func=cmd_usage_replay)
    export = usage.add_parser(
        "export", help="a project's usage events as JSON lines on stdout", parents=[common]
    )
    export.add_argument("--project", type=UUID, required=True, help="the project's id")
    export.set_defaults(func=cmd_usage_export)
