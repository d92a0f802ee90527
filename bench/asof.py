"""Point-in-time reads' benchmark (issue 15): ``GET /v1/accounts/{id}?as_of=<position>``
on an account with ``--events`` events, beside the live ``GET /v1/accounts/{id}`` in
the same run.

    python bench/asof.py [--events 100000] [--reads 500]

The account is filled through the command bus (``--events`` deposits from 32 threads:
one ``Account.Deposited`` each, so the account's version is ``--events`` + 1, and three
events each in the log), the read models catch up, then one client reads the live
account and the account ``as_of`` random positions of its history, in alternation,
through the real app (``TestClient``, in-process: no network, the whole route).
Printed: p50, p99 and max of each, in ms.

It runs against TALLY_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test)
in a scratch schema it drops afterwards. It asserts nothing: it prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from bench.common import Result, scratch_schemas
from commands import messages as m
from commands.bus import Context
from projections.runner import ProjectionWorker

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def fill(tally: Tally, project_id: UUID, account_id: UUID, events: int) -> list[int]:
    """``events`` deposits into the account; the log positions they answered."""
    context = Context(project_id, "bench")

    def deposit(_: int) -> int:
        outcome = tally.execute(m.Deposit(account_id=account_id, amount=1, currency="EUR"), context)
        assert outcome.position is not None
        return outcome.position

    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(deposit, range(events), chunksize=64))


def measure(http: TestClient, key: str, path: str, positions: list[int], reads: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    live = Result("live GET /v1/accounts/{id}", None, "ms")
    past = Result("GET /v1/accounts/{id}?as_of=<position>", None, "ms")
    pick = random.Random(15)
    for i in range(reads + 20):  # the first 20 of each warm up
        started = time.perf_counter()
        assert http.get(path, headers=headers).status_code == 200
        took = (time.perf_counter() - started) * 1000
        if i >= 20:
            live.latencies_ms.append(took)
        position = pick.choice(positions)
        started = time.perf_counter()
        answer = http.get(path, params={"as_of": str(position)}, headers=headers)
        took = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, answer.text
        if i >= 20:
            past.latencies_ms.append(took)
    for result in (live, past):
        print(
            f"{result.label:44} p50 {result.percentile(0.5):7.2f} ms  "
            f"p99 {result.percentile(0.99):7.2f} ms  max {max(result.latencies_ms):7.2f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=500)
    args = parser.parse_args(argv)
    url = os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL)
    with scratch_schemas(url, "bench_asof") as schema:
        tally = build(Settings(database_url=url, db_schema=schema("s"), pool_size=8))
        try:
            project = tally.execute(m.CreateProject(name="asof"), Context(NO_PROJECT, "cli"))
            project_id = UUID(project.body["project"]["id"])
            key = tally.execute(m.IssueApiKey(project_id=project_id), Context(project_id, "cli"))
            opened = tally.execute(
                m.OpenAccount(owner_ref="busy", currency="EUR"), Context(project_id, "bench")
            )
            account_id = UUID(opened.body["account"]["id"])
            started = time.perf_counter()
            positions = fill(tally, project_id, account_id, args.events)
            print(f"filled {args.events} deposits in {time.perf_counter() - started:.1f} s")
            ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
            with TestClient(create_app(tally)) as http:
                path = f"/v1/accounts/{account_id}"
                measure(http, key.body["secret"], path, positions, args.reads)
        finally:
            tally.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
