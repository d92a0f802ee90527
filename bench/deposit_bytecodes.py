"""Python bytecodes per deposit through the command layer, the measure load cannot move.

    python -m bench.deposit_bytecodes [--deposits 400] [--clients 4] [--top 25]

Tally is built as (b) builds it (``api.bootstrap.build`` on a scratch schema of
TALLY_DATABASE_URL); a few client threads each deposit into their own account with their
own idempotency keys, as (b) does. After a warm-up, every bytecode every thread runs (the
clients' ``tally.execute`` and the bus's committer) is counted with ``sys.settrace``
opcode events, per thread group and per function. The counts depend on how the clients'
commands fall into batches (the committer's share is per batch), so compare runs with the
same ``--clients``; the clients' share per deposit barely moves with it.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections import Counter
from pathlib import Path
from types import CodeType
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import opcodes
from bench.command_layer import ACTOR, make_project, open_accounts, open_tally
from bench.common import scratch_schemas
from commands import messages as m
from commands.bus import Context

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


class OpcodeCounter(opcodes.OpcodeCounter):
    """Per (thread group, function): the committer's thread apart from the clients'."""

    def key(self, code: CodeType) -> Any:
        group = "committer" if threading.current_thread().name == "tally-committer" else "clients"
        return (group, super().key(code))


def run(url: str, deposits: int, clients: int, top: int) -> None:
    counter = OpcodeCounter()
    threading.settrace(counter.tracer)  # the committer starts with the first command
    with scratch_schemas(url) as schema:
        tally = open_tally(url, schema("bytecodes"))
        try:
            project_id = make_project(tally)
            accounts = open_accounts(tally, project_id, clients, "bc")
            per_client = deposits // clients
            barrier = threading.Barrier(clients + 1)

            def client(i: int) -> None:
                sys.settrace(counter.tracer)
                for phase in ("warm", "count"):
                    barrier.wait()
                    for n in range(per_client):
                        command = m.Deposit(account_id=accounts[i], amount=100, currency="EUR")
                        tally.execute(command, Context(project_id, ACTOR, f"{phase}-{i}-{n}"))
                    barrier.wait()

            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            barrier.wait()  # warm-up starts
            barrier.wait()  # warm-up done
            before = tally.bus.stats()
            counter.on = True
            barrier.wait()  # counting starts
            barrier.wait()  # counting done
            counter.on = False
            after = tally.bus.stats()
            for t in threads:
                t.join()
        finally:
            threading.settrace(None)  # type: ignore[arg-type]
            tally.close()
    report(counter, per_client * clients, before, after, top)


def report(
    counter: OpcodeCounter, count: int, before: dict[str, float], after: dict[str, float], top: int
) -> None:
    batches = after["batches"] - before["batches"]
    commands = after["commands"] - before["commands"]
    groups: Counter[str] = Counter()
    for (group, _), n in counter.by_function.items():
        groups[group] += n
    total = sum(groups.values())
    mean = commands / batches if batches else 0.0
    print(f"{count} deposits, {batches:.0f} batches (mean {mean:.1f} commands)")
    print(f"bytecodes per deposit: {total / count:,.0f}")
    for group, n in sorted(groups.items()):
        print(f"  {group}: {n / count:,.0f}")
    print(f"top {top} functions (bytecodes per deposit):")
    for (group, name), n in counter.by_function.most_common(top):
        calls = counter.calls[group, name] / count
        print(f"  {n / count:8,.1f}  {calls:5.1f} calls  {group:9}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--deposits", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    run(args.url, args.deposits, args.clients, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
