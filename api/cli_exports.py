"""``tally export journal``: the journal's entries and postings as CSV or JSON lines
(adapters/journal_export.py, docs/audit.md), with a progress count on stderr.

The read models are brought up to the log's head first, so the export holds everything
written before it started; the last line on stderr (or ``--json``) names that position.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from tqdm import tqdm

from api.cli_session import EXIT_OK, CannotStart, emit, opened, sync_read_models


def cmd_export_journal(args: argparse.Namespace) -> int:
    from adapters.journal_export import BadBound, journal_lines, window
    from projections.registry import current_position

    try:
        bounds = window(args.start, args.stop)
    except BadBound as exc:
        raise CannotStart(f"--from/--to: {exc}") from None
    to_file = args.out is not None and str(args.out) != "-"
    quiet = args.quiet or not to_file or not sys.stderr.isatty()
    with opened() as tally:
        # The head as the export starts, waited for: without a position, a catch-up that
        # another worker (the server's) holds the lock for would go on after its timeout
        # with the journal behind, and export fewer entries without a word.
        head = tally.store.recorder.max_notification_id() or 0
        sync_read_models(tally, head, needs=("journal",))
        at = current_position(tally.views, tally.schema)
        with tally.views.connection() as conn:
            bar = tqdm(unit="entries", unit_scale=True, desc="export", disable=quiet)
            written = [0]

            def count(entries: int) -> None:
                written[0] += entries
                bar.update(entries)

            file = args.out.open("wb") if to_file else sys.stdout.buffer
            try:
                with bar:
                    for line in journal_lines(
                        conn, tally.schema, args.project, bounds, args.format, count
                    ):
                        file.write(line)
            finally:
                if to_file:
                    file.close()
                else:
                    file.flush()
    if to_file:
        emit(
            args,
            {"entries": written[0], "file": str(args.out), "position": at},
            [f"{written[0]} journal entries (up to position {at}) written to {args.out}"],
        )
    return EXIT_OK


def add_journal_export(export: Any, common: argparse.ArgumentParser) -> None:
    journal = export.add_parser(
        "journal",
        help="journal entries and postings, accounts named, as CSV or JSON lines",
        parents=[common],
    )
    journal.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        default="csv",
        help="one row per posting (csv) or one line per entry (jsonl)",
    )
    journal.add_argument(
        "--from",
        dest="start",
        help="first position (digits), date (2026-01-01) or timestamp with offset",
    )
    journal.add_argument(
        "--to",
        dest="stop",
        help="last position, date (the whole day, UTC) or timestamp; inclusive",
    )
    journal.add_argument("--project", type=UUID, help="one project's entries (default: all)")
    journal.add_argument("--out", type=Path, help="the file (default: standard output)")
    journal.add_argument("--quiet", action="store_true", help="no progress bar")
    journal.set_defaults(func=cmd_export_journal)
