"""``tally backtest``: a project's recorded subscription invoices re-rated under another
price book (api/backtest.py, docs/audit.md), per customer and per currency. Nothing is
written."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from api.cli_session import EXIT_OK, CannotStart, emit, opened, sync_read_models


def cmd_backtest(args: argparse.Namespace) -> int:
    from adapters.journal_export import BadBound, window
    from api.backtest import backtest
    from api.catalog_file import MAX_FILE_BYTES

    try:
        bounds = window(args.start, args.stop)
    except BadBound as exc:
        raise CannotStart(f"--from/--to: {exc}") from None
    if bounds.since is None or bounds.until is None:
        raise CannotStart("--from and --to are dates or timestamps (not log positions)")
    path: Path = args.catalog
    if not path.is_file():
        raise CannotStart(f"no catalog file at {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CannotStart(f"a catalog file is at most {MAX_FILE_BYTES} bytes")
    with opened() as tally:
        sync_read_models(tally, needs=("invoices", "catalog"))
        # --to is inclusive (a date: its whole day); the report's window ends after it.
        stop = bounds.until + timedelta(microseconds=1)
        report = backtest(tally, args.project, path.read_text(), bounds.since, stop)
    emit(args, report, _lines(report))
    return EXIT_OK


def _lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{report['invoices']} invoices re-rated, {report['lines_changed']} lines changed, "
        f"{report['unmatched_lines']} lines without a price (kept as recorded)",
        f"{'customer':<38} {'currency':<8} {'invoices':>8} {'was':>14} {'would be':>14} "
        f"{'difference':>14}",
    ]
    for c in report["customers"]:
        lines.append(
            f"{c['customer_id']:<38} {c['currency']:<8} {c['invoices']:>8} {c['was']:>14} "
            f"{c['would_be']:>14} {c['difference']:>14}"
        )
    for t in report["totals"]:
        lines.append(
            f"{'total':<38} {t['currency']:<8} {'':>8} {t['was']:>14} {t['would_be']:>14} "
            f"{t['difference']:>14}"
        )
    return lines


def add_backtest_command(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser(
        "backtest",
        help="re-rate recorded invoices under another price book (writes nothing)",
        parents=[common],
    )
    run.add_argument(
        "--catalog", type=Path, required=True, help="the price book: a catalog file (YAML)"
    )
    run.add_argument("--project", type=UUID, required=True, help="the project's id")
    run.add_argument(
        "--from",
        dest="start",
        required=True,
        help="invoices whose period starts at or after this date or timestamp",
    )
    run.add_argument(
        "--to", dest="stop", required=True, help="... and at or before this (a date: all of it)"
    )
    run.set_defaults(func=cmd_backtest)
