"""Signed webhooks from a backlog (issue 12): events/s and CPU per delivered event.

``python -m bench.webhooks [--events 100000]``

1. A test-mode project with one endpoint, and a local keep-alive receiver in a process of
   its own (uvicorn, httptools), which verifies every request with the
   ``standardwebhooks`` library and counts what it accepted, the ids it saw twice and
   the events that came out of log order.
2. A backlog: a few real deposits go through the command bus and the read models; their
   ``integration_events`` rows are copied, cyclically, into ``--events`` rows after them
   (the outbox the delivery reads; writing 100,000 events through the bus is another
   benchmark's work).
3. Baselines: the same signed POSTs (the same envelopes, rendered beforehand, not timed;
   signed and sent in the loop) by a plain ``httpx.Client`` loop, and by a plain
   ``http.client`` loop (what Tally sends with), no Tally.
4. Tally: the endpoint's delivery (``WebhookDelivery.deliver_endpoint``, the pool
   thread's work, called until it moves nothing) from the same backlog.

For both: events/s, the receiver's counts, and this process's CPU (all threads,
``time.process_time``) per delivered event; Postgres's own CPU is not in it.
Uses ``TALLY_DATABASE_URL`` in a scratch schema it drops.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from itertools import cycle, islice
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import orjson
import psycopg
from cryptography.fernet import Fernet
from psycopg import sql
from pydantic import SecretStr

from adapters.webhook_transport import sign
from api.bootstrap import NO_PROJECT, Tally, build
from api.integration_events import envelope
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from commands.webhook_endpoints import CreateWebhookEndpoint
from projections.integration_events import COLUMNS, events_after
from projections.runner import ProjectionWorker
from projections.schema import table


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _endpoint(tally: Tally, url: str) -> tuple[UUID, UUID, str]:
    made = tally.execute(m.CreateProject(name="bench", mode="test"), Context(NO_PROJECT, "cli"))
    project_id = UUID(made.body["project"]["id"])
    created = tally.execute(CreateWebhookEndpoint(url=url), Context(project_id, "bench"))
    secret = tally.providers.secrets.open(created.body["sealed_secret"])
    return project_id, UUID(created.body["webhook_endpoint"]["id"]), secret


def _backlog(tally: Tally, project_id: UUID, events: int) -> int:
    """``events`` integration-event rows after the real ones; the first one's position."""
    ctx = Context(project_id, "bench")
    opened = tally.execute(m.OpenAccount(owner_ref="bench", currency="EUR"), ctx)
    account_id = UUID(opened.body["account"]["id"])
    for i in range(10):
        tally.execute(m.Deposit(account_id=account_id, amount=100 + i, currency="EUR"), ctx)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up(timeout_s=120)
    head = int(tally.store.recorder.max_notification_id() or 0)
    real = events_after(tally.views, tally.schema, project_id, 0, 1000)
    first = head + 1
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        table(tally.schema, "integration_events"),
        sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS),
    )
    with tally.views.connection() as conn, conn.cursor().copy(copy) as out:
        for i, row in enumerate(islice(cycle(real), events)):
            values = {**row, "position": first + i, "object": orjson.dumps(row["object"]).decode()}
            out.write_row([values[c] for c in COLUMNS])
    return first


def _stats(url: str) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(url).json()
    return stats


def _bodies(tally: Tally, project_id: UUID, first: int) -> list[tuple[str, bytes]]:
    """The backlog's envelopes, rendered as Tally renders them (before the clock starts)."""
    rows, after = [], first - 1
    while page := events_after(tally.views, tally.schema, project_id, after, 5000):
        rows += page
        after = int(page[-1]["position"])
    return [(e["id"], orjson.dumps(e)) for e in (envelope(r, tally) for r in rows)]


def _baseline(label: str, bodies: list[tuple[str, bytes]], url: str, secret: str) -> float:
    """The same signed POSTs by a plain loop, through httpx or ``http.client``; events/s."""
    parts = urlsplit(url)
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        client.post(url.rsplit("/", 1)[0] + "/reset")
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        cpu, started = time.process_time(), time.perf_counter()
        for message_id, body in bodies:
            now = time.time()
            headers = {"content-type": "application/json", "webhook-id": message_id,
                       "webhook-timestamp": str(int(now)),
                       "webhook-signature": sign([secret], message_id, body,
                                                 _at(now))}  # fmt: skip
            if label == "httpx":
                client.post(url, content=body, headers=headers).raise_for_status()
            else:
                conn.request("POST", parts.path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                assert answer.status == 204, answer.status
        conn.close()
        return _report(f"baseline: plain {label} loop", len(bodies), started, cpu, url)


def _at(now: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(now, UTC)


def _tally(tally: Tally, project_id: UUID, endpoint_id: UUID, url: str, events: int) -> float:
    httpx.post(url.rsplit("/", 1)[0] + "/reset")
    delivery = tally.webhooks
    cpu, started = time.process_time(), time.perf_counter()
    moved = 0
    while (step := delivery.deliver_endpoint(project_id, endpoint_id)) > 0:
        moved += step
    assert moved >= events, moved
    return _report("Tally webhook delivery", moved, started, cpu, url)


def _report(label: str, events: int, started: float, cpu: float, url: str) -> float:
    seconds = time.perf_counter() - started
    cpu_us = (time.process_time() - cpu) / events * 1e6
    got = _stats(url)
    rate = events / seconds
    print(f"{label:<30} {events:>7} events {seconds:7.2f}s {rate:>8,.0f} events/s "
          f"{cpu_us:>6.0f} µs CPU/event  receiver: {got}")  # fmt: skip
    assert (got["accepted"], got["refused"]) == (events, 0), got
    assert (got["duplicates"], got["out_of_order"]) == (0, 0), got
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="cProfile Tally's delivery")
    args = parser.parse_args()
    schema = f"bench_{secrets.token_hex(4)}"
    settings = Settings(
        database_url=os.environ.get("TALLY_DATABASE_URL"),
        db_schema=schema,
        secrets_key=SecretStr(Fernet.generate_key().decode()),
        run_webhooks=False,
        run_outbox=False,
    )
    tally = build(settings)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    receiver: subprocess.Popen[bytes] | None = None
    try:
        project_id, endpoint_id, secret = _endpoint(tally, url)
        env = {**os.environ, "BENCH_WEBHOOK_SECRET": secret}
        command = [sys.executable, "-m", "bench.webhook_receiver", str(port)]
        receiver = subprocess.Popen(command, env=env)
        _wait_listening(port)
        first = _backlog(tally, project_id, args.events)
        bodies = _bodies(tally, project_id, first)
        base = _baseline("httpx", bodies, url, secret)
        stdlib = _baseline("http.client", bodies, url, secret)
        # Tally's delivery starts after the endpoint's creation: the real deposits too.
        if args.profile:
            import cProfile

            with cProfile.Profile() as profile:
                done = _tally(tally, project_id, endpoint_id, url, args.events)
            profile.print_stats("tottime")
        else:
            done = _tally(tally, project_id, endpoint_id, url, args.events)
        print(
            f"Tally / httpx loop: {done / base:.2f}, Tally / http.client loop: {done / stdlib:.2f}"
        )
    finally:
        if receiver is not None:
            receiver.terminate()
            receiver.wait(10)
        tally.close()
        with psycopg.connect(tally.target.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"the receiver did not listen on {port}")


if __name__ == "__main__":
    main()
