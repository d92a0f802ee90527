"""Backtests (issue 15, docs/audit.md): recorded subscription invoices re-rated under
another price book, through ``POST /v1/backtests`` and ``tally backtest``; nothing is
ever written."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from api.backtest import backtest
from domain.errors import LimitReached
from tests.e2e.billing import START, clock, customer, plan, problem, subscribe
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.cli_run import env
from tests.e2e.conftest import Client, nothing_written

__all__ = ["env"]  # the fixture, used by name

WINDOW = {"from": "2030-01-01T00:00:00Z", "to": "2031-01-01T00:00:00Z"}


def book(pro: int, basic: int) -> str:
    """A catalog file with the two plans' monthly prices."""
    return "products:\n" + "".join(
        f"  - code: {code}\n    name: {code.title()}\n    prices:\n"
        f"      - lookup_key: {code.lower()}_monthly\n        currency: EUR\n"
        f"        scheme: flat\n        unit_amount: {amount}\n        interval: month\n"
        for code, amount in (("PRO", pro), ("BASIC", basic))
    )


def _history(api: Client) -> tuple[str, str]:
    """Ada on PRO (1000 a month), Bob on BASIC (500), on a test clock that runs two
    renewals: three invoices each."""
    clock_id = clock(api)
    pro, basic = plan(api, "PRO", 1000), plan(api, "BASIC", 500)
    ada = customer(api, "ada", test_clock_id=clock_id)
    bob = customer(api, "bob", test_clock_id=clock_id)
    subscribe(api, ada, pro)
    subscribe(api, bob, basic)
    to = (START + timedelta(days=62)).isoformat()
    api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"to": to}))
    return ada, bob


def _backtest(api: Client, catalog: str, **window: str) -> dict[str, Any]:
    body = {"catalog": catalog, **WINDOW, **window}
    # The report reads the read models: wait for what the clock's advance wrote.
    response = api.http.post(
        "/v1/backtests",
        params={"wait_for_position": api.position},
        json=body,
        headers=api.headers(),
    )
    answered: dict[str, Any] = api.ok(response)
    return answered


def _by_customer(report: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {
        c["customer_id"]: (c["invoices"], c["was"], c["would_be"], c["difference"])
        for c in report["customers"]
    }


def test_the_same_price_book_gives_no_difference_and_writes_nothing(sandbox: Client) -> None:
    ada, bob = _history(sandbox)
    with nothing_written(sandbox.tally):
        report = _backtest(sandbox, book(1000, 500))
    assert report["invoices"] == 6
    assert (report["lines_changed"], report["unmatched_lines"]) == (0, 0)
    assert _by_customer(report) == {ada: (3, 3000, 3000, 0), bob: (3, 1500, 1500, 0)}
    assert report["totals"] == [{"currency": "EUR", "was": 4500, "would_be": 4500, "difference": 0}]


def test_a_ten_percent_rise_on_one_plan_gives_the_hand_computed_difference(
    sandbox: Client,
) -> None:
    ada, bob = _history(sandbox)
    with nothing_written(sandbox.tally):
        report = _backtest(sandbox, book(1100, 500))
        february = _backtest(sandbox, book(1100, 500), to="2030-02-15T00:00:00Z")
    # Ada's three invoices of 1000 become 1100 each: 300 more; Bob's are unchanged.
    assert _by_customer(report) == {ada: (3, 3000, 3300, 300), bob: (3, 1500, 1500, 0)}
    assert report["totals"] == [
        {"currency": "EUR", "was": 4500, "would_be": 4800, "difference": 300}
    ]
    assert report["lines_changed"] == 3
    # Only the first invoices start before Feb 15 (periods start Jan 31, Feb 28, Mar 31).
    assert _by_customer(february) == {ada: (1, 1000, 1100, 100), bob: (1, 500, 500, 0)}


def test_refusals_write_nothing(sandbox: Client) -> None:
    with nothing_written(sandbox.tally):
        problem(
            sandbox.post("/v1/backtests", {"catalog": "products: [", **WINDOW}),
            422,
            "invalid_catalog",
        )
        backwards = {"catalog": book(1, 1), "from": WINDOW["to"], "to": WINDOW["from"]}
        problem(sandbox.post("/v1/backtests", backwards), 422, "invalid_window")


def test_the_cli_answers_what_the_api_does(
    sandbox: Client, env: dict[str, str], tmp_path: Path
) -> None:
    _history(sandbox)
    prices = tmp_path / "new_prices.yaml"
    prices.write_text(book(1100, 550))
    args = ["--catalog", str(prices), "--project", str(sandbox.project_id)]
    window = ["--from", "2030-01-01", "--to", "2030-12-31"]
    with nothing_written(sandbox.tally):
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "backtest", *args, *window, "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        api = _backtest(sandbox, book(1100, 550))
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    assert (
        cli["totals"]
        == api["totals"]
        == [{"currency": "EUR", "was": 4500, "would_be": 4950, "difference": 450}]
    )
    assert cli["customers"] == api["customers"]


def _events_of_billed_invoices(api: Client) -> int:
    """How many events the window's billed invoices and their subscriptions have."""
    tally = api.tally
    invoices = sql.SQL(
        "SELECT id, subscription_id FROM {} WHERE project_id = %s AND subscription_id IS "
        "NOT NULL AND status IN ('open', 'paid', 'uncollectible')"
    ).format(sql.Identifier(tally.schema, "invoices"))
    with tally.views.connection() as conn:
        rows = conn.execute(invoices, [api.project_id]).fetchall()
        ids = {r["id"] for r in rows} | {r["subscription_id"] for r in rows}
        counted = conn.execute(
            sql.SQL("SELECT count(*) AS n FROM {} WHERE originator_id = ANY(%s)").format(
                sql.Identifier(tally.schema, tally.store.events_table)
            ),
            [list(ids)],
        ).fetchone()
    assert counted is not None
    assert len(rows) == 6
    return int(counted["n"])


def test_a_backtest_reads_each_event_once_and_at_most_its_cap(sandbox: Client) -> None:
    _history(sandbox)
    _backtest(sandbox, book(1000, 500))  # the read models hold the history
    needed = _events_of_billed_invoices(sandbox)
    # Each subscription's history is read once, however many of its invoices ask: a
    # budget of exactly the stored events of the invoices and subscriptions suffices.
    args = (sandbox.tally, sandbox.project_id, book(1100, 500), START, START + timedelta(days=365))
    report = backtest(*args, max_events=needed)
    assert report["totals"][0]["difference"] == 300
    with pytest.raises(LimitReached) as refused:
        backtest(*args, max_events=needed - 1)
    assert refused.value.code == "limit_reached"
