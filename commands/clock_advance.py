"""Advancing a test clock: a small discrete-event simulation over the clock's
subscriptions and their customers' invoice work, in one unit of work.

It lives on the command side, not in ``domain/``, because every step does command-side
work: a renewal's invoice needs the project's settings, tax rates and coupons, and asks
for a charge, all through the unit of work. The parts that need none of that are in the
domain: each subscription's lifecycle (``Subscription.process_next``) and the step
budget (``domain/advance_budget.py``), checked before the first step, so a refused
advance leaves the unit of work as it found it. The handler
(``commands/test_clocks.py``) only loads the clock and answers.

The agenda is a heap of ``Due`` entries: a subscription's next step
(``SubscriptionStep``) or a piece of a customer's invoice work (``InvoiceStep``: a draft
to finalize, a payment to retry). Entries are ordered by time, then by the id, as text,
of the subscription or the invoice: things due at the same moment run in an order fixed
by what they are, not by when they were put on the agenda, so the same history always
records the same events. A subscription is on the agenda once at most (its next step is
put on after the last one ran) and ``InvoiceWork`` hands out each (invoice, time) once,
so no two entries have the same key.

A step that asks a provider for something (a charge, a payment retry) pauses the
advance: once everything due at that moment is done, the clock stops there and the
answer lists the calls. The caller lets the outbox make them and advances again to the
same target (``api/advance.py``), so a decline is known, and its retry scheduled,
before the clock passes the retry's time, as on a real clock.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.credits import expire_at
from commands.invoice_charges import requested_calls
from commands.invoice_due_work import InvoiceWork
from commands.subscription_invoices import step
from domain.advance_budget import check_step_budget
from domain.customers import Customer
from domain.subscriptions import Subscription
from domain.test_clocks import TestClock


@dataclass(frozen=True)
class SubscriptionStep:
    """The subscription's next step: an expiry, trial end, resumption or renewal."""

    subscription: Subscription


@dataclass(frozen=True)
class InvoiceStep:
    """A customer's invoice work: finalize the draft or retry its payment."""

    customer_id: UUID
    invoice_id: UUID


@dataclass(frozen=True, order=True)
class Due:
    """A piece of work due ``at``; ordered by ``at``, then by ``tie_break`` (the id, as
    text, of the subscription or invoice it is about). ``work`` takes no part."""

    at: datetime
    tie_break: str
    work: SubscriptionStep | InvoiceStep = field(compare=False)


@dataclass(frozen=True)
class Advanced:
    """What an advance did: the steps by kind, and, when a provider call paused it
    before its target, the calls it waits for (``provider_calls`` is also set when the
    calls were asked for at the target itself)."""

    steps: dict[str, int]
    paused: bool
    provider_calls: list[str]


def advance(uow: UnitOfWork, ctx: Context, clock: TestClock, to: datetime) -> Advanced:
    """Move ``clock`` to ``to`` (checked by ``clock.check_advance``), doing everything due
    on the way in time order; or as far as the first moment that asked for a provider
    call. Raises, before anything changes, when the way is over the step budget."""
    subs = [uow.get(Subscription, sid, ctx.project_id) for sid in clock.subscription_ids]
    budget = check_step_budget(subs, to)
    simulation = Simulation(uow, ctx, to, clock.frozen_time, budget)
    for sub in subs:
        simulation.plan_step(sub)
        simulation.plan_invoice_work(sub.customer_id)
    paused = simulation.run()
    reached = to if not paused else max(simulation.reached, clock.frozen_time)
    # Prepaid credits that expired on the way are breakage now (issue 13).
    for customer_id in sorted({sub.customer_id for sub in subs}, key=str):
        expire_at(uow, ctx, uow.get(Customer, customer_id, ctx.project_id), reached)
    calls = requested_calls(uow)
    if not paused:
        clock.advance(to)
    elif simulation.reached > clock.frozen_time:
        clock.advance(simulation.reached)
    return Advanced(steps=simulation.counts, paused=paused, provider_calls=calls)


class Simulation:
    """The agenda and the run through it; ``reached`` is the latest moment done."""

    def __init__(
        self, uow: UnitOfWork, ctx: Context, to: datetime, start: datetime, budget: int
    ) -> None:
        self.uow, self.ctx, self.to = uow, ctx, to
        self.agenda: list[Due] = []
        self.work = InvoiceWork(uow, ctx, to)
        self.counts: dict[str, int] = {}
        self.reached = start
        self.budget = budget
        self.subscription_steps = 0

    def plan_step(self, sub: Subscription) -> None:
        due = sub.next_step_at()
        if due is not None and due <= self.to:
            heapq.heappush(self.agenda, Due(due, str(sub.id), SubscriptionStep(sub)))

    def plan_invoice_work(self, customer_id: UUID) -> None:
        for at, invoice_id in self.work.pending(customer_id):
            entry = Due(at, str(invoice_id), InvoiceStep(customer_id, invoice_id))
            heapq.heappush(self.agenda, entry)

    def run(self) -> bool:
        """Do the agenda in order; True if it stopped early for provider calls."""
        while True:
            following = self.agenda[0].at if self.agenda else self.to
            # Everything at the moment reached is done: the rest waits for the provider.
            if following > self.reached and requested_calls(self.uow):
                return True
            if not self.agenda:
                return False
            self.do(heapq.heappop(self.agenda))

    def do(self, due: Due) -> None:
        self.reached = max(self.reached, due.at)
        work = due.work
        if isinstance(work, InvoiceStep):
            self.count(self.work.run(work.customer_id, work.invoice_id, due.at))
            self.plan_invoice_work(work.customer_id)
            return
        sub = work.subscription
        done = step(self.uow, self.ctx, sub, due.at)
        self.plan_invoice_work(sub.customer_id)
        if done is None:
            return
        self.count(done)
        self.subscription_steps += 1
        # The budget counted every step due; the invoice work on the way can only take
        # steps away (domain/advance_budget.py), never add one.
        assert self.subscription_steps <= self.budget, "an advance passed its step count"
        self.plan_step(sub)

    def count(self, done: str | None) -> None:
        if done is not None:
            self.counts[done] = self.counts.get(done, 0) + 1
