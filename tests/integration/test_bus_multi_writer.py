"""Two command buses on one schema behave like two server processes: each keeps its own
cache of aggregates, so each must notice what the other wrote."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.clock import FixedClock
from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from domain.accounts import Account


@pytest.fixture
def other(settings: Settings) -> Iterator[Tally]:
    """A second, independent Tally on the same schema (a second process, in effect)."""
    app = build(settings)
    yield app
    app.close()


def _project(tally: Tally) -> UUID:
    outcome = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    return UUID(outcome.body["project"]["id"])


def _account(tally: Tally, pid: UUID, deposit: int) -> UUID:
    opened = tally.execute(m.OpenAccount(owner_ref="bob", currency="EUR"), Context(pid, "k"))
    aid = UUID(opened.body["account"]["id"])
    tally.execute(m.Deposit(account_id=aid, amount=deposit, currency="EUR"), Context(pid, "k"))
    return aid


def test_withdrawal_is_not_refused_on_a_balance_another_writer_has_since_raised(
    tally: Tally, other: Tally
) -> None:
    # The first bus has the account cached at 100; the second raises it to 1100. A refusal
    # judged on the cached copy would be wrong, because a refusal is never version-checked.
    pid = _project(tally)
    aid = _account(tally, pid, deposit=100)
    other.execute(m.Deposit(account_id=aid, amount=1000, currency="EUR"), Context(pid, "k"))

    outcome = tally.execute(
        m.Withdraw(account_id=aid, amount=500, currency="EUR"), Context(pid, "k")
    )

    assert outcome.body["account"]["ledger_balance"] == 600
    assert tally.store.repository.get(aid).ledger == 600


def test_freeze_by_another_writer_is_seen_although_the_account_is_cached(
    tally: Tally, other: Tally
) -> None:
    pid = _project(tally)
    aid = _account(tally, pid, deposit=100)
    other.execute(m.FreezeAccount(account_id=aid, reason="fraud check"), Context(pid, "k"))

    with pytest.raises(Exception) as refused:
        tally.execute(m.Withdraw(account_id=aid, amount=10, currency="EUR"), Context(pid, "k"))

    assert getattr(refused.value, "code", None) == "account_frozen"
    account: Any = tally.store.repository.get(aid)
    assert isinstance(account, Account)
    assert (account.ledger, account.status) == (100, "frozen")


def test_unfreeze_by_another_writer_is_seen_although_a_frozen_copy_is_cached(
    tally: Tally, other: Tally
) -> None:
    pid = _project(tally)
    aid = _account(tally, pid, deposit=100)
    tally.execute(m.FreezeAccount(account_id=aid), Context(pid, "k"))
    other.execute(m.UnfreezeAccount(account_id=aid), Context(pid, "k"))

    outcome = tally.execute(
        m.Withdraw(account_id=aid, amount=10, currency="EUR"), Context(pid, "k")
    )

    assert outcome.body["account"]["ledger_balance"] == 90
    assert outcome.body["account"]["status"] == "open"


def test_hold_sweep_through_one_writer_expires_a_hold_placed_through_another(
    settings: Settings,
) -> None:
    # The sweep writes nothing when it finds nothing due, so nothing would ever tell a
    # writer whose cached copy predates the hold that the hold exists.
    clock = FixedClock(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    small = settings.model_copy(update={"pool_size": 2})
    sweeper, placer = build(small, clock=clock), build(small, clock=clock)
    try:
        pid = _project(sweeper)
        aid = _account(sweeper, pid, deposit=1000)
        placed = placer.execute(
            m.PlaceHold(
                account_id=aid,
                amount=300,
                currency="EUR",
                expires_at=clock.now() + timedelta(minutes=10),
            ),
            Context(pid, "k"),
        )
        clock.advance(timedelta(minutes=10))

        swept = sweeper.execute(m.ExpireHolds(account_id=aid), Context(pid, "system"))

        assert swept.body["expired"] == [placed.body["hold"]["id"]]
        assert swept.body["account"]["held_balance"] == 0
        account: Any = sweeper.store.repository.get(aid)
        assert account.holds[placed.body["hold"]["id"]].status == "expired"
    finally:
        placer.close()
        sweeper.close()


def test_a_command_that_writes_nothing_answers_what_the_store_holds(
    tally: Tally, other: Tally
) -> None:
    pid = _project(tally)
    aid = _account(tally, pid, deposit=100)
    other.execute(m.Withdraw(account_id=aid, amount=100, currency="EUR"), Context(pid, "k"))

    swept = tally.execute(m.ExpireHolds(account_id=aid), Context(pid, "system"))

    assert swept.body["account"]["ledger_balance"] == 0
