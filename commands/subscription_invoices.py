"""Invoices that subscriptions make on their own.

A subscription gets a draft invoice for a period when it starts active (or incomplete,
waiting for that first payment), when its trial ends, when it resumes and at every
renewal, in the same save as the subscription's event. The draft has a line per item
(the item's amount for the period), the proration lines collected since the last
renewal, the project's default tax rates and the coupon the subscription or customer
has (its remaining periods counted down). A renewal's draft also bills the usage of the
period that just ended, and usage that came late for the one before
(``commands.usage_rating``); one that cancels at its period's end gets an invoice of
that period's usage alone. With ``finalize_delay_s`` 0 it is finalized
at once; otherwise its ``finalize_at`` is put on the customer's due work. Finalized
invoices are charged at once when the project has an ``auto_charge_provider``.

The invoice work that falls due afterwards (finalizing a draft whose time has come,
retrying a failed payment, and finalizing and charging at once) is
``commands.invoice_due_work``'s; its ``ProcessDueInvoices`` handler is registered from
here too (``HANDLERS``), as it always was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.credits import credit_invoice
from commands.invoice_common import settings_values, tax_rates
from commands.invoice_due_work import HANDLERS as HANDLERS
from commands.invoice_due_work import finalize_and_charge
from commands.invoicing import billing_for
from commands.line_descriptions import item_line
from commands.usage_rating import RatedUsage, period_ends_at, rate_renewal
from domain.invoices import MAX_LINES, Invoice
from domain.subscription_drafts import draft_invoice, next_invoice
from domain.subscription_states import ACTIVE, PAST_DUE, TRIALING
from domain.subscriptions import Subscription
from domain.usage_rating import UsageLine, split_usage

INVOICING_STEPS = ("renewed", "trial_ended", "resumed", "started")


def draft_for(  # the period's facts
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    *,
    period: tuple[datetime, datetime],
    items: list[dict[str, Any]],
    proration_lines: list[dict[str, Any]],
    finalize_at: datetime | None,
    reason: str,
    usage: Sequence[UsageLine] = (),
) -> tuple[Invoice, tuple[str, dict[str, Any]] | None]:
    """A draft (not yet in the unit of work) for one period, with the coupon it gets
    and where that coupon is kept, which the caller counts down if it keeps the draft.
    The item texts, the project's default tax rates (archived ones left out) and the
    coupon come from the event store; ``domain.subscription_drafts`` drafts it."""
    values = settings_values(uow, ctx)
    rates = tax_rates(uow, ctx, [UUID(i) for i in values["default_tax_rate_ids"]], strict=False)
    found = billing_for(uow, ctx, sub.customer_id, sub.currency).coupon_for(sub.id)
    invoice = draft_invoice(
        sub,
        period=period,
        items=items,
        texts=[item_line(uow, ctx, item) for item in items],
        proration_lines=proration_lines,
        rates=rates,
        coupon=found[1] if found is not None else None,
        finalize_at=finalize_at,
        reason=reason,
        usage=usage,
    )
    return invoice, found


def invoice_period(
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    now: datetime,
    proration_lines: list[dict[str, Any]],
    reason: str,
    usage: RatedUsage | None = None,
) -> Invoice:
    """Draft (and, without a delay, finalize) the invoice of the subscription's current
    period, with ``usage`` (rated before the renewal: ``commands.usage_rating``). Never
    raises once it has started changing things."""
    values = settings_values(uow, ctx)
    delay = int(values["finalize_delay_s"])
    finalize_at = now + timedelta(seconds=delay) if delay else None
    # An invoice holds MAX_LINES lines: usage lines past what fits beside the items and
    # prorations go on invoices of usage alone (else the renewal failed for ever); the
    # upcoming invoice's preview splits them the same way.
    fits, *rest = split_usage(usage.lines if usage is not None else [],
                              len(sub.items) + len(proration_lines))  # fmt: skip
    invoice, coupon = draft_for(
        uow,
        ctx,
        sub,
        period=sub.current_period,
        items=sub.items,
        proration_lines=proration_lines,
        finalize_at=finalize_at,
        reason=reason,
        usage=fits,
    )
    credit_invoice(uow, ctx, invoice, now)  # prepaid credits pay for its usage (issue 13)
    billing = billing_for(uow, ctx, sub.customer_id, sub.currency)
    if coupon is not None:
        billing.use_coupon(coupon[0], invoice.id)
    uow.add(invoice)
    if usage is not None:
        usage.record(uow, sub, invoice.id)
    uow.add(billing)
    if finalize_at is not None:
        billing.schedule(invoice.id, finalize_at, "finalize")
    else:
        finalize_and_charge(uow, ctx, invoice, now, values)
    if rest:
        usage_invoices(uow, ctx, sub, now, [li for part in rest for li in part], usage,
                       "usage_continued")  # fmt: skip
    return invoice


def upcoming(uow: UnitOfWork, ctx: Context, sub: Subscription) -> Invoice | None:
    """What the subscription's next invoice will be (``subscription_drafts.next_invoice``),
    written nowhere; None when nothing more will be billed."""
    coming = next_invoice(sub)
    if coming is None:
        return None
    invoice, _ = draft_for(
        uow,
        ctx,
        sub,
        period=coming.period,
        items=coming.items,
        proration_lines=coming.proration_lines,
        finalize_at=None,
        reason="upcoming",
    )
    return invoice


def check_next_invoice(
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    items: list[dict[str, Any]],
    proration_lines: list[dict[str, Any]],
) -> None:
    """Draft, written nowhere, the next invoice ``sub`` would make with ``items`` and
    ``proration_lines`` (at its trial's end or next renewal), so that a change it could
    never invoice (past the money limits with the project's tax) is refused before it is
    recorded rather than by the scheduler later."""
    trialing = sub.status == TRIALING
    draft_for(
        uow,
        ctx,
        sub,
        period=sub.schedule.period(0 if trialing else sub.period_index + 1),
        items=items,
        proration_lines=[] if trialing else proration_lines,
        finalize_at=None,
        reason="upcoming",
    )


def step(uow: UnitOfWork, ctx: Context, sub: Subscription, due: datetime) -> str | None:
    """One of the subscription's due steps, with the invoice it brings. A renewal's
    usage is rated before anything changes."""
    pending = list(sub.proration_lines)
    usage = rate_renewal(uow, ctx, sub) if period_ends_at(sub, due) else None
    done = sub.process_next(due)
    if done in INVOICING_STEPS:
        renewed = done == "renewed"
        invoice_period(
            uow, ctx, sub, due, pending if renewed else [], done, usage if renewed else None
        )
    elif done == "canceled" and usage is not None and usage.lines:
        final_usage_invoice(uow, ctx, sub, due, usage)
    return done


def final_usage_invoice(
    uow: UnitOfWork, ctx: Context, sub: Subscription, now: datetime, usage: RatedUsage
) -> Invoice:
    """The usage of the last period of a subscription that canceled at its end (and the
    late usage of the period before), billed as it ends: an invoice of usage lines
    alone, with the project's default tax rates and no coupon (a coupon's periods are
    the subscription's, which have ended); more than one if they pass MAX_LINES."""
    invoices = usage_invoices(uow, ctx, sub, now, usage.lines, usage, "final_usage")
    usage.record(uow, sub, invoices[0].id)
    return invoices[0]


def usage_until(
    uow: UnitOfWork, ctx: Context, sub: Subscription, now: datetime
) -> RatedUsage | None:
    """The usage of the period so far, up to ``now``, of a subscription that stops
    billing now (canceled at once, or paused), rated before it changes; None unless it
    is active or past due (a trial's usage is billed with the first period's, which a
    trial canceled never reaches; a paused one's was billed at its pause, and usage
    sent while it is paused, which a resume would bill, is like usage sent after its
    end once it is canceled: kept, never billed)."""
    if sub.status not in (ACTIVE, PAST_DUE):
        return None
    return rate_renewal(uow, ctx, sub, until=now)


def bill_usage_until(
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    now: datetime,
    usage: RatedUsage | None,
    reason: str,
) -> None:
    """Bill ``usage_until``'s lines on invoices of usage alone (and record what they
    billed, so that what comes after bills only the rest); nothing without lines."""
    if usage is None or not usage.lines:
        return
    invoices = usage_invoices(uow, ctx, sub, now, usage.lines, usage, reason)
    usage.record(uow, sub, invoices[0].id)


def usage_invoices(
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    now: datetime,
    lines: list[UsageLine],
    usage: RatedUsage | None,
    reason: str,
) -> list[Invoice]:
    """Invoices of usage lines alone, at most MAX_LINES lines each, in the lines' order,
    with the project's default tax rates and no coupon, finalized (or scheduled) as a
    renewal's are."""
    values = settings_values(uow, ctx)
    delay = int(values["finalize_delay_s"])
    finalize_at = now + timedelta(seconds=delay) if delay else None
    rates = tax_rates(uow, ctx, [UUID(i) for i in values["default_tax_rate_ids"]], strict=False)
    period = (usage.period if usage is not None else None) or sub.current_period
    made: list[Invoice] = []
    for start in range(0, len(lines), MAX_LINES):
        invoice = draft_invoice(
            sub,
            period=period,
            items=[],
            texts=[],
            proration_lines=[],
            rates=rates,
            coupon=None,
            finalize_at=finalize_at,
            reason=reason,
            usage=lines[start : start + MAX_LINES],
        )
        credit_invoice(uow, ctx, invoice, now)
        uow.add(invoice)
        billing = billing_for(uow, ctx, sub.customer_id, sub.currency)
        uow.add(billing)
        if finalize_at is not None:
            billing.schedule(invoice.id, finalize_at, "finalize")
        else:
            finalize_and_charge(uow, ctx, invoice, now, values)
        made.append(invoice)
    return made
