"""Progressive billing's commands (issue 13; ``domain.progressive_billing``).

``SetUsageThresholds`` keeps a subscription's thresholds on its usage ledger
(``UsageBilling``). ``BillUsageThresholds`` is what usage ingestion runs after a write
that counts toward a subscription with thresholds: on fresh state it rates the
period's usage so far and, when a new threshold is reached, issues an invoice of usage
lines alone for what earlier invoices of the period did not bill (finalized, credited
and charged as the renewal's usage-only invoices are), and records what it billed so
that the renewal bills only the rest.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictInt

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.messages import Command
from commands.now import now_for
from commands.subscription_invoices import usage_invoices
from commands.usage_rating import RatedUsage, metered_prices, quantities_of
from domain.copies import plain_copy
from domain.limits import MAX_AMOUNT_MINOR, MAX_USAGE_THRESHOLDS
from domain.progressive_billing import check_thresholds, progressive_step
from domain.subscription_states import ACTIVE, PAST_DUE
from domain.subscriptions import Subscription
from domain.usage_billing import UsageBilling
from domain.usage_rating import billing_period

Threshold = Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT_MINOR)]


class SetUsageThresholds(Command):
    subscription_id: UUID
    thresholds: list[Threshold] = Field(max_length=MAX_USAGE_THRESHOLDS)


class BillUsageThresholds(Command):
    subscription_id: UUID


def _ledger(uow: UnitOfWork, sub: Subscription) -> UsageBilling:
    ledger = uow.find(UsageBilling, UsageBilling.create_id(sub.id))
    return ledger if ledger is not None else UsageBilling.start(sub.project_id, sub.id)


def set_thresholds(uow: UnitOfWork, cmd: SetUsageThresholds, ctx: Context) -> Result:
    sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
    thresholds = check_thresholds(list(cmd.thresholds))
    ledger = _ledger(uow, sub)
    ledger.set_thresholds(thresholds, sub.customer_id)
    uow.add(ledger)
    return Result.changed(
        {"subscription_id": str(sub.id), "thresholds": plain_copy(ledger.thresholds)}
    )


def bill_thresholds(uow: UnitOfWork, cmd: BillUsageThresholds, ctx: Context) -> Result:
    sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
    ledger = uow.find(UsageBilling, UsageBilling.create_id(sub.id))
    nothing = Result.unchanged({"subscription_id": str(sub.id), "invoice_ids": []})
    if ledger is None or not ledger.thresholds or sub.status not in (ACTIVE, PAST_DUE):
        return nothing
    period = billing_period(sub, ledger)
    prices = metered_prices(uow, ctx, sub.items)
    billed, level = ledger.progressive_for(period)
    step = progressive_step(
        prices=prices,
        quantities=quantities_of(uow, sub, prices, period),
        period=period,
        billed=billed,
        level=level,
        thresholds=ledger.thresholds,
    )
    if step is None:
        return nothing
    invoice_ids: list[str] = []
    if step.lines:
        now = now_for(uow, ctx, sub.test_clock_id)
        made = usage_invoices(uow, ctx, sub, now, step.lines, RatedUsage(period=period),
                              "usage_threshold")  # fmt: skip
        invoice_ids = [str(invoice.id) for invoice in made]
    ledger.record_progressive(UUID(invoice_ids[0]) if invoice_ids else UUID(int=0), period,
                              step.billed, step.reached)  # fmt: skip
    uow.add(ledger)
    return Result.changed({"subscription_id": str(sub.id), "invoice_ids": invoice_ids})


HANDLERS: dict[type[Command], Handler] = {
    SetUsageThresholds: set_thresholds,
    BillUsageThresholds: bill_thresholds,
}
