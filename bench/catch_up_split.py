"""(d) catch-up on one kept log, run again and again: its rate and where its CPU goes.

``python -m bench.catch_up_split --schema NAME [--events 100000] [--runs 3]`` writes a
ledger log into ``NAME`` once (``projection_log.build_log``; kept for later runs), then
for each run empties the read models and their tracking rows and catches up from zero,
as ``bench/ledger.py --only d`` does. Each run prints its rate and, per 100k events, the
process's CPU (``time.process_time``: the worker's and reader's Python) and the CPU of
this process's Postgres backends (from ``/proc``, found by ``application_name``, sampled
every 50 ms), which the machine's load hardly moves. Run it from two checkouts in turn
(old and new code, same schema) to compare them within the same minutes.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

import psycopg
from psycopg import sql

APP_NAME = f"tally-catch-up-{os.getpid()}"
os.environ.setdefault("PGAPPNAME", APP_NAME)  # before any connection is made

from bench import projection_log  # noqa: E402  (after PGAPPNAME)
from bench.command_layer import open_tally  # noqa: E402
from projections.schema import STALLS_TABLE, TRACKING_TABLE  # noqa: E402
from projections.tables import TABLES  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


class BackendCpu:
    """The CPU seconds of the backends named ``APP_NAME``, sampled in a thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def total(self) -> float:
        return sum(self.seen.values())

    def _sample(self) -> None:
        with psycopg.connect(self.url, autocommit=True, application_name="sampler") as conn:
            while True:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
                ).fetchall()
                for (pid,) in rows:
                    cpu = _cpu_s(pid)
                    if cpu is not None:
                        self.seen[pid] = cpu
                if self._stop.wait(0.05):
                    return


def _cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime + stime


def _reset(tally: Any) -> None:
    """Empty every read model and its tracking row: the next catch-up starts at zero."""
    names = [t.name for t in TABLES] + [TRACKING_TABLE, STALLS_TABLE]
    tables = sql.SQL(", ").join(sql.Identifier(tally.schema, n) for n in names)
    with tally.views.connection() as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(tables))
        conn.execute("CHECKPOINT")


def _snapshot(cpu: BackendCpu) -> dict[int, float]:
    time.sleep(0.15)  # two samples: the idle backends' CPU so far
    return dict(cpu.seen)


def kept_log_arguments() -> argparse.Namespace:
    """The command line of this bench and of ``bench.replay_split``: the kept log's
    database, schema and size, and how many runs to make on it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--schema", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1)
    return parser.parse_args()


def kept_log(tally: Any, args: argparse.Namespace) -> int:
    """The log's head position, the log written first if it is shorter than asked (it is
    kept, so that later runs, from other checkouts too, read the same events)."""
    head: int = tally.store.recorder.max_notification_id() or 0
    if head < args.events:
        head, seconds = projection_log.build_log(tally, args.events, args.accounts, 8)
        print(f"wrote a log of {head:,} events in {seconds:.1f}s", flush=True)
    return head


def main() -> None:
    args = kept_log_arguments()
    tally = open_tally(args.url, args.schema)
    try:
        kept_log(tally, args)
        with BackendCpu(args.url) as cpu:
            for _ in range(args.runs):
                _reset(tally)
                before = _snapshot(cpu)
                load = os.getloadavg()[0]
                python_started = time.process_time()
                caught = projection_log.catch_up(tally)
                python_s = time.process_time() - python_started
                after = _snapshot(cpu)
                backend_s = sum(v - before.get(pid, 0.0) for pid, v in after.items())
                per = 100_000 / max(caught.events, 1)
                print(
                    f"load {load:.1f}: {caught.rate:,.0f} events/s ({caught.events:,} in "
                    f"{caught.seconds:.2f}s); per 100k: Python {python_s * per:.2f}s, "
                    f"Postgres {backend_s * per:.2f}s",
                    flush=True,
                )
    finally:
        tally.close()


if __name__ == "__main__":
    main()
