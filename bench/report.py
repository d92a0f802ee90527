"""The ledger benchmark's printout: the machine it ran on, then one table."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess

import psycopg

from bench.common import Result

# (target as a ratio to (a), or an absolute events/s floor): issue 16's, which raised
# (d) from 20,000 and (e) from 50,000 events/s.
TARGETS: dict[str, str] = {
    "b": ">= 1.0x (a)",
    "c": ">= 0.3x (a)",
    "d": ">= 60,000 events/s",
    "e": ">= 100,000 events/s",
}
RATIO_TARGETS = {"b": 1.0, "c": 0.3}
ABSOLUTE_TARGETS = {"d": 60_000.0, "e": 100_000.0}


def describe_machine(url: str) -> str:
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = "?"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (
        f"tally ledger benchmark  commit {commit or '?'}  python {platform.python_version()}\n"
        f"cpus {os.cpu_count()}  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        f"postgres {version[0] if version else '?'}  synchronous_commit "
        f"{sync[0] if sync else '?'}  fsync {fsync[0] if fsync else '?'}"
    )


def _value(result: Result) -> str:
    if result.value is None:
        return "not available"
    return f"{result.value:>12,.0f} {result.unit}"


def _verdict(key: str, result: Result, baseline: float) -> str:
    if result.value is None:
        return ""
    if key in RATIO_TARGETS:
        met = result.value / baseline >= RATIO_TARGETS[key]
    elif key in ABSOLUTE_TARGETS:
        met = result.value >= ABSOLUTE_TARGETS[key]
    else:
        return ""
    return f"target {TARGETS[key]}: {'met' if met else 'NOT met'}"


def print_report(results: dict[str, Result], args: argparse.Namespace) -> None:
    baseline = results["a"].value or 0.0
    print(
        f"\n{args.threads} client threads, {args.duration:g}s measured after "
        f"{args.warmup:g}s warm-up per rate\n"
    )
    print(f"{'measure':<44} {'value':>26}  {'ratio to (a)':>12}  notes")
    print("-" * 120)
    for key in ("a", "a1", "b", "b_hot", "c", "d", "e"):
        if key not in results:
            continue
        result = results[key]
        ratio = (
            f"{result.value / baseline:>11.2f}x" if result.value is not None and baseline else ""
        )
        notes = "; ".join(x for x in (_verdict(key, result, baseline), result.note) if x)
        print(f"{result.label:<44} {_value(result):>26}  {ratio:>12}  {notes}")
    _print_latency(results)


def _print_latency(results: dict[str, Result]) -> None:
    a, c = results["a"], results.get("c")
    a50, a99 = a.percentile(0.50), a.percentile(0.99)
    if c is None:
        return
    c50, c99 = c.percentile(0.50), c.percentile(0.99)
    if c50 is None or c99 is None or a50 is None or a99 is None:
        print(f"{'(f) p50/p99 latency of (c)':<44} {'not available':>26}")
        return
    print(
        f"{'(f) p50 latency of (c)':<44} {c50:>21.2f} ms    {c50 / a50:>11.2f}x  "
        f"(a) one commit p50 {a50:.2f} ms"
    )
    print(
        f"{'(f) p99 latency of (c)':<44} {c99:>21.2f} ms    {c99 / a99:>11.2f}x  "
        f"(a) one commit p99 {a99:.2f} ms"
    )
    for key in ("b", "b_hot"):
        r = results.get(key)
        if r is not None and r.latencies_ms:
            print(f"    {r.label}: p50 {r.percentile(0.5):.2f} ms, p99 {r.percentile(0.99):.2f} ms")
