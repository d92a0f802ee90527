"""An ``async`` route's write (``api.routes.common.run``) runs its command on the event
loop's thread and is woken by the committer: no thread of a pool waits for the bus."""

from __future__ import annotations

import asyncio
import threading
import time
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from api.auth import Caller, Writer
from api.bootstrap import NO_PROJECT, Tally
from api.routes import common
from api.routes.common import run
from commands import messages as m
from commands.bus import Context
from domain.errors import NotFound


def _project(tally: Tally) -> Writer:
    project = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    return Writer(tally, Caller(UUID(project.body["project"]["id"]), "k", "test"))


def test_a_write_runs_on_the_loop_thread_and_answers_once_committed(tally: Tally) -> None:
    writer = _project(tally)
    ran_on: list[threading.Thread] = []
    handler = tally.bus.handlers[m.Deposit]

    def watched(uow, command, ctx):  # type: ignore[no-untyped-def]
        ran_on.append(threading.current_thread())
        return handler(uow, command, ctx)

    tally.bus.handlers[m.Deposit] = watched
    # A write finding the bus busy (its committer answering a batch) waits in a thread
    # instead (test_a_busy_bus_never_holds_the_loop): count those, which run elsewhere.
    busy: list[bool] = []
    try_submit = tally.try_submit

    def noted(*args, **kwargs):  # type: ignore[no-untyped-def]
        reply = try_submit(*args, **kwargs)
        busy.append(reply is None)
        return reply

    tally.try_submit = noted  # type: ignore[method-assign]

    async def deposit_twice() -> tuple[threading.Thread, list[int | None], bool]:
        opened = await run(writer, m.OpenAccount(owner_ref="bob", currency="EUR"), None)
        account_id = UUID(opened.body["account"]["id"])
        deposit = m.Deposit(account_id=account_id, amount=500, currency="EUR")
        first = await run(writer, deposit, "d1")
        again = await run(writer, deposit, "d1")
        return threading.current_thread(), [first.position, again.position], again.replayed

    loop_thread, positions, replayed = asyncio.run(deposit_twice())
    assert ran_on
    # The first deposit ran on the loop's thread, unless it found the bus busy (busy[0]
    # is the account's opening). A later run of the handler (the same key's replay on
    # the committer's slow path) is the command layer's business, not this test's.
    assert ran_on[0] is loop_thread or busy[1]
    assert positions[0] is not None  # answered once committed
    assert positions[0] > 0
    assert replayed


def test_a_refusal_is_raised_in_the_route(tally: Tally) -> None:
    writer = _project(tally)
    deposit = m.Deposit(account_id=UUID(int=7), amount=500, currency="EUR")
    with pytest.raises(NotFound):
        asyncio.run(run(writer, deposit, "d1"))


def test_many_concurrent_writes_are_each_answered(tally: Tally) -> None:
    writer = _project(tally)

    async def deposits() -> tuple[UUID, list[int | None]]:
        opened = await run(writer, m.OpenAccount(owner_ref="ann", currency="EUR"), None)
        account_id = UUID(opened.body["account"]["id"])
        writes = [
            run(writer, m.Deposit(account_id=account_id, amount=1, currency="EUR"), f"k{i}")
            for i in range(50)
        ]
        return account_id, [outcome.position for outcome in await asyncio.gather(*writes)]

    account_id, positions = asyncio.run(deposits())
    assert all(p is not None for p in positions)
    assert tally.store.repository.get(account_id).ledger == 50


def test_a_busy_bus_never_holds_the_loop(tally: Tally) -> None:
    """While another thread holds the bus's mutex (as the committer does for a whole
    synchronous retry, database round trips included), a write waits for it in a
    thread, and the loop keeps serving: here a ticker every 10 ms."""
    writer = _project(tally)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with tally.bus._mutex:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)

    async def write_beside_a_ticker() -> tuple[int, str]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1
                if ticks == 20:
                    release.set()  # the loop ran all along: let the bus go

        ticking = asyncio.create_task(ticker())
        opened = await run(writer, m.OpenAccount(owner_ref="bob", currency="EUR"), None)
        ticking.cancel()
        return ticks, str(opened.body["account"]["owner_ref"])

    ticks, owner = asyncio.run(write_beside_a_ticker())
    holder.join(5)
    assert ticks >= 20  # the loop ticked while the write waited for the mutex
    assert owner == "bob"


def test_a_write_the_bus_does_not_answer_in_time_fails_and_commits_later(
    tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``BUS_ANSWER_TIMEOUT_S`` bounds the wait: with the event table locked elsewhere the
    committer cannot write, and the route fails with TimeoutError long before the lock is
    let go; the command is committed afterwards (its key answers it again)."""
    writer = _project(tally)
    monkeypatch.setattr(common, "BUS_ANSWER_TIMEOUT_S", 0.3)
    command = m.OpenAccount(owner_ref="late", currency="EUR")
    with psycopg.connect(tally.target.url) as conn:
        table = sql.Identifier(tally.schema, "tally_events")
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            asyncio.run(run(writer, command, "late-1"))
        waited = time.monotonic() - started
        time.sleep(max(0.0, 3.0 - waited))  # the lock is held 3 s in all
        conn.rollback()
    assert waited < 2.5
    again = asyncio.run(run(writer, command, "late-1"))
    assert again.replayed
