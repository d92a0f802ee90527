"""(e) replay on one kept log, run again and again: its rate and where its CPU goes.

``python -m bench.replay_split --schema NAME [--events 100000] [--runs 1]`` writes a
ledger log into ``NAME`` once (``projection_log.build_log``; kept for later runs) and
catches its live read models up once, then replays it ``--runs`` times, as
``bench/ledger.py --only e`` does. Each run prints the rate including the comparison,
the rebuild's seconds and, per 100k events, the process's CPU (``time.process_time``:
every thread's Python) and the CPU of this process's Postgres backends
(``bench.catch_up_split.BackendCpu``), which the machine's load hardly moves. Run it
from two checkouts in turn (old and new code, same schema), one run per process, to
compare them within the same minutes.
"""

from __future__ import annotations

import os
import time

# catch_up_split is imported first: it names this process's Postgres backends.
from bench import catch_up_split, projection_log
from bench.command_layer import open_tally
from projections.replay import replay
from projections.runner import current_position


def main() -> None:
    args = catch_up_split.kept_log_arguments()
    tally = open_tally(args.url, args.schema)
    try:
        head = catch_up_split.kept_log(tally, args)
        if current_position(tally.views, tally.schema) < head:
            caught = projection_log.catch_up(tally)
            print(f"caught up {caught.events:,} events in {caught.seconds:.1f}s", flush=True)
        with catch_up_split.BackendCpu(args.url) as cpu:
            for _ in range(args.runs):
                before = catch_up_split._snapshot(cpu)
                load = os.getloadavg()[0]
                python_started = time.process_time()
                started = time.perf_counter()
                report = replay(tally.store, tally.views, tally.schema, progress=False)
                seconds = time.perf_counter() - started
                python_s = time.process_time() - python_started
                after = catch_up_split._snapshot(cpu)
                backend_s = sum(v - before.get(pid, 0.0) for pid, v in after.items())
                per = 100_000 / max(report.events, 1)
                print(
                    f"load {load:.1f}: {report.events / seconds:,.0f} events/s incl. compare "
                    f"({report.events:,} in {seconds:.2f}s; rebuild {report.seconds:.2f}s, "
                    f"compare {report.compare_seconds:.2f}s, ok {report.ok}); per 100k: "
                    f"Python {python_s * per:.2f}s, Postgres {backend_s * per:.2f}s",
                    flush=True,
                )
    finally:
        tally.close()


if __name__ == "__main__":
    main()
