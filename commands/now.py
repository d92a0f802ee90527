"""The time a command acts at: the context's clock, or a customer's test clock.

A handler never reads the wall clock (DESIGN.md: time comes from a clock the application
is given): the bus stamps each command's context with ``now``, and a customer attached to
a test clock lives at that clock's time instead.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.test_clocks import TestClock


def context_now(ctx: Context) -> datetime:
    """The time the bus gave the command."""
    assert ctx.now is not None
    return ctx.now


def now_for(uow: UnitOfWork, ctx: Context, test_clock_id: UUID | None) -> datetime:
    """A customer on a test clock lives at the clock's time; others at the context's."""
    if test_clock_id is not None:
        return uow.get(TestClock, test_clock_id, ctx.project_id).now()
    return context_now(ctx)
