"""The subscriptions benchmark: how fast due work gets done.

    python bench/subscriptions.py [--subscriptions 10000] [--clock-customers 100]

(1) Renewals per second the scheduler completes for N subscriptions that are all due:
    N monthly subscriptions are created at t0, the application's clock moves past their
    period end, the read models catch up, and the timed part is the scheduler's passes
    until nothing is due (each renewal also drafts that period's invoice).
(2) The time a test clock takes to advance one year for M customers, each with one
    monthly subscription: one AdvanceTestClock command (12 renewals and their invoices
    per customer, in time order, in one transaction).

It runs against TALLY_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test) in
scratch schemas it drops afterwards, and asserts nothing: it prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.clock import FixedClock
from api.bootstrap import NO_PROJECT, Tally, build
from api.scheduler import Scheduler
from api.settings import Settings
from bench.common import scratch_schemas
from commands import messages as m
from commands.bus import Context
from projections.runner import ProjectionWorker

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
T0 = datetime(2027, 1, 15, 9, tzinfo=UTC)


def _setup(tally: Tally, mode: str) -> tuple[UUID, UUID]:
    """A project with one monthly PRO price; returns (project id, price id)."""
    made = tally.execute(
        m.CreateProject(name=f"bench-{mode}", mode=mode), Context(NO_PROJECT, "cli")
    )
    project = UUID(made.body["project"]["id"])
    ctx = Context(project, "bench")
    product = tally.execute(m.DefineProduct(code="PRO", name="Pro", features=["api"]), ctx)
    price = tally.execute(
        m.DefinePrice(
            product_id=UUID(product.body["product"]["id"]),
            lookup_key="pro_monthly",
            currency="EUR",
            scheme="flat",
            unit_amount=2900,
            interval="month",
        ),
        ctx,
    )
    return project, UUID(price.body["price"]["id"])


def _subscribe(
    tally: Tally, project: UUID, price: UUID, count: int, clock_id: UUID | None = None
) -> None:
    """``count`` customers with one subscription each, from 8 threads (not timed)."""

    def one(i: int) -> None:
        ctx = Context(project, "bench")
        customer = tally.execute(
            m.RegisterCustomer(external_id=f"c{i}", currency="EUR", test_clock_id=clock_id), ctx
        )
        tally.execute(
            m.CreateSubscription(
                customer_id=UUID(customer.body["customer"]["id"]),
                items=[m.SubscriptionItem(price_id=price)],
            ),
            ctx,
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def scheduler_renewals(url: str, schema: str, count: int) -> str:
    clock = FixedClock(T0)
    settings = Settings(database_url=url, db_schema=schema, pool_size=12)
    tally = build(settings, clock=clock)
    try:
        project, price = _setup(tally, "live")
        started = time.perf_counter()
        _subscribe(tally, project, price, count)
        setup_s = time.perf_counter() - started
        clock.advance(timedelta(days=32))
        ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
        scheduler = Scheduler(tally, batch=count)
        renewed = passes = 0
        started = time.perf_counter()
        while True:
            report = scheduler.run_once()
            passes += 1
            renewed += report.steps.get("renewed", 0)
            if report.total_steps == 0:
                break
            ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
        seconds = time.perf_counter() - started
        return (
            f"(1) scheduler: {renewed} renewals in {seconds:.2f} s = {renewed / seconds:,.0f}"
            f" renewals/s ({passes} passes, incl. read-model catch-up between passes;"
            f" setup of {count} subscriptions took {setup_s:.1f} s)"
        )
    finally:
        tally.close()


def test_clock_year(url: str, schema: str, customers: int) -> str:
    settings = Settings(database_url=url, db_schema=schema, pool_size=12)
    tally = build(settings)
    try:
        project, price = _setup(tally, "test")
        ctx = Context(project, "bench")
        made = tally.execute(m.CreateTestClock(name="bench", frozen_time=T0), ctx)
        clock_id = UUID(made.body["test_clock"]["id"])
        _subscribe(tally, project, price, customers, clock_id)
        started = time.perf_counter()
        outcome = tally.execute(
            m.AdvanceTestClock(test_clock_id=clock_id, to=T0 + timedelta(days=365)), ctx
        )
        seconds = time.perf_counter() - started
        steps = outcome.body.get("steps", {})
        return (
            f"(2) test clock: one year for {customers} customers in {seconds:.2f} s"
            f" (steps: {steps})"
        )
    finally:
        tally.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--clock-customers", type=int, default=100)
    args = parser.parse_args(argv)
    url = os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL)
    with scratch_schemas(url, "bench_subs") as schema:
        print(scheduler_renewals(url, schema("sched"), args.subscriptions), flush=True)
        print(test_clock_year(url, schema("clock"), args.clock_customers), flush=True)


if __name__ == "__main__":
    main()
