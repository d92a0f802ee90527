"""The ledger benchmark: one process, one Postgres, every figure beside its ratio to (a).

    python bench/ledger.py [--duration 10] [--log-events 100000] ...

(a) raw psycopg single-row INSERT commits/s, 8 client threads (the baseline)
(b) Deposit commands/s through the command layer, 8 client threads (each thread its own
    account; the single hot account is reported beside it)
(c) Deposit commands/s over HTTP against ``tally serve``, 8 client threads
(d) projection catch-up events/s from zero
(e) ``tally replay`` events/s
(f) p50/p99 latency of (c), beside (a)'s per-commit latency

It runs against TALLY_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test) in
scratch schemas it drops afterwards. A benchmark asserts nothing: it prints what it
measured. A part whose code is missing prints "not available" instead of a number.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench import command_layer, raw_inserts
from bench.common import LoopResult, Result, scratch_schemas
from bench.report import describe_machine, print_report

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--threads", type=int, default=8, help="client threads for a, b, c")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per rate")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--log-events", type=int, default=100_000, help="log size for d and e")
    parser.add_argument("--log-accounts", type=int, default=500, help="accounts in that log")
    parser.add_argument("--server-workers", type=int, default=1, help="tally serve workers")
    parser.add_argument(
        "--server-log-level", default="warning", help="tally serve log level (info logs access)"
    )
    parser.add_argument("--only", default="abcdef", help="parts to run, e.g. 'ab' (a always runs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print(describe_machine(args.url), flush=True)
    results: dict[str, Result] = {}
    with scratch_schemas(args.url) as schema:
        results["a"] = _rate_result(
            "(a) raw INSERT+COMMIT/s, 1 row per txn",
            raw_inserts.measure(args.url, schema("a"), args.threads, args.warmup, args.duration),
            "commits/s",
        )
        _progress(results["a"])
        # The same with one thread: one commit (and its WAL flush) at a time, which is what
        # a writer holding the event table's lock gets; (a) / (a1) is how much Postgres's
        # own group commit gave the 8 threads of (a).
        results["a1"] = _rate_result(
            "(a1) the same, 1 client thread",
            raw_inserts.measure(
                args.url, schema("a1"), 1, args.warmup, max(1.0, args.duration / 2)
            ),
            "commits/s",
            "context: one flush per commit",
        )
        _progress(results["a1"])
        if "b" in args.only:
            _command_layer(args, schema("b"), results)
        if "c" in args.only:
            _http(args, schema("c"), results)
        if "d" in args.only or "e" in args.only:
            _log(args, schema("d"), results)
    print_report(results, args)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f}s")
    return 0


def _rate_result(label: str, loop: LoopResult, unit: str, note: str = "") -> Result:
    if loop.detail:
        note = f"{note}; {loop.detail}".lstrip("; ")
    if loop.errors:
        note = f"{note}; {loop.errors} errors".lstrip("; ")
        if loop.error_samples:
            note = f"{note} ({'; '.join(loop.error_samples)})"
    return Result(label, loop.rate, unit, note, loop.latencies_ms)


def _progress(result: Result) -> None:
    value = "not available" if result.value is None else f"{result.value:,.0f} {result.unit}"
    print(f"  measured {result.label}: {value}", flush=True)


def _command_layer(args: argparse.Namespace, schema: str, results: dict[str, Result]) -> None:
    tally = command_layer.open_tally(args.url, schema)
    try:
        own = command_layer.measure(tally, args.threads, args.warmup, args.duration, hot=False)
        results["b"] = _rate_result(
            "(b) Deposit commands/s, command layer", own, "deposits/s", "each thread its account"
        )
        _progress(results["b"])
        hot = command_layer.measure(tally, args.threads, args.warmup, args.duration, hot=True)
        results["b_hot"] = _rate_result(
            "(b) same, all threads on ONE account", hot, "deposits/s", "one hot account"
        )
        _progress(results["b_hot"])
    finally:
        tally.close()


def _http(args: argparse.Namespace, schema: str, results: dict[str, Result]) -> None:
    label = "(c) Deposit commands/s over HTTP"
    try:
        from bench import over_http

        env = over_http.server_env(args.url, schema)
        # The CLI makes the schema's tables and the project before the server starts.
        token = over_http.create_project(env)
        with over_http.running_server(env, args.server_workers, args.server_log_level) as server:
            loop = over_http.measure(server, token, args.threads, args.warmup, args.duration)
    except (ImportError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"  (c) not available: {exc}", flush=True)
        results["c"] = Result(label, None, "requests/s", f"not available: {exc}"[:200])
        return
    note = f"tally serve, {args.server_workers} worker(s), log level {args.server_log_level}"
    results["c"] = _rate_result(label, loop, "requests/s", note)
    _progress(results["c"])


def _log(args: argparse.Namespace, schema: str, results: dict[str, Result]) -> None:
    try:
        from bench import projection_log
        from projections import replay as _replay  # noqa: F401  (is it there?)
        from projections import runner as _runner  # noqa: F401
    except ImportError as exc:
        for key, label in (("d", "(d) projection catch-up"), ("e", "(e) tally replay")):
            results[key] = Result(label, None, "events/s", f"not available: {exc}")
        return
    tally = command_layer.open_tally(args.url, schema)
    try:
        length, seconds = projection_log.build_log(
            tally, args.log_events, args.log_accounts, args.threads
        )
        print(f"  wrote a log of {length:,} events in {seconds:.1f}s", flush=True)
        caught = projection_log.catch_up(tally)
        results["d"] = Result(
            "(d) projection catch-up from zero",
            caught.rate,
            "events/s",
            f"{caught.events:,} events in {caught.seconds:.2f}s, {caught.detail}",
        )
        _progress(results["d"])
        replayed = projection_log.replay(tally)
        results["e"] = Result(
            "(e) replay (rebuild + compare)",
            replayed.rate,
            "events/s",
            f"{replayed.events:,} events in {replayed.seconds:.2f}s; {replayed.detail}",
        )
        _progress(results["e"])
    finally:
        tally.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except psycopg.OperationalError as exc:
        print(f"cannot reach Postgres: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
