"""Low balance on Postgres (issue 12): the accounts read model keeps the threshold however
the log is cut into batches, ``billing.wallet.balance_low`` is written once per fall, and
a replay of the log builds the same read models (the crossing is in the log, so replay
cannot decide it differently)."""

from __future__ import annotations

from uuid import UUID

from api.bootstrap import Tally
from commands import messages as m
from projections.balances import get_account
from projections.integration_events import events_after
from projections.replay import replay
from projections.runner import ProjectionWorker
from tests.integration.ledger_workload import Driver, new_project


def test_thresholds_and_falls_project_in_any_batches_and_replay_equal(tally: Tally) -> None:
    world = new_project(tally)
    d = Driver(tally, world)
    opened = d.run(m.OpenAccount(owner_ref="a", currency="EUR", low_balance_threshold=100))
    account = UUID(opened["account"]["id"])
    steps: list[m.Command] = [
        m.Deposit(account_id=account, amount=500, currency="EUR"),  # re-arms
        m.Withdraw(account_id=account, amount=450, currency="EUR"),  # 50: falls
        m.Withdraw(account_id=account, amount=10, currency="EUR"),  # still below
        m.SetLowBalanceThreshold(account_id=account, low_balance_threshold=30),  # re-arms
        m.SetLowBalanceThreshold(account_id=account, low_balance_threshold=45),  # falls
        m.SetLowBalanceThreshold(account_id=account, low_balance_threshold=None),
    ]
    for step in steps:
        d.run(step)
    # One event per batch: every change of the threshold lands in a batch of its own.
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=1).catch_up()
    row = get_account(tally.views, tally.schema, world.project_id, account)
    assert row is not None
    assert (row["available_balance"], row["low_balance_threshold"]) == (40, None)
    rows = events_after(tally.views, tally.schema, world.project_id, 0, 100)
    lows = [r for r in rows if r["type"] == "billing.wallet.balance_low"]
    assert len(lows) == 3  # at open, the withdrawal to 50, the threshold raised to 45
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
