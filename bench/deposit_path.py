"""Keyed deposits on the in-memory store, for counting machine instructions per deposit.

    python -m bench.deposit_path path N     # the handler path alone, one thread
    python -m bench.deposit_path bus N [T]  # through CommandBus.execute, T client threads

``path`` runs batches of 8 keyed deposits into a unit of work and seals them, as the
bus's callers and its committer's take do, with no thread, no committer and no store
write; ``bus`` runs them through the bus with its committer, written to the library's
in-memory recorder. Both warm up first (800 deposits for ``path``, 400 for ``bus``) and
print the thread or process CPU per deposit, which the load moves. The figure the load
cannot move is the instruction count of the difference of two run lengths, start-up
and warm-up cancelling out (bench/README.md, issue 16 (b) fifth pass)::

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        python -m bench.deposit_path path 1200    # minus the same with 400, / 800
"""

from __future__ import annotations

import gc
import itertools
import sys
import threading
import time
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.clock import SystemClock
from adapters.eventstore import TallyStore
from commands import ledger, projects
from commands import messages as m
from commands.bus import CommandBus, Context
from commands.bus.pipeline import Batch, Item
from commands.bus.unit_of_work import UnitOfWork

NO_PROJECT = UUID(int=0)
BATCH = 8


class Harness:
    """One project with ``accounts`` accounts, on a bus over the in-memory store."""

    def __init__(self, accounts: int) -> None:
        self.app = TallyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.bus = CommandBus(self.app, {**ledger.HANDLERS, **projects.HANDLERS}, SystemClock())
        created = self.bus.execute(m.CreateProject(name="path"), Context(NO_PROJECT, "bench"))
        self.project_id = UUID(created.body["project"]["id"])
        self.accounts = [self._open(f"owner-{i}") for i in range(accounts)]
        self.serial = itertools.count()
        gc.freeze()  # as a served worker's heap is settled (api.app.settle_heap)

    def _open(self, owner: str) -> UUID:
        command = m.OpenAccount(owner_ref=owner, currency="EUR")
        opened = self.bus.execute(command, Context(self.project_id, "bench"))
        return UUID(opened.body["account"]["id"])

    def deposit(self, account: int) -> tuple[m.Deposit, Context]:
        command = m.Deposit(account_id=self.accounts[account], amount=100, currency="EUR")
        return command, Context(self.project_id, "bench", f"key-{next(self.serial)}")

    def path(self, count: int) -> None:
        """``count`` deposits into one account, run into batches and sealed."""
        for _ in range(count // BATCH):
            batch = Batch(UnitOfWork(self.app, self.bus.cache, None))
            for _ in range(BATCH):
                self.bus._add(batch, Item(*self.deposit(0)))
            batch.uow.seal()
            batch.uow.keep_in(self.bus.cache)

    def through_bus(self, count: int) -> None:
        """``count`` deposits from one thread per account, each into its own."""
        threads = len(self.accounts)

        def client(i: int) -> None:
            for _ in range(count // threads):
                self.bus.execute(*self.deposit(i))

        running = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join()


def main(argv: list[str]) -> None:
    mode, count = argv[0], int(argv[1])
    threads = int(argv[2]) if len(argv) > 2 else 1
    harness = Harness(threads)
    try:
        if mode == "path":
            harness.path(800)
            started = time.thread_time()
            harness.path(count)
            cpu_us = (time.thread_time() - started) / count * 1e6
            print(f"handler path: {cpu_us:.1f} us thread CPU per deposit ({count})")
        else:
            harness.through_bus(400)
            started = time.process_time()
            harness.through_bus(count)
            cpu_us = (time.process_time() - started) / count * 1e6
            stats = harness.bus.stats()
            print(
                f"through the bus: {cpu_us:.1f} us process CPU per deposit ({count}, "
                f"{threads} client threads, mean batch {stats['mean_batch']:.1f})"
            )
    finally:
        harness.bus.close()


if __name__ == "__main__":
    main(sys.argv[1:])
