"""Authentication's key lookup round: what ``projections.api_keys.lookup_keys`` runs,
against the read-model-only statement it replaced (kept here as the baseline).

Since issue 10 a lookup also asks the event table whether the key was revoked after
the position the ``api_keys`` read model has reached, so that a revocation is refused
while the projections are stopped, and the lookups' connection plans its statement
once (``api.key_lookups.connect_lookups``). Three variants, run in alternating blocks on one
kept asynchronous connection each, as ``api.key_lookups.KeyLookups`` runs them:

- ``before``: the read-model-only statement on a plain connection (before issue 10);
- ``read model``: the same statement on the lookups' connection as it is now;
- ``now``: ``lookup_keys`` on that connection.

Rounds of three shapes: one key; 16 keys of one project that has ``KEYS`` keys and
revokes half of them (the worst case: each key's check reads all of its project's
events); 16 keys of 16 small projects. Two states of the read model: ``caught up``
(every revocation projected) and ``stalled`` (``--behind`` more log entries, then the
big project's last revocations, are in the log only). The log first gets ``--filler``
entries of other aggregates, inserted straight into the event table as idempotency
records (which the projections skip), so that Postgres plans for an event table of a
realistic size.

    python bench/key_lookups.py [--rounds 10000] [--filler 300000] [--behind 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from api.bootstrap import NO_PROJECT, Tally, build
from api.key_lookups import connect_lookups
from api.settings import Settings
from bench.common import scratch_schemas
from commands import messages as m
from commands.bus import Context
from projections.api_keys import EVENTS_TABLE, lookup_keys
from projections.paging import plain
from projections.runner import ProjectionWorker

URL = os.environ.get("TALLY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
KEYS = 40  # keys of the big project
REVOKED = 10  # of them revoked before the read model catches up, as many after
SMALL = 16  # small projects, of 3 keys each, one revoked
BLOCK = 500  # rounds per block of one variant before switching to the next
VARIANTS = ("before", "read model", "now")


def baseline_query(schema: str) -> sql.Composed:
    """The lookup before issue 10: the read model alone."""
    return sql.SQL(
        "SELECT k.key_id, k.project_id, k.key_hash, k.revoked, p.mode AS project_mode "
        "FROM {s}.api_keys k JOIN {s}.projects p ON p.project_id = k.project_id "
        "WHERE k.key_id = ANY(%s)"
    ).format(s=sql.Identifier(schema))


async def run(variant: str, conn: psycopg.AsyncConnection[Any], schema: str, ids: list[str]) -> int:
    if variant == "now":
        return len(await lookup_keys(conn, schema, ids))
    # The same Python work as ``lookup_keys``, so that only the statements differ.
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(baseline_query(schema), [ids])
        rows = await cur.fetchall()
    return len({str(row["key_id"]): plain(row) for row in rows})


async def connect(variant: str) -> psycopg.AsyncConnection[Any]:
    if variant == "before":
        return await psycopg.AsyncConnection.connect(URL, autocommit=True)
    return await connect_lookups(URL)


def add_filler(tally: Tally, rows: int) -> None:
    """``rows`` log entries of other aggregates (one event each), then ANALYZE."""
    table = sql.Identifier(tally.schema, EVENTS_TABLE)
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "SELECT gen_random_uuid(), 1, 'tally:IdempotencyRecord.Recorded', "
                "convert_to(repeat('x', 200), 'UTF8') FROM generate_series(1, %s)"
            ).format(table),
            [rows],
        )
        conn.execute(sql.SQL("ANALYZE {}").format(table))


def make_project(tally: Tally, keys: int, revoked: int) -> tuple[UUID, list[str]]:
    """A project with ``keys`` keys, the first ``revoked`` of them revoked."""
    project = tally.execute(m.CreateProject(name="bench"), Context(NO_PROJECT, "cli"))
    project_id = UUID(project.body["project"]["id"])
    ctx = Context(project_id, "cli")
    ids = [
        str(tally.execute(m.IssueApiKey(project_id=project_id), ctx).body["key_id"])
        for _ in range(keys)
    ]
    for key_id in ids[:revoked]:
        tally.execute(m.RevokeApiKey(project_id=project_id, key_id=key_id), ctx)
    return project_id, ids


async def measure(schema: str, asked: list[str], rounds: int) -> dict[str, float]:
    """Microseconds per round of each variant: the median of its blocks' means."""
    conns = {variant: await connect(variant) for variant in VARIANTS}
    blocks: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    try:
        for variant, conn in conns.items():  # warm the connections, plans and buffers
            for _ in range(50):
                await run(variant, conn, schema, asked)
        for _ in range(max(1, rounds // BLOCK)):
            for variant, conn in conns.items():
                started = time.perf_counter()
                for _ in range(BLOCK):
                    assert await run(variant, conn, schema, asked) == len(asked)
                blocks[variant].append((time.perf_counter() - started) / BLOCK * 1e6)
    finally:
        for conn in conns.values():
            await conn.close()
    return {variant: statistics.median(us) for variant, us in blocks.items()}


def report(state: str, shape: str, us: dict[str, float]) -> None:
    figures = "  ".join(f"{variant} {us[variant]:6.1f} µs" for variant in VARIANTS)
    print(
        f"{state:<9}  {shape:<19}  {figures}  now/before {us['now'] / us['before']:.2f}  "
        f"now/read model {us['now'] / us['read model']:.2f}",
        flush=True,
    )


def measure_shapes(schema: str, state: str, big: list[str], small: list[str], rounds: int) -> None:
    shapes = {"1 key": big[-1:], "16 keys, 1 project": big[-16:], "16 keys, 16 projects": small}
    for shape, asked in shapes.items():
        report(state, shape, asyncio.run(measure(schema, asked, rounds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--filler", type=int, default=300_000)
    parser.add_argument("--behind", type=int, default=100_000)
    args = parser.parse_args()
    with scratch_schemas(URL) as schema_for:
        schema = schema_for("keys")
        tally = build(Settings(database_url=URL, db_schema=schema, pool_size=2))
        try:
            add_filler(tally, args.filler)
            big_id, big = make_project(tally, KEYS, REVOKED)
            small = [make_project(tally, 3, 1)[1][-1] for _ in range(SMALL)]
            ProjectionWorker(tally.store, tally.views, schema).catch_up()
            measure_shapes(schema, "caught up", big, small, args.rounds)
            # Log entries and revocations the read model has not applied: no worker runs.
            add_filler(tally, args.behind)
            ctx = Context(big_id, "cli")
            for key_id in big[REVOKED : 2 * REVOKED]:
                tally.execute(m.RevokeApiKey(project_id=big_id, key_id=key_id), ctx)
            measure_shapes(schema, "stalled", big, small, args.rounds)
        finally:
            tally.close()


if __name__ == "__main__":
    main()
