"""Handlers for test clocks: create one, advance it (and everything due on the way).

Test clocks exist only in test-mode projects (``check_test_mode``).
"""

from __future__ import annotations

from typing import Any

from commands import clock_advance
from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.invoice_charges import reporting_calls
from domain.errors import TestClockInLiveMode
from domain.projects import Project
from domain.test_clocks import TestClock


def check_test_mode(uow: UnitOfWork, ctx: Context) -> None:
    project = uow.get(Project, ctx.project_id, ctx.project_id)
    if project.mode != "test":
        raise TestClockInLiveMode("test clocks exist only in test-mode projects")


def create_test_clock(uow: UnitOfWork, cmd: m.CreateTestClock, ctx: Context) -> Result:
    check_test_mode(uow, ctx)
    clock = TestClock.create(ctx.project_id, cmd.name, cmd.frozen_time)
    uow.add(clock)
    return Result.created({"test_clock": clock_summary(clock)})


def clock_summary(clock: TestClock) -> dict[str, Any]:
    return {**clock.summary(), "created": created(clock)}


def advance_test_clock(uow: UnitOfWork, cmd: m.AdvanceTestClock, ctx: Context) -> Result:
    """Move the clock and do everything due on the way, across all its subscriptions, in
    time order, in one transaction (``commands/clock_advance.py``). Where a step asked a
    provider for something, the clock stops at that moment and the answer lists the
    calls (``provider_calls``) and the target (``advancing_to``) to advance to again
    once they are made; the API's route does that loop itself (``api/advance.py``)."""
    check_test_mode(uow, ctx)
    clock = uow.get(TestClock, cmd.test_clock_id, ctx.project_id)
    clock.check_advance(cmd.to)
    done = clock_advance.advance(uow, ctx, clock, cmd.to)
    body: dict[str, Any] = {"test_clock": clock_summary(clock), "steps": done.steps}
    if done.provider_calls:
        body["provider_calls"] = done.provider_calls
    if done.paused:
        body["advancing_to"] = cmd.to.isoformat()
    return Result.changed(body)


HANDLERS: dict[type[m.Command], Handler] = {
    # Asks for no provider call, but answers like the subscription handlers (it did so
    # when it was one of them).
    m.CreateTestClock: reporting_calls(create_test_clock),
    # An advance lists its own calls, where it paused.
    m.AdvanceTestClock: advance_test_clock,
}
