"""Two writers (independent Tally instances on one schema) racing to move the same thing
to different states: exactly one wins each race, and the money agrees with the winner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context, Outcome
from domain.errors import DomainError

ROUNDS = 12


@pytest.fixture
def pair(tally: Tally, settings: Settings) -> Iterator[tuple[Tally, Tally]]:
    other = build(settings.model_copy(update={"pool_size": 3}))
    yield tally, other
    other.close()


def _race(
    left: tuple[Tally, m.Command], right: tuple[Tally, m.Command], ctx: Context
) -> tuple[Outcome | DomainError, Outcome | DomainError]:
    """Send two commands through two writers at the same moment."""
    barrier = threading.Barrier(2)

    def run(side: tuple[Tally, m.Command]) -> Outcome | DomainError:
        tally, command = side
        barrier.wait()
        try:
            return tally.execute(command, ctx)
        except DomainError as error:
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.submit(run, left), pool.submit(run, right)
        return a.result(), b.result()


def _setup(tally: Tally, funds: int) -> tuple[UUID, UUID]:
    created = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    pid = UUID(created.body["project"]["id"])
    opened = tally.execute(m.OpenAccount(owner_ref="ann", currency="EUR"), Context(pid, "k"))
    aid = UUID(opened.body["account"]["id"])
    if funds:
        tally.execute(m.Deposit(account_id=aid, amount=funds, currency="EUR"), Context(pid, "k"))
    return pid, aid


def _account(tally: Tally, aid: UUID) -> Any:
    return tally.store.repository.get(aid)


def _one_winner(results: tuple[Outcome | DomainError, ...], losing: set[str]) -> int:
    """Index of the one result that won; the other must have lost for a stated reason."""
    won = [i for i, r in enumerate(results) if isinstance(r, Outcome)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1, results
    assert {e.code for e in lost} <= losing, lost
    return won[0]


def test_capture_and_void_of_one_hold_never_both_happen(pair: tuple[Tally, Tally]) -> None:
    a, b = pair
    pid, aid = _setup(a, funds=10_000)
    ctx = Context(pid, "k")
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    captured = 0
    for n in range(ROUNDS):
        hold = a.execute(
            m.PlaceHold(account_id=aid, amount=100 + n, currency="EUR", expires_at=expires_at),
            ctx,
        ).body["hold"]["id"]
        capture, void = (
            m.CaptureHold(account_id=aid, hold_id=hold),
            m.VoidHold(account_id=aid, hold_id=hold),
        )
        # Alternate which writer captures, so both sides sometimes hold a stale copy.
        first, second = (a, b) if n % 2 else (b, a)
        results = _race((first, capture), (second, void), ctx)
        winner = _one_winner(results, {"hold_not_active", "concurrent_update"})
        captured += 100 + n if winner == 0 else 0
        status = _account(a, aid).holds[hold].status
        assert status == ("captured" if winner == 0 else "voided")
    account = _account(b, aid)
    assert (account.ledger, account.held) == (10_000 - captured, 0)


def test_confirm_and_fail_of_one_pending_deposit_never_both_happen(
    pair: tuple[Tally, Tally],
) -> None:
    a, b = pair
    pid, aid = _setup(a, funds=0)
    ctx = Context(pid, "k")
    credited = 0
    for n in range(ROUNDS):
        pending = m.Deposit(account_id=aid, amount=10 + n, currency="EUR", pending=True)
        txn = UUID(a.execute(pending, ctx).body["transaction"]["id"])
        confirm = m.ConfirmTransaction(transaction_id=txn)
        fail = m.FailTransaction(transaction_id=txn, reason="bank said no")
        first, second = (a, b) if n % 2 else (b, a)
        results = _race((first, confirm), (second, fail), ctx)
        winner = _one_winner(results, {"invalid_transition", "concurrent_update"})
        credited += 10 + n if winner == 0 else 0
        settled: Any = a.store.repository.get(txn)
        assert settled.state == ("completed" if winner == 0 else "failed")
    assert _account(b, aid).ledger == credited


def test_full_reversal_sent_twice_at_once_reverses_once(pair: tuple[Tally, Tally]) -> None:
    a, b = pair
    pid, aid = _setup(a, funds=0)
    ctx = Context(pid, "k")
    for n in range(ROUNDS):
        deposit = m.Deposit(account_id=aid, amount=50, currency="EUR")
        txn = UUID(a.execute(deposit, ctx).body["transaction"]["id"])
        reverse = m.ReverseTransaction(transaction_id=txn, amount=50, reason="refund")
        first, second = (a, b) if n % 2 else (b, a)
        results = _race((first, reverse), (second, reverse), ctx)
        _one_winner(results, {"reversal_exceeds_amount", "insufficient_funds", "concurrent_update"})
        assert a.store.repository.get(txn).reversed_amount == 50
        assert _account(b, aid).ledger == 0


def test_close_racing_a_deposit_never_leaves_money_in_a_closed_account(
    pair: tuple[Tally, Tally],
) -> None:
    a, b = pair
    created = a.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    pid = UUID(created.body["project"]["id"])
    ctx = Context(pid, "k")
    for n in range(ROUNDS):
        opened = a.execute(m.OpenAccount(owner_ref=f"owner-{n}", currency="EUR"), ctx)
        aid = UUID(opened.body["account"]["id"])
        close = m.CloseAccount(account_id=aid)
        deposit = m.Deposit(account_id=aid, amount=5, currency="EUR")
        first, second = (a, b) if n % 2 else (b, a)
        results = _race((first, close), (second, deposit), ctx)
        winner = _one_winner(results, {"account_closed", "account_not_empty", "concurrent_update"})
        account = _account(b, aid)
        if winner == 0:
            assert (account.status, account.ledger) == ("closed", 0)
        else:
            assert (account.status, account.ledger) == ("open", 5)
