"""What ``GET /v1/exports/events`` costs a project on a shared log (issue 15 review):
finding a project's events must not read every tenant's creation events.

    python bench/export_scan.py [--projects 100] [--aggregates 100] [--versions 20]

A scratch schema built by ``api.bootstrap.build`` (the chain, and the export's index
when there is one) gets ``projects x aggregates x versions`` synthetic events (200,000
by default), each aggregate's first event naming its project as Tally's do, versions
interleaved across aggregates as a live log's are. Then, ``--rounds`` times: one
project's whole export (``adapters.audit_export.project_event_lines``, its chunks), and
the export of a window of 10,000 positions at the log's end. Wall clock, medians.

It runs against TALLY_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test)
and drops its schema afterwards. It asserts nothing: it prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql

from adapters.audit_export import project_event_lines
from api.bootstrap import build
from api.settings import Settings

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
TABLE = "tally_events"

# Project p's aggregate a: uuid with p and a in its last 12 hex digits; a = 0 is the
# project itself. Version 1 names the project; later versions are deposits' size.
_FILL = (
    "INSERT INTO {t} (originator_id, originator_version, topic, state) "
    "SELECT (lpad(to_hex(p), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(a), 12, '0'))::uuid, "
    "v, CASE WHEN v = 1 THEN 'tally:Account.Opened' ELSE 'tally:Account.Deposited' END, "
    'convert_to(CASE WHEN v = 1 THEN \'{{"project_id":{{"_type_":"uuid_hex","_data_":"\' '
    "|| lpad(to_hex(p), 8, '0') || '000040008000000000000000' || '\"}},\"owner\":\"x\"}}' "
    'ELSE \'{{"amount":100,"currency":"EUR","note":"\' || repeat(\'x\', 200) || \'"}}\' '
    "END, 'UTF8') "
    "FROM generate_series(1, %s) v, generate_series(1, %s) p, generate_series(1, %s) a "
    "ORDER BY v, p, a"
)


def project_uuid(p: int) -> UUID:
    return UUID(f"{p:08x}-0000-4000-8000-000000000000")


def fill(url: str, schema: str, projects: int, aggregates: int, versions: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(_FILL).format(t=sql.Identifier(schema, TABLE)),
            (versions, projects, aggregates),
        )
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, TABLE)))
        row = conn.execute(
            sql.SQL("SELECT max(notification_id) FROM {}").format(sql.Identifier(schema, TABLE))
        ).fetchone()
    return int(row[0]) if row else 0


def timed(run: Iterable[bytes]) -> tuple[float, int]:
    began = time.perf_counter()
    count = sum(1 for _ in run)
    return time.perf_counter() - began, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--aggregates", type=int, default=100)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL)
    schema = f"bench_export_{os.getpid()}"
    tally = build(Settings(database_url=url, db_schema=schema, pool_size=2))
    try:
        began = time.perf_counter()
        head = fill(url, schema, args.projects, args.aggregates, args.versions)
        print(f"log: {head:,} events in {time.perf_counter() - began:.1f} s")
        target = project_uuid(args.projects // 2)
        whole, tail = [], []
        for _ in range(args.rounds):
            lines = project_event_lines(
                tally.views.connection, schema, TABLE, target, (1, 2**63 - 1, 10**6)
            )
            whole.append(timed(lines))
            window = (head - 9_999, head, 10**6)
            tail.append(
                timed(project_event_lines(tally.views.connection, schema, TABLE, target, window))
            )
        for name, runs in (("whole project", whole), ("last 10,000 positions", tail)):
            seconds = statistics.median(s for s, _ in runs)
            print(f"{name}: {runs[0][1]:,} events, median {seconds * 1000:.1f} ms")
    finally:
        tally.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
