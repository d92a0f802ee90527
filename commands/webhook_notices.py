"""Provider events that announce something rather than change it, and why the others
Tally receives change nothing (part of ``ApplyWebhookEvent``'s translation).

``trial_will_end`` (Stripe's ``customer.subscription.trial_will_end``, three days before
a trial ends, as Tally's own notice) is the announcement Tally's scheduler makes for
its subscriptions: the subscription records ``TrialEndAnnounced`` for its current trial
end, which publishes ``billing.subscription.trial_will_end``. Whichever comes first
announces; the other finds it announced (once per trial end, again after an extension).
"""

from __future__ import annotations

from typing import Any

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.now import context_now
from commands.provider_events import EventType
from commands.webhook_lookups import Step, named
from domain.subscriptions import Subscription
from domain.webhooks import WebhookEvent

# Why an event of these types changes nothing in Tally (the ignored event's reason).
NOTHING_TO_DO: dict[EventType, str] = {
    EventType.INVOICE_CREATED: (
        "the provider's invoice is its own document: Tally drafts and finalizes its own "
        "invoices (billing.invoice.created comes from those), and pays them from the "
        "provider's payment events"
    ),
    EventType.INVOICE_FINALIZED: (
        "the provider's invoice is its own document: Tally drafts and finalizes its own "
        "invoices (billing.invoice.finalized comes from those), and pays them from the "
        "provider's payment events"
    ),
    EventType.INVOICE_VOIDED: (
        "only the invoices of a subscription the provider runs follow the provider's; "
        "Tally voids its own invoices by its own command"
    ),
    EventType.INVOICE_UNCOLLECTIBLE: (
        "only the invoices of a subscription the provider runs follow the provider's; "
        "Tally marks its own invoices uncollectible by its own command or by dunning"
    ),
}


def trial_announced(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    """Announce the named subscription's trial end, unless it is not trialing or this
    trial end was announced already."""
    sub: Subscription | None = named(uow, ctx, Subscription, event, "subscription")
    notice = sub.trial_notice_at() if sub is not None else None
    if sub is None or notice is None:
        return []

    def announce() -> dict[str, Any]:
        # The provider's notice is the announcement, whenever it comes: announced as of
        # the notice's due time even if Tally's clock has not reached it.
        sub.announce_trial_end(max(context_now(ctx), notice))
        end = sub.trial_end.isoformat() if sub.trial_end else None
        return {"action": "trial_end_announced", "subscription_id": str(sub.id), "trial_end": end}

    return [announce]
