"""Keyed deposits through the command bus on the in-memory store: the harness to count
machine instructions per deposit with, which the load cannot move.

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        python bench/deposit_instructions.py 600 [--postgres]   # and again with 100

One account is opened on ``eventsourcing.popo`` (no Postgres, no writer thread's I/O)
and one client deposits N times into it, each with its own idempotency key, through
``CommandBus.execute`` as (b) does. The difference between two run lengths, divided by
the difference in deposits, is the cost of one deposit with start-up cancelled out.
With ``--postgres``, Tally is built as (b) builds it, on a scratch schema of
TALLY_DATABASE_URL, so the committer's Postgres writer counts too (one client: every
batch holds one deposit, the committer's whole cost per batch falls on it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.clock import SystemClock
from adapters.eventstore import TallyStore
from bench.command_layer import make_project, open_tally
from bench.common import scratch_schemas
from commands import ledger
from commands import messages as m
from commands.bus import CommandBus, Context

PROJECT = UUID("5a1b2c3d-0000-4000-8000-0000000000b1")


def deposit(execute: Callable[..., Any], project: UUID, deposits: int) -> None:
    opened = execute(m.OpenAccount(owner_ref="ann", currency="EUR"), Context(project, "key_bench"))
    account = UUID(opened.body["account"]["id"])
    for n in range(deposits):
        command = m.Deposit(account_id=account, amount=100, currency="EUR")
        execute(command, Context(project, "key_bench", f"d-{n}"))


def in_memory(deposits: int) -> None:
    store = TallyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    bus = CommandBus(store, dict(ledger.HANDLERS), SystemClock())
    try:
        deposit(bus.execute, PROJECT, deposits)
    finally:
        bus.close()


def on_postgres(deposits: int) -> None:
    url = os.environ.get("TALLY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with scratch_schemas(url) as schema:
        tally = open_tally(url, schema("instructions"))
        try:
            deposit(tally.execute, make_project(tally), deposits)
        finally:
            tally.close()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    (on_postgres if "--postgres" in sys.argv else in_memory)(count)
