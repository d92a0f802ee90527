"""What one usage event costs the server, in-process: the measures of issue 13's (a)
that the machine's load cannot move (or moves least).

    python -m bench.usage_cost [--batches 60] [--warmup 10] [--top 25] [--no-opcodes]

The app (``create_app`` over ``api.bootstrap.build`` on a scratch schema of
TALLY_DATABASE_URL) is served by uvicorn on a thread of this process as ``tally serve``
serves it, with ``settle_heap`` as a served worker calls it; (a)'s client
(``bench.usage``: one ``sum`` meter grouped by one property, its request bytes built
before) posts batches of 500 to ``POST /v1/usage_events/batch`` one at a time.

1. CPU per event: the server's threads (the loop's and the threadpool's, from
   ``/proc/self/task``) and the Postgres backends of this run's connections (their
   ``application_name``, from ``/proc``), over ``--batches`` batches after the warm-up.
2. Python bytecodes per event (``sys.settrace`` opcode events on the loop's thread and
   the route's threadpool threads), per function, over another ``--batches`` batches.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from api.app import create_app, settle_heap
from api.bootstrap import NO_PROJECT, build
from api.settings import Settings
from bench import opcodes
from bench.common import scratch_schemas
from bench.in_process import served
from bench.over_http import HttpConnection
from bench.usage import BATCH, _batch, _now, _setup
from commands import messages as m
from commands.bus import Context

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
CLIENTS = 4  # customers the batches are sent for (one per batch, in turn)


class OpcodeCounter(opcodes.OpcodeCounter):
    """Every thread but the client's."""

    def __init__(self) -> None:
        super().__init__()
        self.client = threading.get_ident()

    def counted(self) -> bool:
        return threading.get_ident() != self.client

    def trace_threadpool(self) -> None:
        """The route's write runs on the threadpool's threads, which also started
        before: it is wrapped to trace its thread from its next call."""
        import api.routes.usage as route

        write = route._write

        def traced(*args: Any) -> Any:
            if self.on and sys.gettrace() is None:
                sys.settrace(self.tracer)
            return write(*args)

        route._write = traced  # type: ignore[assignment]


def _ticks(stat: Path) -> int:
    try:
        text = stat.read_text()
    except OSError:
        return 0
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def server_ticks(client: int) -> int:
    """User plus system ticks of this process's threads but the client's."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        if int(task.name) != client:
            total += _ticks(task / "stat")
    return total


def backend_ticks(url: str, name: str) -> int:
    with psycopg.connect(url) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [name]
        ).fetchall()
    return sum(_ticks(Path(f"/proc/{pid}/stat")) for (pid,) in pids)


def run(url: str, batches: int, warmup: int, top: int, opcodes: bool) -> None:
    name = f"u13cost{os.getpid()}"
    tagged = f"{url}{'&' if '?' in url else '?'}application_name={name}"
    counter = OpcodeCounter()
    with scratch_schemas(url) as schemas:
        tally = build(Settings(database_url=tagged, db_schema=schemas("cost"), pool_size=4))
        try:
            project = tally.execute(m.CreateProject(name="bench"), Context(NO_PROJECT, "bench"))
            project_id = project.body["project"]["id"]
            key = tally.execute(m.IssueApiKey(project_id=project_id), Context(project_id, "b"))
            counter.trace_threadpool()
            with served(counter.wrap(create_app(tally))) as port:
                _setup(port, key.body["secret"], CLIENTS)
                settle_heap()
                http = HttpConnection("127.0.0.1", port, key.body["secret"])
                when, count = _now(), warmup + batches * (2 if opcodes else 1)
                bodies = iter([_batch(n % CLIENTS, n, when) for n in range(count)])
                post = _poster(http, bodies)
                for _ in range(warmup):
                    post()
                report_cpu(url, name, post, batches, counter.client)
                if opcodes:
                    counter.on = True
                    for _ in range(batches):
                        post()
                    counter.on = False
                    report_opcodes(counter, batches * BATCH, top)
                http.close()
        finally:
            tally.close()


def _poster(http: HttpConnection, bodies: Iterator[bytes]) -> Any:
    def post() -> None:
        status, answer = http.request("POST", "/v1/usage_events/batch", next(bodies))
        if status != 200 or b'"created":500' not in answer:
            raise RuntimeError(f"batch answered {status}: {answer[:300]!r}")

    return post


def report_cpu(url: str, name: str, post: Any, batches: int, client: int) -> None:
    tick = os.sysconf("SC_CLK_TCK")
    server, backends = server_ticks(client), backend_ticks(url, name)
    started = time.perf_counter()
    for _ in range(batches):
        post()
    wall = time.perf_counter() - started
    server = server_ticks(client) - server
    backends = backend_ticks(url, name) - backends
    events = batches * BATCH
    print(f"{events:,} events in {wall:.2f} s ({events / wall:,.0f}/s, one client): "
          f"server CPU {server / tick / events * 1e6:.1f} us/event, Postgres backends "
          f"{backends / tick / events * 1e6:.1f} us/event")  # fmt: skip


def report_opcodes(counter: OpcodeCounter, events: int, top: int) -> None:
    total = sum(counter.by_function.values())
    print(f"Python bytecodes per event: {total / events:,.1f}")
    for function, n in counter.by_function.most_common(top):
        print(f"  {n / events:8,.2f}  {function}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-opcodes", action="store_true")
    args = parser.parse_args(argv)
    run(args.url, args.batches, args.warmup, args.top, not args.no_opcodes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
