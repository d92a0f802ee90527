"""(b) Deposits through the command layer: ``tally.execute(Deposit(...), Context(...))``.

Tally is built exactly as the server builds it (``api.bootstrap.build``). Each client
thread deposits with its own idempotency key per deposit, as a real client would; each
deposit records three events (Account.Deposited, Transaction.Initiated,
IdempotencyRecord.Recorded) in the store.
"""

from __future__ import annotations

import gc
import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from api.app import settle_heap
from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from bench.common import LoopResult, run_threads
from commands import messages as m
from commands.bus import Context

ACTOR = "bench"


def open_tally(url: str, schema: str, pool_size: int = 20) -> Tally:
    """Tally as a served worker has it: built, then its heap settled (``settle_heap``,
    which ``api.app`` runs once a worker has started), so the collector runs as often,
    and walks as much, as it does in the server."""
    tally = build(Settings(database_url=url, db_schema=schema, pool_size=pool_size))
    settle_heap()
    return tally


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

    done = [0] * threads

    def make_worker(i: int) -> Callable[[], None]:
        account_id = accounts[0 if hot else i]
        serial = itertools.count()

        def deposit() -> None:
            command = m.Deposit(account_id=account_id, amount=100, currency="EUR")
            key = f"{name}-{i}-{next(serial)}"
            tally.execute(command, Context(project_id, ACTOR, key))
            done[i] += 1

        return deposit

    cpu = CpuPerOperation(done, warmup_s, duration_s)
    before = tally.bus.stats()
    loop = run_threads(threads, warmup_s, duration_s, make_worker)
    after = tally.bus.stats()
    batches = after["batches"] - before["batches"]
    details = [cpu.describe()]
    if batches:
        mean = (after["commands"] - before["commands"]) / batches
        details.append(f"mean batch {mean:.1f} commands")
    loop.detail = "; ".join(d for d in details if d)
    return loop


class CpuPerOperation:
    """The process's CPU time (every thread: clients, bus committer) per operation
    finished, over most of the measured window, and its split by thread (from
    /proc/self/task). The rate moves with whatever else the machine runs; this moves
    much less, so it is the figure to compare across runs on a shared machine. Sampled
    by a thread of its own, a little inside the window (the client loops are not
    touched)."""

    MARGIN_S = 0.2

    def __init__(self, done: list[int], warmup_s: float, duration_s: float) -> None:
        self.done = done
        self.samples: list[tuple[float, int, dict[str, float]]] = []
        self.costs: list[ProcessCosts] = []
        self.collector = CollectorTime()
        margin = min(self.MARGIN_S, duration_s / 4)
        self._thread = threading.Thread(
            target=self._sample,
            args=(warmup_s + margin, duration_s - 2 * margin),
            name="bench-cpu",
            daemon=True,
        )
        self._thread.start()

    def _sample(self, start_s: float, length_s: float) -> None:
        time.sleep(start_s)
        self.samples.append((time.process_time(), sum(self.done), cpu_by_thread()))
        self.costs.append(ProcessCosts.now())
        gc.callbacks.append(self.collector.observe)
        time.sleep(length_s)
        gc.callbacks.remove(self.collector.observe)
        self.samples.append((time.process_time(), sum(self.done), cpu_by_thread()))
        self.costs.append(ProcessCosts.now())

    def describe(self) -> str:
        self._thread.join(timeout=5)
        if len(self.samples) != 2 or self.samples[1][1] <= self.samples[0][1]:
            return ""
        (cpu0, n0, threads0), (cpu1, n1, threads1) = self.samples
        count = n1 - n0
        text = f"{(cpu1 - cpu0) / count * 1e6:.0f} us CPU/deposit"
        split = {
            group: (threads1.get(group, 0.0) - threads0.get(group, 0.0)) / count * 1e6
            for group in threads1
        }
        if split:
            text += " (" + ", ".join(f"{g} {us:.0f}" for g, us in sorted(split.items())) + ")"
        if len(self.costs) == 2:
            text += "; " + self.costs[1].since(self.costs[0], count)
        return text + "; " + self.collector.describe(count)


def cpu_by_thread() -> dict[str, float]:
    """CPU seconds so far of this process's threads, grouped: the bus's committer, the
    clients (``Thread-N``, as ``run_threads`` starts them) and the rest. Empty where
    /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    groups: dict[str, float] = {}
    for thread in threading.enumerate():
        name = thread.name
        group = "committer" if name == "tally-committer" else "clients"
        if not name.startswith(("Thread-", "tally-committer")):
            group = "other"
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime and stime, fields 14 and 15 of the line (11 and 12 after the name).
        groups[group] = groups.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return groups


@dataclass(frozen=True)
class ProcessCosts:
    """The process's system CPU time and its threads' context switches so far: what
    handing work between threads costs shows here, not in the Python it runs."""

    system_s: float
    voluntary: int
    involuntary: int

    @classmethod
    def now(cls) -> ProcessCosts:
        voluntary = involuntary = 0
        try:
            tasks = os.listdir("/proc/self/task")
        except OSError:
            tasks = []
        for task in tasks:
            try:
                with open(f"/proc/self/task/{task}/status") as status:
                    for line in status:
                        if line.startswith("voluntary_ctxt_switches"):
                            voluntary += int(line.split()[1])
                        elif line.startswith("nonvoluntary_ctxt_switches"):
                            involuntary += int(line.split()[1])
            except OSError:
                continue  # a thread that ended meanwhile
        return cls(os.times().system, voluntary, involuntary)

    def since(self, start: ProcessCosts, count: int) -> str:
        system_us = (self.system_s - start.system_s) / count * 1e6
        voluntary = (self.voluntary - start.voluntary) / count
        involuntary = (self.involuntary - start.involuntary) / count
        return (
            f"system {system_us:.0f} us, switches {voluntary:.2f} voluntary"
            f" + {involuntary:.2f} involuntary per deposit"
        )


class CollectorTime:
    """Wall time of the cyclic collector's runs (``gc.callbacks``), all generations and
    the full ones apart, while it is observing."""

    def __init__(self) -> None:
        self.runs = 0
        self.seconds = 0.0
        self.full_runs = 0
        self.longest_s = 0.0
        self._started = 0.0

    def observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        self.runs += 1
        self.seconds += seconds
        self.longest_s = max(self.longest_s, seconds)
        self.full_runs += info.get("generation") == 2

    def describe(self, count: int) -> str:
        return (
            f"gc {self.seconds / count * 1e6:.1f} us/deposit ({self.runs} runs,"
            f" {self.full_runs} full, longest {self.longest_s * 1e3:.1f} ms)"
        )
