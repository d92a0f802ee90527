"""Catch-up speed of the billing read models on a subscription-heavy log.

``python -m bench.billing_catch_up [--subscriptions 10000] [--rounds 3]``

Writes customers and monthly subscriptions straight through the event store (the
command layer has its own benchmark), then measures ``ProjectionWorker.catch_up()``:

1. building the read models from a log of registrations and starts;
2. each renewal round: every subscription renewed once (10,000 ``Renewed`` events for
   10,000 stored subscription states), which is what a month's scheduler passes or a
   test clock's advance produce;
3. ``replay`` of the whole log, with its comparison.

Uses ``TALLY_DATABASE_URL`` (or the embedded Postgres) in a scratch schema it drops.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
from psycopg import sql

from api.bootstrap import build
from api.settings import Settings
from domain.customers import Customer
from domain.subscriptions import Subscription
from projections.replay import replay
from projections.runner import ProjectionWorker

START = datetime(2027, 1, 31, 9, tzinfo=UTC)
CHUNK = 500  # aggregates per save


def _save(store: Any, aggregates: list[Any]) -> None:
    for i in range(0, len(aggregates), CHUNK):
        store.save(*aggregates[i : i + CHUNK])


def _timed(label: str, worker: ProjectionWorker) -> None:
    started = time.perf_counter()
    events = worker.catch_up(timeout_s=3600)
    seconds = time.perf_counter() - started
    print(f"{label:<34} {events:>8} events {seconds:7.2f}s {events / seconds:>9,.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    schema = f"bench_{secrets.token_hex(4)}"
    url = os.environ.get("TALLY_DATABASE_URL")
    tally = build(Settings(database_url=url, db_schema=schema, pool_size=8))
    try:
        store: Any = tally.store
        project_id, price_id = uuid4(), str(uuid4())
        subs: list[Subscription] = []
        customers: list[Customer] = []
        for i in range(args.subscriptions):
            customer = Customer.register(project_id, f"user_{i}", f"u{i}@example.com", "", "EUR")
            customers.append(customer)
            subs.append(
                Subscription.start(
                    project_id=project_id,
                    customer_id=customer.id,
                    currency="EUR",
                    items=[{"price_id": price_id, "quantity": 1, "amount": 2900}],
                    interval="month",
                    interval_count=1,
                    now=START + timedelta(minutes=i % 1440),
                )
            )
        _save(store, [*customers, *subs])
        worker = ProjectionWorker(tally.store, tally.views, tally.schema)
        _timed("build (registrations + starts)", worker)
        for month in range(1, args.rounds + 1):
            now = START + timedelta(days=32 * month)
            for sub in subs:
                sub.process_due(now)
            _save(store, list(subs))
            _timed(f"renewal round {month}", worker)
        started = time.perf_counter()
        report = replay(tally.store, tally.views, tally.schema, progress=False)
        print(report.summary().splitlines()[0], f"(total {time.perf_counter() - started:.2f}s)")
        assert report.ok, report.summary()
    finally:
        tally.close()
        with psycopg.connect(tally.target.url, autocommit=True) as conn:
            for name in (schema, f"{schema}_replay"):
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )


if __name__ == "__main__":
    main()
