"""Python bytecodes per HTTP deposit on the event loop's thread, the measure of (c)'s
server side that load cannot move.

    python -m bench.http_bytecodes [--deposits 50] [--warmup 20] [--top 25]

The app (``create_app`` over ``api.bootstrap.build`` on a scratch schema of
TALLY_DATABASE_URL) is served by uvicorn as ``tally serve`` serves it, on a thread of
this process, and sent requests by (c)'s own client (``bench.over_http``): one project
and key, one account, then deposits with their own idempotency keys, one at a time.
After the warm-up every bytecode of the server's loop thread (the HTTP protocol,
routing, middleware, dependencies, authentication and its key lookup, the route, the
command's run into the bus, the answer) is counted with ``sys.settrace`` opcode events;
the committer's and the projection worker's threads are not (bench/deposit_bytecodes.py
counts the committer). uvloop's own work is C, and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import CodeType
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from api.app import create_app
from api.bootstrap import NO_PROJECT, build
from api.settings import Settings
from bench import opcodes
from bench.common import scratch_schemas
from bench.in_process import served
from bench.over_http import HttpConnection
from commands import messages as m
from commands.bus import Context

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


class LoopCounter(opcodes.OpcodeCounter):
    """Only the server loop's thread, functions named by package/module."""

    def __init__(self) -> None:
        super().__init__()
        self.loop_thread: int | None = None

    def noted(self) -> None:
        self.loop_thread = threading.get_ident()

    def counted(self) -> bool:
        return threading.get_ident() == self.loop_thread

    def key(self, code: CodeType) -> Any:
        return f"{_where(code.co_filename)}:{code.co_qualname}"


def run(url: str, deposits: int, warmup: int, top: int) -> None:
    counter = LoopCounter()
    with scratch_schemas(url) as schema:
        tally = build(Settings(database_url=url, db_schema=schema("httpbc"), pool_size=8))
        try:
            project = tally.execute(m.CreateProject(name="bench"), Context(NO_PROJECT, "bench"))
            project_id = project.body["project"]["id"]
            issued = tally.execute(m.IssueApiKey(project_id=project_id), Context(project_id, "b"))
            with served(counter.wrap(create_app(tally))) as port:
                http = HttpConnection("127.0.0.1", port, issued.body["secret"])
                try:
                    account = _open_account(http)
                    path = f"/v1/accounts/{account}/deposits"
                    for n in range(warmup):
                        _deposit(http, path, f"w-{n}")
                    counter.on = True
                    for n in range(deposits):
                        _deposit(http, path, f"c-{n}")
                    counter.on = False
                finally:
                    http.close()
        finally:
            tally.close()
    report(counter, deposits, top)


def _open_account(http: HttpConnection) -> str:
    """An account, once the new key authenticates (the read model has applied it)."""
    deadline = time.monotonic() + 30
    while True:
        status, body = http.request("POST", "/v1/accounts", {"owner_ref": "b", "currency": "EUR"})
        if status != 401 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if status != 201:
        raise RuntimeError(f"opening an account answered {status}: {body[:300]!r}")
    return str(json.loads(body)["id"])


def _deposit(http: HttpConnection, path: str, key: str) -> None:
    body = {"amount": 100, "currency": "EUR"}
    status, answer = http.request("POST", path, body, f"Idempotency-Key: {key}\r\n")
    if status != 201:
        raise RuntimeError(f"deposit answered {status}: {answer[:300]!r}")


def _where(filename: str) -> str:
    """A code's file as package/module (``fastapi/routing.py``, ``api/auth.py``)."""
    path = Path(filename)
    return f"{path.parent.name}/{path.name}"


def report(counter: LoopCounter, count: int, top: int) -> None:
    total = sum(counter.by_function.values())
    print(f"{count} deposits: {total / count:,.0f} bytecodes per deposit on the loop's thread")
    by_file: Counter[str] = Counter()
    for name, n in counter.by_function.items():
        by_file[name.split(":", 1)[0]] += n
    print(f"top {top} files (bytecodes per deposit):")
    for name, n in by_file.most_common(top):
        print(f"  {n / count:8,.1f}  {name}")
    print(f"top {top} functions (bytecodes per deposit, own code only):")
    for name, n in counter.by_function.most_common(top):
        print(f"  {n / count:8,.1f}  {counter.calls[name] / count:5.1f} calls  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--deposits", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    run(args.url, args.deposits, args.warmup, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
