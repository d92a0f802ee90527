"""Usage ingestion and current usage (issue 13), against a real ``tally serve``.

    python -m bench.usage [--seconds 15] [--threads 8] [--workers 2] [--query-events 200000]
                          [--only-consume]

(a) Ingestion over HTTP: ``--threads`` clients post batches of 500 usage events
    (``POST /v1/usage_events/batch``, keep-alive, every batch's request bytes built
    before the clock starts, each event with a fresh transaction id), each event read by
    a ``sum`` meter grouped by one property; every answer must be 200 with 500 created.
    Beside it, in the same run, the same number of rows (up to 300,000) ``COPY``'d into
    a plain table (no keys, no indexes) in batches of 500, their COPY data also built
    before its clock: the baseline. A second baseline writes the same rows, held as
    Python values, through psycopg's ``write_row`` (each row formatted inside the clock,
    as a Python program COPYing them would); the ratio to each is printed.
(b) Deduplication: 20 batches already sent are sent again; every event must answer
    ``existed``, and the usage table and its totals must hold each event once.
(c) The current-usage query: a subscription with ``--query-events`` events in its
    current period (written through the same store, spread over the period; its period
    is a month from now, so they are dated ahead of the wall clock), then
    ``GET /v1/subscriptions/{id}/usage`` sequentially: 50 warm-up queries (shown apart),
    then p50 and p99 of 1,000.
(d) Prepaid credits: ``--threads`` clients on ONE customer post
    ``POST /v1/credits/consume`` (1 minor unit, each with its own Idempotency-Key) back to
    back: consumptions per second, the server's CPU per consumption (its workers and
    projection process), p50/p99; then the customer's balance must be what was granted
    less exactly the consumptions answered 201 (never overspent, never lost).

The rates follow whatever CPU the machine has left; the ratio to COPY was measured in
the same run. Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from bench.common import run_threads, scratch_schemas
from bench.over_http import (
    HttpConnection,
    cpu_seconds,
    create_project,
    running_server,
    server_env,
)

BATCH = 500
QUERY_WARMUP, QUERIES = 50, 1000  # (c)


def _event(thread: int, n: int, when: str) -> dict[str, Any]:
    return {
        "transaction_id": f"t{thread}-{n}",
        "external_customer_id": f"user_{thread}",
        "event_name": "completion",
        "timestamp": when,
        "properties": {"tokens": str(n % 997), "model": ("small", "large")[n % 2]},
    }


def _setup(port: int, token: str, threads: int) -> None:
    conn = HttpConnection("127.0.0.1", port, token)
    meter = {"code": "tokens", "name": "Tokens", "event_name": "completion",
             "aggregation": "sum", "property": "tokens", "group_by": ["model"]}  # fmt: skip
    _until(lambda: conn.request("POST", "/v1/meters", meter), (201, 200))
    for i in range(threads):
        body = {"external_id": f"user_{i}", "currency": "EUR"}
        _until(lambda body=body: conn.request("POST", "/v1/customers", body), (201, 200))
    # The door reads the customers and meters read models: wait until they hold them.
    probe = {"events": [_event(i, -1, _now()) for i in range(threads)]}
    _until(lambda: conn.request("POST", "/v1/usage_events/batch", probe), (200,),
           lambda body: json.loads(body)["refused"] == 0)  # fmt: skip
    conn.close()


def _until(call: Any, statuses: tuple[int, ...], check: Any = None) -> bytes:
    deadline = time.monotonic() + 60
    while True:
        status, body = call()
        if status in statuses and (check is None or check(body)):
            return bytes(body)
        if time.monotonic() > deadline:
            raise RuntimeError(f"setup answered {status}: {body[:300]!r}")
        time.sleep(0.2)


def _now() -> str:
    return datetime.now().astimezone().isoformat()


# Request bytes built before the clock: enough batches per client for this rate over
# the warm-up and the window (2.6 times the quiet box's 37,866 events/s at 593a327; 15 s
# take about 320 MB and 6 s to build); a client that runs out builds its next batches in
# the loop, and the report says so.
PREBUILT_RATE = 100_000
WARMUP_S = 2.0


def prebuild(threads: int, seconds: float) -> dict[int, list[bytes]]:
    """Per client, its batches' request bodies, each event with a fresh transaction id."""
    count = -(-int(PREBUILT_RATE * (seconds + WARMUP_S)) // (threads * BATCH))
    when = _now()
    return {i: [_batch(i, n, when) for n in range(count)] for i in range(threads)}


def _batch(thread: int, n: int, when: str) -> bytes:
    events = [_event(thread, n * BATCH + k, when) for k in range(BATCH)]
    return json.dumps({"events": events}).encode()


def ingest(
    port: int, token: str, seconds: float, batches: dict[int, list[bytes]]
) -> tuple[float, int, dict[int, list[bytes]], int]:
    """(a): events per second over HTTP, the batches each client sent, and how many
    were built inside the clock (none unless a client ran out of ``batches``)."""
    sent: dict[int, list[bytes]] = {}
    failures: list[str] = []
    built_late = [0] * len(batches)

    def make_worker(i: int) -> Any:
        conn = HttpConnection("127.0.0.1", port, token)
        sent[i] = []
        ready = iter(batches[i])
        when = _now()

        def post() -> None:
            body = next(ready, None)
            if body is None:
                built_late[i] += 1
                body = _batch(i, len(sent[i]), when)
            status, answer = conn.request("POST", "/v1/usage_events/batch", body)
            if status != 200 or b'"created":500' not in answer:
                failures.append(f"batch answered {status}: {answer[:300]!r}")
                raise RuntimeError(failures[-1])
            sent[i].append(body)

        return post

    result = run_threads(len(batches), WARMUP_S, seconds, make_worker)
    if result.errors:
        print(f"  ! {result.errors} batches failed, the first: {(failures or ['?'])[0]}")
    return result.rate * BATCH, result.errors, sent, sum(built_late)


def copy_baseline(url: str, schema: str, rows: int) -> float:
    """Rows per second COPY'd into a plain table with the usage table's columns, in
    transactions of 500 rows (as the HTTP batches), on one connection. Each batch's COPY
    data is built before the clock, as (a)'s request bytes are: both sides time sending
    ready bytes and what the server does with them."""
    with psycopg.connect(url, autocommit=True) as conn:
        target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier("copy_usage"))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (project_id uuid, transaction_id text, customer_id uuid, "
                "subscription_id uuid, event_name text, occurred_at timestamptz, "
                "properties jsonb, meter_ids uuid[], received_at timestamptz)"
            ).format(target)
        )
        data = _copy_batches(rows)
        statement = sql.SQL("COPY {} FROM STDIN").format(target)
        started = time.perf_counter()
        for chunk in data:
            with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
                copy.write(chunk)
        return rows / (time.perf_counter() - started)


def copy_rows_baseline(url: str, schema: str, rows: int) -> float:
    """The second baseline: the same rows as Python values (built before the clock),
    written through psycopg's COPY row by row (``write_row``), as a Python program COPYing
    them would: the formatting of each row is timed, as (a)'s server parses each event."""
    project, customer, meter = UUID(int=1), UUID(int=2), UUID(int=3)
    now = datetime.now().astimezone()
    values = [
        (project, f"c-{n}", customer, None, "completion", now,
         json.dumps({"tokens": str(n % 997), "model": "small"}), [meter], now)
        for n in range(rows)
    ]  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier("copy_rows"))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {})").format(
            target, sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier("copy_usage"))
        ))  # fmt: skip
        statement = sql.SQL("COPY {} FROM STDIN").format(target)
        started = time.perf_counter()
        for first in range(0, rows, BATCH):
            with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
                for row in values[first : first + BATCH]:
                    copy.write_row(row)
        return rows / (time.perf_counter() - started)


def _copy_batches(rows: int) -> list[bytes]:
    """The baseline's rows in COPY's text format, BATCH rows a chunk (none of the values
    holds a tab, a newline or a backslash, so nothing is escaped)."""
    project, customer, meter = UUID(int=1), UUID(int=2), UUID(int=3)
    now = datetime.now().astimezone().isoformat()
    chunks = []
    for first in range(0, rows, BATCH):
        lines = []
        for n in range(first, min(rows, first + BATCH)):
            props = json.dumps({"tokens": str(n % 997), "model": "small"})
            lines.append(f"{project}\tc-{n}\t{customer}\t\\N\tcompletion\t{now}\t{props}"
                         f"\t{{{meter}}}\t{now}\n")  # fmt: skip
        chunks.append("".join(lines).encode())
    return chunks


def dedup(url: str, schema: str, port: int, token: str, sent: dict[int, list[bytes]]) -> str:
    """(b): resend 20 batches; each event must answer existed and be stored once."""
    conn = HttpConnection("127.0.0.1", port, token)
    resent = [body for bodies in sent.values() for body in bodies[:3]][:20]
    existed = 0
    for body in resent:
        status, answer = conn.request("POST", "/v1/usage_events/batch", body)
        existed += json.loads(answer)["existed"] if status == 200 else 0
    conn.close()
    unique = sum(len(bodies) for bodies in sent.values()) * BATCH
    with psycopg.connect(url) as db:
        rows = db.execute(
            sql.SQL("SELECT count(*) FROM {}.usage_events WHERE transaction_id NOT LIKE %s")
            .format(sql.Identifier(schema)), ["%--1"],
        ).fetchone()  # fmt: skip
        totals = db.execute(
            sql.SQL("SELECT sum(events) FROM {}.usage_totals WHERE width_s = 3600").format(
                sql.Identifier(schema)
            )
        ).fetchone()
    assert rows is not None
    assert totals is not None
    probes = len(sent)  # the set-up's probe events, one per client
    ok = existed == len(resent) * BATCH and rows[0] == unique and totals[0] == unique + probes
    return (
        f"resent {len(resent)} batches: {existed:,} existed; usage_events {rows[0]:,} rows "
        f"for {unique:,} distinct ids; totals count {totals[0] - probes:,}: "
        + ("holding" if ok else "BROKEN")
    )


def query_latency(url: str, schema: str, port: int, token: str, events: int) -> str:
    """(c): p50/p99 of the current-usage query of a subscription with ``events``."""
    from psycopg_pool import ConnectionPool

    from adapters.usage_store import write
    from domain.usage import Accepted, MeterRule, readings

    conn = HttpConnection("127.0.0.1", port, token)
    product = json.loads(_until(lambda: conn.request(
        "POST", "/v1/products", {"code": "API", "name": "API"}), (201, 200)))  # fmt: skip
    price_body = {"product_id": product["id"], "lookup_key": "tokens", "currency": "EUR",
                  "scheme": "metered", "meter": "tokens", "unit_amount": 1,
                  "interval": "month"}  # fmt: skip
    price = json.loads(_until(lambda: conn.request("POST", "/v1/prices", price_body), (201, 200)))
    # A customer of its own: (a)'s events, all dated when (a) began, would be in the
    # period's first minute and read one by one.
    customer = json.loads(_until(lambda: conn.request(
        "POST", "/v1/customers", {"external_id": "query_user", "currency": "EUR"}),
        (201, 200)))  # fmt: skip
    sub_body = {"customer_id": customer["id"], "items": [{"price_id": price["id"]}]}
    sub = json.loads(_until(lambda: conn.request("POST", "/v1/subscriptions", sub_body), (201,)))
    start = datetime.fromisoformat(sub["current_period_start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(sub["current_period_end"].replace("Z", "+00:00"))
    meters = json.loads(_until(lambda: conn.request("GET", "/v1/meters"), (200,)))["data"]
    rule = MeterRule.of(meters[0])
    pool: ConnectionPool[Any] = ConnectionPool(url, min_size=1, max_size=2, open=True)
    project = _project_of(pool, schema, customer["id"])
    step = (end - start) / events
    loaded = time.perf_counter()
    for first in range(0, events, 5_000):
        batch = []
        for n in range(first, min(events, first + 5_000)):
            props = {"tokens": str(n % 997), "model": ("small", "large")[n % 2]}
            batch.append(Accepted(f"q-{n}", UUID(customer["id"]), UUID(sub["id"]),
                                  "completion", start + step * n, props,
                                  readings([rule], props)))  # fmt: skip
        write(pool, schema, project, batch, start)
    load_s = time.perf_counter() - loaded
    pool.close()
    conn.close()  # idle while loading: the server has closed it
    conn = HttpConnection("127.0.0.1", port, token)
    path = f"/v1/subscriptions/{sub['id']}/usage"
    latencies = []
    # The first queries after the bulk load meet cold caches and unplanned statements
    # (each server worker's first few); they are timed and shown, not counted in p50/p99,
    # which are taken over QUERIES warm ones (with 300, the p99 was the third worst and
    # so one of those first queries).
    for _ in range(QUERY_WARMUP + QUERIES):
        began = time.perf_counter()
        status, body = conn.request("GET", path)
        latencies.append((time.perf_counter() - began) * 1000)
        if status != 200:
            raise RuntimeError(f"usage answered {status}: {body[:200]!r}")
    conn.close()
    cold, warm = latencies[:QUERY_WARMUP], sorted(latencies[QUERY_WARMUP:])
    p50, p99 = warm[len(warm) // 2], warm[int(len(warm) * 0.99)]
    total = json.loads(body)["meters"][0]["groups"]
    return (
        f"{events:,} events in the period (loaded in {load_s:.1f} s), {QUERIES} queries "
        f"after {QUERY_WARMUP} warm-up ones: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"(warm-up: first {cold[0]:.1f} ms, worst {max(cold):.1f} ms); answer {total}"
    )


def consume(port: int, token: str, pid: int, threads: int, seconds: float) -> str:
    """(d): consumptions of one customer's credits per second, and the check."""
    conn = HttpConnection("127.0.0.1", port, token)
    customer = json.loads(_until(lambda: conn.request(
        "POST", "/v1/customers", {"external_id": "credit_user", "currency": "EUR"}),
        (201, 200)))  # fmt: skip
    granted = 10**12
    grant = {"customer_id": customer["id"], "kind": "paid", "amount": granted}
    _until(lambda: conn.request("POST", "/v1/credit_grants", grant), (201,))
    answered: list[int] = []  # every 201, warm-up included
    failures: list[str] = []

    def make_worker(i: int) -> Any:
        worker = HttpConnection("127.0.0.1", port, token)
        counter = iter(range(10**9))
        body = {"customer_id": customer["id"], "amount": 1}

        def post() -> None:
            key = f"Idempotency-Key: c{i}-{next(counter)}\r\n"
            status, answer = worker.request("POST", "/v1/credits/consume", body, key)
            if status != 201:
                failures.append(f"consume answered {status}: {answer[:200]!r}")
                raise RuntimeError(failures[-1])
            answered.append(1)

        return post

    cpu_before = cpu_seconds(pid)
    result = run_threads(threads, 2.0, seconds, make_worker)
    cpu_after = cpu_seconds(pid)
    conn.close()  # idle while the clients ran: the server has closed it
    conn = HttpConnection("127.0.0.1", port, token)
    path = f"/v1/customers/{customer['id']}/credits?wait_for_position=0"
    left = _until(
        lambda: conn.request("GET", path),
        (200,),
        lambda b: json.loads(b)["balances"][0]["balance"] == granted - len(answered),
    )
    conn.close()
    held = json.loads(left)["balances"][0]["balance"] == granted - len(answered)
    lat = sorted(result.latencies_ms) or [0.0]
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
    cpu = ""
    if cpu_before is not None and cpu_after is not None and answered:
        cpu = f", server CPU {(cpu_after - cpu_before) / len(answered) * 1e6:,.0f} us/consume"
    first = f" (the first: {failures[0]})" if failures else ""
    return (
        f"{result.rate:,.0f} consumptions/s ({threads} clients, one customer, "
        f"{result.errors} failed{first}){cpu}; p50 {p50:.1f} ms, p99 {p99:.1f} ms; balance "
        + ("exact: granted - consumed" if held else "WRONG")
    )


def _project_of(pool: Any, schema: str, customer_id: str) -> UUID:
    """The customer's project, once the customers read model holds it."""
    for _ in range(300):
        with pool.connection() as db:
            row = db.execute(
                sql.SQL("SELECT project_id FROM {}.customers WHERE id = %s").format(
                    sql.Identifier(schema)
                ),
                [customer_id],
            ).fetchone()
        if row is not None:
            return UUID(str(row[0]))
        time.sleep(0.1)
    raise RuntimeError("the customer never reached its read model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured ingestion time")
    parser.add_argument("--threads", type=int, default=8, help="HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="tally serve workers")
    parser.add_argument("--query-events", type=int, default=200_000, help="for (c)")
    parser.add_argument("--only-consume", action="store_true", help="run (d) alone")
    args = parser.parse_args()
    url = os.environ.get("TALLY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with scratch_schemas(url, "bench_usage") as schemas:
        schema = schemas("http")
        # Few connections per worker: the shared Postgres has other users.
        env = {**server_env(url, schema), "TALLY_POOL_SIZE": "4"}
        with running_server(env, args.workers, "warning") as server:
            token = create_project(env)
            if not args.only_consume:
                ingestion(url, schema, server, token, args)
            print("(d) " + consume(server.port, token, server.pid, args.threads, args.seconds))


def ingestion(url: str, schema: str, server: Any, token: str, args: argparse.Namespace) -> None:
    """(a), (b) and (c)."""
    _setup(server.port, token, args.threads)
    batches = prebuild(args.threads, args.seconds)
    cpu_before = cpu_seconds(server.pid)
    rate, errors, sent, built_late = ingest(server.port, token, args.seconds, batches)
    cpu_after = cpu_seconds(server.pid)
    del batches
    rows = sum(len(bodies) for bodies in sent.values()) * BATCH
    copy_rate = copy_baseline(url, schema, min(rows, 300_000))
    rows_rate = copy_rows_baseline(url, schema, min(rows, 300_000))
    print(f"(a) HTTP ingestion: {rate:,.0f} events/s ({args.threads} clients, batches "
          f"of {BATCH}, {args.workers} workers, {errors} failed batches)")  # fmt: skip
    if built_late:
        print(f"    ! {built_late} batches built inside the clock (clients ran out)")
    if cpu_before is not None and cpu_after is not None and rows:
        # Every event sent (warm-up included) over the server's CPU in that time;
        # Postgres's CPU is not in it.
        print(f"    server CPU: {(cpu_after - cpu_before) / rows * 1e6:,.1f} us/event")
    print(f"    COPY baseline:  {copy_rate:,.0f} rows/s; ratio {rate / copy_rate:.2f}")
    print(f"    COPY of rows formatted by psycopg (write_row): {rows_rate:,.0f} rows/s; "
          f"ratio {rate / rows_rate:.2f}")  # fmt: skip
    print("(b) " + dedup(url, schema, server.port, token, sent))
    print("(c) " + query_latency(url, schema, server.port, token, args.query_events))


if __name__ == "__main__":
    main()
