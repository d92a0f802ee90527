"""What the ledger benchmark's parts share: results, timing loops, scratch schemas."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql


@dataclass
class Result:
    """One line of the report: a rate (or latency) and what it was measured on."""

    label: str
    value: float | None  # None: not available
    unit: str
    note: str = ""
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]


# Distinct errors a loop keeps as examples (each with how often it happened).
MAX_ERROR_SAMPLES = 5


@dataclass
class LoopResult:
    operations: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    detail: str = ""
    # The first few distinct errors (type and message), so a report can say what they were.
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0


def run_threads(
    threads: int,
    warmup_s: float,
    duration_s: float,
    make_worker: Callable[[int], Callable[[], None]],
) -> LoopResult:
    """Run ``threads`` closed loops, each calling its operation back to back.

    ``make_worker(i)`` runs in the thread before the clock starts (connections, clients)
    and returns the operation. Operations that finish in the warm-up are not counted;
    every operation finished in the measured window is, with its latency. An operation
    that raises counts as an error and the loop goes on.
    """
    ready = threading.Barrier(threads + 1)
    measuring = threading.Event()
    stopping = threading.Event()
    counts = [0] * threads
    errors = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    samples: dict[str, int] = {}  # distinct error -> how many times (the first few kept)
    samples_lock = threading.Lock()

    def note_error(exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"[:200]
        with samples_lock:
            if text in samples or len(samples) < MAX_ERROR_SAMPLES:
                samples[text] = samples.get(text, 0) + 1

    def loop(i: int) -> None:
        operation = make_worker(i)
        ready.wait()
        while not stopping.is_set():
            started = time.perf_counter()
            try:
                operation()
            except Exception as exc:
                errors[i] += 1
                note_error(exc)
                continue
            if measuring.is_set() and not stopping.is_set():
                counts[i] += 1
                latencies[i].append((time.perf_counter() - started) * 1000)

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait()
    time.sleep(warmup_s)
    measuring.set()
    started = time.perf_counter()
    time.sleep(duration_s)
    stopping.set()
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=60)
    return LoopResult(
        operations=sum(counts),
        seconds=seconds,
        latencies_ms=[x for per_thread in latencies for x in per_thread],
        errors=sum(errors),
        error_samples=[f"{count}x {text}" for text, count in samples.items()],
    )


@contextmanager
def scratch_schemas(url: str, prefix: str = "bench") -> Iterator[Callable[[str], str]]:
    """Hand out schema names unique to this run; drop every one of them at the end."""
    run_id = secrets.token_hex(4)
    made: list[str] = []

    def schema(part: str) -> str:
        name = f"{prefix}_{run_id}_{part}"
        made.append(name)
        return name

    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            # With each schema, a replay's scratch copy, should a replay have been cut short.
            for name in [n for made_name in made for n in (made_name, f"{made_name}_replay")]:
                drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                conn.execute(drop.format(sql.Identifier(name)))
