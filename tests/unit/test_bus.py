"""The command bus on the in-memory store: many callers at once share batches, and each
still gets the answer its own command deserves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from commands import messages as m
from commands.bus import Context, Outcome
from commands.bus.unit_of_work import UnitOfWork
from domain.accounts import Account
from domain.errors import DomainError, NotFound
from tests.concurrency import at_once
from tests.unit.ledger_world import LedgerWorld


@pytest.fixture
def world() -> Iterator[LedgerWorld]:
    w = LedgerWorld()
    yield w
    w.close()


def _open(world: LedgerWorld, owner: str, funds: int) -> UUID:
    ctx = Context(world.project_id, "k")
    opened = world.bus.execute(m.OpenAccount(owner_ref=owner, currency="EUR"), ctx)
    aid = UUID(opened.body["account"]["id"])
    if funds:
        world.bus.execute(m.Deposit(account_id=aid, amount=funds, currency="EUR"), ctx)
    return aid


def test_many_callers_at_once_each_get_their_own_answer(world: LedgerWorld) -> None:
    aid = _open(world, "ann", 1000)
    ctx = Context(world.project_id, "k")

    # 60 withdrawals of 30 ask for 1800 of 1000: exactly 33 can succeed.
    results = at_once(
        60, lambda i: world.bus.execute(m.Withdraw(account_id=aid, amount=30, currency="EUR"), ctx)
    )

    done = [r for r in results if isinstance(r, Outcome)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(done) == 33
    assert {e.code for e in refused} == {"insufficient_funds"}
    account: Account = world.load(Account, aid)
    assert account.ledger == 1000 - 33 * 30
    # Each answer shows the balance right after its own withdrawal: all different.
    assert len({o.body["account"]["ledger_balance"] for o in done}) == 33
    world.check_invariants()


def test_same_key_sent_at_once_to_one_bus_has_one_effect(world: LedgerWorld) -> None:
    aid = _open(world, "ann", 0)
    cmd = m.Deposit(account_id=aid, amount=250, currency="EUR")
    ctx = Context(world.project_id, "k", "dep-1")

    results = at_once(20, lambda i: world.bus.execute(cmd, ctx))

    outcomes = [r for r in results if isinstance(r, Outcome)]
    assert len(outcomes) == 20
    assert sum(not o.replayed for o in outcomes) == 1
    assert all(o.body == outcomes[0].body for o in outcomes)
    assert world.load(Account, aid).ledger == 250
    assert len(world.transaction_ids()) == 1


def test_a_refusal_among_successes_in_one_batch_changes_nothing_else(world: LedgerWorld) -> None:
    ann, bob = _open(world, "ann", 500), _open(world, "bob", 500)
    ctx = Context(world.project_id, "k")
    commands: list[m.Command] = [
        m.Withdraw(account_id=ann, amount=10, currency="EUR"),
        m.Withdraw(account_id=bob, amount=10_000, currency="EUR"),  # refused
        m.Transfer(from_account_id=ann, to_account_id=bob, amount=5, currency="EUR"),
        m.Deposit(account_id=bob, amount=1, currency="USD"),  # refused
        m.Deposit(account_id=bob, amount=7, currency="EUR"),
    ] * 4

    results = at_once(len(commands), lambda i: world.bus.execute(commands[i], ctx))

    codes = sorted(r.code for r in results if isinstance(r, DomainError))
    assert codes == ["currency_mismatch"] * 4 + ["insufficient_funds"] * 4
    assert world.load(Account, ann).ledger == 500 - 4 * 15
    assert world.load(Account, bob).ledger == 500 + 4 * 12
    world.check_invariants()


def test_outcome_position_is_the_commit_in_the_global_log(world: LedgerWorld) -> None:
    aid = _open(world, "ann", 100)
    outcome = world.bus.execute(
        m.Withdraw(account_id=aid, amount=1, currency="EUR"), Context(world.project_id, "k")
    )
    assert outcome.position == world.head()


def test_a_command_without_handler_is_a_programming_error(world: LedgerWorld) -> None:
    class Unknown(m.Command):
        pass

    with pytest.raises(TypeError):
        world.bus.execute(Unknown(), Context(world.project_id, "k"))


def test_a_closed_bus_takes_no_more_commands() -> None:
    world = LedgerWorld()
    world.close()
    with pytest.raises(RuntimeError):
        world.bus.execute(m.CreateProject(name="late"), Context(world.project_id, "k"))


def test_a_handler_that_raises_after_recording_leaks_nothing_into_its_batch() -> None:
    """A handler that records an event and then raises breaks the rule that guards come
    first: its batch is never written, its neighbours run again on their own and
    succeed, and its own command is refused with nothing recorded."""
    world = LedgerWorld()

    def freeze_then_refuse(uow: UnitOfWork, cmd: m.FreezeAccount, ctx: Context) -> Any:
        account = uow.get(Account, cmd.account_id, ctx.project_id)
        account.freeze(cmd.reason)
        raise NotFound("changed my mind after recording")

    for bus in world.buses:
        bus.handlers[m.FreezeAccount] = freeze_then_refuse
    aid = _open(world, "ann", 100)
    ctx = Context(world.project_id, "k")
    commands: list[m.Command] = [m.Deposit(account_id=aid, amount=1, currency="EUR")] * 8
    commands.insert(4, m.FreezeAccount(account_id=aid, reason="oops"))

    results = at_once(len(commands), lambda i: world.bus.execute(commands[i], ctx))

    assert [type(r).__name__ for r in results].count("NotFound") == 1
    assert sum(isinstance(r, Outcome) for r in results) == 8
    account: Account = world.load(Account, aid)
    assert account.status == "open"
    assert account.ledger == 108
    world.check_invariants()
    world.close()
