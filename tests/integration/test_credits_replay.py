"""Prepaid credits replay (issue 13): a log of grants, consumptions, a void, a refusal
and an expiry, projected in batches of 2, equals a replay of it (``credit_balances``,
the journal and the system accounts), and the journal's credit accounts hold what the
aggregate says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context
from commands.credit_messages import (
    ConsumeCredits,
    ExpireCredits,
    GrantCredits,
    SetCreditThreshold,
    VoidCreditGrant,
)
from domain.credit_balance import CreditBalance
from domain.errors import InsufficientCredits
from projections.journal import trial_balance
from projections.replay import replay
from projections.runner import ProjectionWorker
from tests.integration.applied_twice import apply_twice

START = datetime(2031, 1, 1, tzinfo=UTC)


def _credits_log(tally: Tally) -> tuple[Context, UUID]:
    """Grants, a consumption, a refusal, a void and an expiry; the context and customer."""
    created = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    ctx = Context(UUID(created.body["project"]["id"]), "k")
    registered = tally.execute(m.RegisterCustomer(external_id="u1", currency="EUR"), ctx)
    cid = UUID(registered.body["customer"]["id"])
    run: Any = tally.execute
    run(SetCreditThreshold(customer_id=cid, low_threshold=100), ctx)
    run(GrantCredits(customer_id=cid, kind="promotional", amount=300,
                     expires_at=START + timedelta(days=10)), ctx)  # fmt: skip
    paid = run(GrantCredits(customer_id=cid, kind="paid", amount=200, source="stripe"), ctx)
    run(ConsumeCredits(customer_id=cid, amount=120), ctx)
    with pytest.raises(InsufficientCredits):
        run(ConsumeCredits(customer_id=cid, amount=10_000), ctx)
    run(VoidCreditGrant(grant_id=paid.body["credit_grant"]["id"]), ctx)
    tally.clock.advance(timedelta(days=11))  # type: ignore[attr-defined]
    expired = run(ExpireCredits(customer_id=cid, currency="EUR"), ctx)
    assert expired.body["expired"] == 180
    return ctx, cid


@pytest.mark.fixed_clock(START)
def test_credits_projected_in_small_batches_equal_their_replay(tally: Tally) -> None:
    ctx, cid = _credits_log(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=2).catch_up()
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    stored: Any = tally.store.repository.get(CreditBalance.create_id(cid, "EUR"))
    books = trial_balance(tally.views, tally.schema, ctx.project_id)["EUR"]["accounts"]
    assert books[f"credits:{cid}"] == stored.total == 0
    assert (books["breakage"], books["revenue"], books["promotions"]) == (180, 120, -300)
    assert books["clearing:stripe"] == 0  # granted 200, voided 200 (consumed from promo first)


@pytest.mark.fixed_clock(START)
def test_a_credits_log_applied_twice_builds_what_one_pass_builds(tally: Tally) -> None:
    ctx, cid = _credits_log(tally)
    # A grant still live at the end: the log's others are retired, and a retired grant's
    # totals come from Retired's own copy of it.
    tally.execute(GrantCredits(customer_id=cid, kind="paid", amount=500, source="stripe"), ctx)
    tally.execute(ConsumeCredits(customer_id=cid, amount=70), ctx)
    apply_twice(tally)  # tests/integration/applied_twice.py
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()


def test_a_busy_balance_is_snapshotted_and_loads_cold_to_the_same_state(tally: Tally) -> None:
    created = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    ctx = Context(UUID(created.body["project"]["id"]), "k")
    registered = tally.execute(m.RegisterCustomer(external_id="u1", currency="EUR"), ctx)
    cid = UUID(registered.body["customer"]["id"])
    tally.execute(GrantCredits(customer_id=cid, kind="paid", amount=10_000), ctx)
    for n in range(450):
        key = Context(ctx.project_id, "k", f"c{n}")
        tally.execute(ConsumeCredits(customer_id=cid, amount=3), key)
    balance_id = CreditBalance.create_id(cid, "EUR")
    snapshots = tally.store.snapshots
    assert snapshots is not None
    taken = list(snapshots.get(balance_id))
    assert [s.originator_version for s in taken] == [200, 400]
    cold: Any = tally.store.repository.get(balance_id)  # from the last snapshot and 52 events
    assert cold.version == 452
    assert cold.total == 10_000 - 3 * 450
    # The same as folding every stored event, without the snapshots.
    rebuilt: Any = None
    for event in tally.store.events.get(balance_id):
        rebuilt = event.mutate(rebuilt)
    assert rebuilt.version == 452
    assert cold.summary() == rebuilt.summary()
