"""(b) Deposits through the command layer: ``tally.execute(Deposit(...), Context(...))``.

Tally is built exactly as the server builds it (``api.bootstrap.build``). Each client
thread deposits with its own idempotency key per deposit, as a real client would; each
deposit records three events (Account.Deposited, Transaction.Initiated,
IdempotencyRecord.Recorded) in the store.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from uuid import UUID

from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from bench.common import LoopResult, run_threads
from commands import messages as m
from commands.bus import Context

ACTOR = "bench"


def open_tally(url: str, schema: str, pool_size: int = 20) -> Tally:
    return build(Settings(database_url=url, db_schema=schema, pool_size=pool_size))


def make_project(tally: Tally) -> UUID:
    created = tally.execute(m.CreateProject(name="bench"), Context(NO_PROJECT, ACTOR))
    return UUID(created.body["project"]["id"])


def open_accounts(tally: Tally, project_id: UUID, count: int, prefix: str) -> list[UUID]:
    accounts = []
    for i in range(count):
        opened = tally.execute(
            m.OpenAccount(owner_ref=f"{prefix}-{i}", currency="EUR"), Context(project_id, ACTOR)
        )
        accounts.append(UUID(opened.body["account"]["id"]))
    return accounts


def measure(
    tally: Tally,
    threads: int,
    warmup_s: float,
    duration_s: float,
    *,
    hot: bool,
) -> LoopResult:
    """Deposits from ``threads`` closed loops: each into its own account, or (``hot``)
    all into one account, the worst case for an aggregate's version."""
    project_id = make_project(tally)
    name = "hot" if hot else "own"
    accounts = open_accounts(tally, project_id, 1 if hot else threads, name)

    def make_worker(i: int) -> Callable[[], None]:
        account_id = accounts[0 if hot else i]
        serial = itertools.count()

        def deposit() -> None:
            command = m.Deposit(account_id=account_id, amount=100, currency="EUR")
            key = f"{name}-{i}-{next(serial)}"
            tally.execute(command, Context(project_id, ACTOR, key))

        return deposit

    before = tally.bus.stats()
    loop = run_threads(threads, warmup_s, duration_s, make_worker)
    after = tally.bus.stats()
    batches = after["batches"] - before["batches"]
    loop.detail = (
        f"mean batch {(after['commands'] - before['commands']) / batches:.1f} commands"
        if batches
        else ""
    )
    return loop
