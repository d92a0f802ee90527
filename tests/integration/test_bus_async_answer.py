"""An ``async`` route's write (``api.routes.common.run``) runs its command on the event
loop's thread and is woken by the committer: no thread of a pool waits for the bus."""

from __future__ import annotations

import asyncio
import threading
from uuid import UUID

import pytest

from api.auth import Caller
from api.bootstrap import NO_PROJECT, Tally
from api.routes.common import run
from commands import messages as m
from commands.bus import Context
from domain.errors import NotFound


def _project(tally: Tally) -> Caller:
    project = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    return Caller(UUID(project.body["project"]["id"]), "k", "test")


def test_a_write_runs_on_the_loop_thread_and_answers_once_committed(tally: Tally) -> None:
    caller = _project(tally)
    ran_on: list[threading.Thread] = []
    handler = tally.bus.handlers[m.Deposit]

    def watched(uow, command, ctx):  # type: ignore[no-untyped-def]
        ran_on.append(threading.current_thread())
        return handler(uow, command, ctx)

    tally.bus.handlers[m.Deposit] = watched

    async def deposit_twice() -> tuple[threading.Thread, list[int | None], bool]:
        opened = await run(tally, caller, m.OpenAccount(owner_ref="bob", currency="EUR"), None)
        account_id = UUID(opened.body["account"]["id"])
        deposit = m.Deposit(account_id=account_id, amount=500, currency="EUR")
        first = await run(tally, caller, deposit, "d1")
        again = await run(tally, caller, deposit, "d1")
        return threading.current_thread(), [first.position, again.position], again.replayed

    loop_thread, positions, replayed = asyncio.run(deposit_twice())
    assert ran_on
    assert all(thread is loop_thread for thread in ran_on)
    assert positions[0] is not None  # answered once committed
    assert positions[0] > 0
    assert replayed


def test_a_refusal_is_raised_in_the_route(tally: Tally) -> None:
    caller = _project(tally)
    deposit = m.Deposit(account_id=UUID(int=7), amount=500, currency="EUR")
    with pytest.raises(NotFound):
        asyncio.run(run(tally, caller, deposit, "d1"))


def test_many_concurrent_writes_are_each_answered(tally: Tally) -> None:
    caller = _project(tally)

    async def deposits() -> tuple[UUID, list[int | None]]:
        opened = await run(tally, caller, m.OpenAccount(owner_ref="ann", currency="EUR"), None)
        account_id = UUID(opened.body["account"]["id"])
        writes = [
            run(tally, caller, m.Deposit(account_id=account_id, amount=1, currency="EUR"), f"k{i}")
            for i in range(50)
        ]
        return account_id, [outcome.position for outcome in await asyncio.gather(*writes)]

    account_id, positions = asyncio.run(deposits())
    assert all(p is not None for p in positions)
    assert tally.store.repository.get(account_id).ledger == 50
