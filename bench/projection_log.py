"""(d) projection catch-up and (e) replay, on a log written through the command layer.

The log is a mix a ledger sees (deposits, transfers between wallets, withdrawals, some
refused for lack of funds) over many accounts, written by 8 client threads through the
real bus. Then the read models are built from zero with ``ProjectionWorker.catch_up()``
and rebuilt and compared with ``projections.replay.replay()``, as ``tally replay`` does.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass
from uuid import UUID

from api.bootstrap import Tally
from bench.command_layer import ACTOR, make_project, open_accounts
from commands import messages as m
from commands.bus import Context
from domain.errors import DomainError

CHECK_EVERY = 200  # commands between looks at the log's length
FUNDING = 1_000_000


@dataclass
class Timed:
    events: int
    seconds: float
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def build_log(tally: Tally, events: int, accounts: int, threads: int) -> tuple[int, float]:
    """Write commands until the log holds at least ``events`` events; return the log's
    length and how long writing it took."""
    project_id = make_project(tally)
    ids = open_accounts(tally, project_id, accounts, "log")
    fund(tally, project_id, ids)
    started = time.perf_counter()
    done = threading.Event()

    def client(i: int) -> None:
        rng = random.Random(i)
        for n in range(1_000_000_000):
            if done.is_set():
                return
            _one_command(tally, project_id, ids, rng, f"log-{i}-{n}")
            if n % CHECK_EVERY == 0 and (tally.store.recorder.max_notification_id() or 0) >= events:
                done.set()

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return tally.store.recorder.max_notification_id() or 0, time.perf_counter() - started


def _one_command(
    tally: Tally, project_id: UUID, ids: list[UUID], rng: random.Random, key: str
) -> None:
    a, b = rng.sample(ids, 2)
    roll = rng.random()
    command: m.Command
    if roll < 0.5:
        command = m.Deposit(account_id=a, amount=rng.randint(100, 50_000), currency="EUR")
    elif roll < 0.85:
        amount = rng.randint(100, 20_000)
        command = m.Transfer(from_account_id=a, to_account_id=b, amount=amount, currency="EUR")
    else:
        command = m.Withdraw(account_id=a, amount=rng.randint(100, 80_000), currency="EUR")
    # A refusal (insufficient funds) writes nothing; the mix includes some.
    with contextlib.suppress(DomainError):
        tally.execute(command, Context(project_id, ACTOR, key))


def fund(tally: Tally, project_id: UUID, ids: list[UUID]) -> None:
    for account_id in ids:
        tally.execute(
            m.Deposit(account_id=account_id, amount=FUNDING, currency="EUR"),
            Context(project_id, ACTOR),
        )


def catch_up(tally: Tally) -> Timed:
    from projections.runner import ProjectionWorker

    worker = ProjectionWorker(
        tally.store, tally.views, tally.schema, tally.settings.projection_batch
    )
    started = time.perf_counter()
    applied = worker.catch_up(timeout_s=600)
    seconds = time.perf_counter() - started
    return Timed(applied, seconds, f"batch {tally.settings.projection_batch}")


def replay(tally: Tally) -> Timed:
    from projections.replay import replay as run_replay

    started = time.perf_counter()
    cpu_started = time.process_time()
    report = run_replay(tally.store, tally.views, tally.schema, progress=False)
    seconds = time.perf_counter() - started
    # This process's CPU time (every thread) per 100,000 events: unlike the rates, it
    # hardly changes when other work shares the machine. Postgres's time is not in it.
    cpu = (time.process_time() - cpu_started) * 100_000 / max(report.events, 1)
    detail = (
        f"rebuild alone {report.events_per_s:,.0f} ev/s ({report.seconds:.2f}s), "
        f"compare {report.compare_seconds:.2f}s, tables equal: {report.ok}, "
        f"Python CPU {cpu:.2f}s per 100k events"
    )
    return Timed(report.events, seconds, detail)
