"""The hash chain's benchmark (issue 15): what the chain costs a write, and how fast
``tally audit verify`` recomputes it.

    python bench/audit.py [--events 200000] [--batches 3000] [--rounds 3]

(1) Write cost. The command bus's writer (``PostgresEventWriter``) writes ``--batches``
    batches of one deposit's three events (their real topics, states of a deposit's
    size) into two scratch schemas, one with the chain's triggers and one without, in
    alternating rounds. Measured: the writer backend's CPU in Postgres (its
    ``/proc/<pid>/stat``, the database on this machine) and the writer's own Python
    CPU, per batch; medians of the rounds. The chain is computed in Postgres, so its cost
    is in the first figure; bench/ledger.py (b) measures only the Python process.
(2) Verify. A log of ``--events`` events (inserted with the chain on), then
    ``adapters.audit_verify.verify`` over all of it: events/s by the wall clock, and the
    verifier's CPU (Python, and the Postgres backend that streams the COPY).

It runs against TALLY_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test)
in scratch schemas it drops afterwards. It asserts nothing: it prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from adapters.audit_chain import install_chain
from adapters.audit_verify import verify
from adapters.database import parse
from adapters.event_writer import PostgresEventWriter
from adapters.eventstore import open_store

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
TABLE = "tally_events"
TICKS = os.sysconf("SC_CLK_TCK")
# A deposit's three events, with states of their recorded sizes (bench/README.md's (b)).
DEPOSIT = [
    ("tally:Account.Deposited", 260),
    ("tally:Transaction.Initiated", 420),
    ("tally:IdempotencyRecord.Recorded", 610),
]


def backend_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a Postgres backend (same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def deposit_batch(version: int) -> list[StoredEvent]:
    return [
        StoredEvent(uuid4(), version, topic, secrets.token_bytes(size // 2).hex().encode())
        for topic, size in DEPOSIT
    ]


class Store:
    """A scratch schema with the event table, with or without the chain."""

    def __init__(self, url: str, chained: bool) -> None:
        self.url = url
        self.schema = f"bench_audit_{secrets.token_hex(4)}"
        self.store = open_store(parse(url), self.schema, pool_size=2)
        if chained:
            install_chain(url, self.schema, TABLE)
        self.writer = PostgresEventWriter(self.store.recorder)

    def write_round(self, batches: int) -> tuple[float, float]:
        """(Postgres CPU, Python CPU) seconds per batch for ``batches`` batches."""
        self.writer.write(deposit_batch(1))  # connect, define the append function
        conn = self.writer._conn
        assert conn is not None
        pid = conn.info.backend_pid
        events = [deposit_batch(1) for _ in range(batches)]
        db0, py0 = backend_cpu_s(pid), time.thread_time()
        for batch in events:
            self.writer.write(batch)
        db1, py1 = backend_cpu_s(pid), time.thread_time()
        return (db1 - db0) / batches, (py1 - py0) / batches

    def drop(self) -> None:
        self.writer.close()
        self.store.close()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.schema)))


def measure_writes(url: str, batches: int, rounds: int) -> None:
    stores = {True: Store(url, chained=True), False: Store(url, chained=False)}
    found: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    try:
        for _ in range(rounds):
            for chained in (False, True):
                found[chained].append(stores[chained].write_round(batches))
    finally:
        for store in stores.values():
            store.drop()
    print(f"(1) write cost, {batches} batches of one deposit's 3 events, {rounds} rounds each")
    medians = {}
    for chained, rows in found.items():
        db = statistics.median(r[0] for r in rows) * 1e6
        py = statistics.median(r[1] for r in rows) * 1e6
        medians[chained] = db + py
        every = ", ".join(f"{r[0] * 1e6:.0f}" for r in rows)
        label = "with chain" if chained else "no chain  "
        print(f"    {label}: Postgres {db:.0f} us/batch (rounds: {every}), writer {py:.0f} us")
    extra = medians[True] - medians[False]
    print(f"    the chain: +{extra:.0f} us CPU per deposit's batch of 3 events")


def fill(conn: psycopg.Connection[Any], schema: str, events: int) -> None:
    """``events`` events of a deposit's sizes, inserted 50,000 per statement (chained by
    the triggers, as any insert is)."""
    table = sql.Identifier(schema, TABLE)
    step = 50_000
    for start in range(0, events, step):
        count = min(step, events - start)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "SELECT gen_random_uuid(), 1, 'tally:Account.Deposited', "
                "convert_to(repeat(md5(i::text), 13), 'UTF8') "
                "FROM generate_series(1, %s) AS i"
            ).format(table),
            (count,),
        )


def measure_verify(url: str, events: int) -> None:
    store = Store(url, chained=True)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            fill(conn, store.schema, events)
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(store.schema, TABLE)))
            pid = conn.info.backend_pid
            wall0, cpu0, db0 = time.perf_counter(), time.process_time(), backend_cpu_s(pid)
            found = verify(conn, store.schema, TABLE)
            wall = time.perf_counter() - wall0
            cpu, db = time.process_time() - cpu0, backend_cpu_s(pid) - db0
        if not found.ok or found.checked != events:
            raise RuntimeError(found.summary())
        print(f"(2) verify, a log of {events:,} events of 260 to 610 bytes")
        print(
            f"    {events / wall:,.0f} events/s ({wall:.2f} s); verifier CPU {cpu:.2f} s "
            f"({events / cpu:,.0f} events per CPU second), Postgres backend {db:.2f} s"
        )
    finally:
        store.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--events", type=int, default=200_000, help="log size for verify")
    parser.add_argument("--batches", type=int, default=3000, help="batches per write round")
    parser.add_argument("--rounds", type=int, default=3, help="write rounds per side")
    parser.add_argument("--only", default="12", help="parts to run: 1, 2 or 12")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    if "1" in args.only:
        measure_writes(args.url, args.batches, args.rounds)
    if "2" in args.only:
        measure_verify(args.url, args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
