"""Handlers for test clocks: create one, advance it (and everything due on the way).

Test clocks exist only in test-mode projects (``check_test_mode``).
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any
from uuid import UUID

from commands import messages as m
from commands import subscription_invoices
from commands.bus import Context, Handler
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.invoice_charges import reporting_calls, requested_calls
from domain.errors import TestClockInLiveMode, ValidationFailed
from domain.projects import Project
from domain.subscriptions import Subscription
from domain.test_clocks import TestClock

Result = tuple[int, dict[str, Any]]
# One advance does at most this many steps (renewals, trial ends, ...), so a clock moved
# a century ahead answers an error instead of running for minutes.
MAX_ADVANCE_STEPS = 200_000


def check_test_mode(uow: UnitOfWork, ctx: Context) -> None:
    project = uow.get(Project, ctx.project_id, ctx.project_id)
    if project.mode != "test":
        raise TestClockInLiveMode("test clocks exist only in test-mode projects")


def create_test_clock(uow: UnitOfWork, cmd: m.CreateTestClock, ctx: Context) -> Result:
    check_test_mode(uow, ctx)
    clock = TestClock.create(ctx.project_id, cmd.name, cmd.frozen_time)
    uow.add(clock)
    return 201, {"test_clock": clock_summary(clock)}


def clock_summary(clock: TestClock) -> dict[str, Any]:
    return {**clock.summary(), "created": created(clock)}


def advance_test_clock(uow: UnitOfWork, cmd: m.AdvanceTestClock, ctx: Context) -> Result:
    """Move the clock and do everything due on the way, across all its subscriptions, in
    time order (ties by subscription id), in one transaction.

    A step that asks a provider for something (a charge, a payment retry) pauses the
    advance at that moment: the clock stops there and the answer lists the calls
    (``provider_calls``, with ``advancing_to``). The caller lets the outbox make them,
    then advances again to the same target; so a decline is known, and its retry
    scheduled, before the clock passes the retry's time, as on a real clock. The API's
    route does that loop itself (``api/advance.py``)."""
    check_test_mode(uow, ctx)
    clock = uow.get(TestClock, cmd.test_clock_id, ctx.project_id)
    clock.check_advance(cmd.to)
    subs = [uow.get(Subscription, sid, ctx.project_id) for sid in clock.subscription_ids]
    # Entries: (when, subscription id or invoice id, index of the subscription, invoice
    # id or None). Invoicing (issue 4) adds the customers' due invoice work (drafts to
    # finalize, payments to retry) to the same time order.
    queue: list[tuple[datetime, str, int, UUID | None]] = []
    work = subscription_invoices.InvoiceWork(uow, ctx, cmd.to)

    def push_invoice_work(index: int) -> None:
        for at, invoice_id in work.pending(subs[index].customer_id):
            heapq.heappush(queue, (at, str(invoice_id), index, invoice_id))

    for index, sub in enumerate(subs):
        due = sub.next_due_at()
        if due is not None and due <= cmd.to:
            heapq.heappush(queue, (due, str(sub.id), index, None))
        push_invoice_work(index)
    counts: dict[str, int] = {}
    steps = 0
    reached = clock.frozen_time
    while True:
        following = queue[0][0] if queue else cmd.to
        if following > reached and (calls := requested_calls(uow)):
            # Everything at this moment is done; the rest waits for the provider.
            if reached > clock.frozen_time:
                clock.advance(reached)
            return 200, {
                "test_clock": clock_summary(clock),
                "steps": counts,
                "provider_calls": calls,
                "advancing_to": cmd.to.isoformat(),
            }
        if not queue:
            break
        due, _, index, invoice_id = heapq.heappop(queue)
        reached = max(reached, due)
        if invoice_id is not None:
            done = work.run(subs[index].customer_id, invoice_id, due)
            if done is not None:
                counts[done] = counts.get(done, 0) + 1
            push_invoice_work(index)
            continue
        step = subscription_invoices.step(uow, ctx, subs[index], due)
        push_invoice_work(index)
        if step is None:
            continue
        counts[step] = counts.get(step, 0) + 1
        steps += 1
        if steps > MAX_ADVANCE_STEPS:
            raise ValidationFailed(
                f"advancing this far would take more than {MAX_ADVANCE_STEPS} steps; "
                "advance in smaller moves"
            )
        upcoming = subs[index].next_due_at()
        if upcoming is not None and upcoming <= cmd.to:
            heapq.heappush(queue, (upcoming, str(subs[index].id), index, None))
    clock.advance(cmd.to)
    body: dict[str, Any] = {"test_clock": clock_summary(clock), "steps": counts}
    if calls := requested_calls(uow):
        body["provider_calls"] = calls  # asked for at the target itself
    return 200, body


HANDLERS: dict[type[m.Command], Handler] = {
    # Asks for no provider call, but answers like the subscription handlers (it did so
    # when it was one of them).
    m.CreateTestClock: reporting_calls(create_test_clock),
    # An advance lists its own calls, where it paused.
    m.AdvanceTestClock: advance_test_clock,
}
