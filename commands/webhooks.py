"""Inbound provider events: record each once, then apply it once.

``RecordWebhookEvents`` runs in the webhook request: it only creates one
``WebhookEvent`` per new event id (a known id is a duplicate and records nothing), so
the endpoint answers fast. ``ApplyWebhookEvent`` runs afterwards, from the webhook
processor (``adapters/outbox.py``): it translates the event into changes of the ledger,
invoices, subscriptions and payment methods and marks the event applied in the same
transaction, so a second run finds it settled and does nothing. An event that comes
before what it needs raises ``NotYetApplicable`` (nothing written) and the processor
parks it with ``ParkWebhookEvent``. The translation itself is in
``commands/webhook_effects.py``.
"""

from __future__ import annotations

from typing import Any

from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.webhook_effects import translate
from domain.webhooks import WebhookEvent


def record_webhook_events(uow: UnitOfWork, cmd: pm.RecordWebhookEvents, ctx: Context) -> Result:
    recorded: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    for fields in cmd.events:
        assert fields["provider"] == cmd.provider, "events of one delivery share a provider"
        event_id = WebhookEvent.create_id(ctx.project_id, cmd.provider, str(fields["event_id"]))
        known = uow.find(WebhookEvent, event_id)
        if known is not None:
            duplicates.append(known.summary())
            continue
        raw = fields.get("raw") or {}
        data = {k: v for k, v in fields.items() if k != "raw"}
        webhook_event = WebhookEvent.receive(ctx.project_id, data, dict(raw))
        uow.add(webhook_event)
        recorded.append(webhook_event.summary())
    return Result.changed({"recorded": recorded, "duplicates": duplicates})


def apply_webhook_event(uow: UnitOfWork, cmd: pm.ApplyWebhookEvent, ctx: Context) -> Result:
    webhook_event = uow.get(WebhookEvent, cmd.webhook_event_id, ctx.project_id)
    if not webhook_event.settled:
        effects, reason = translate(uow, ctx, webhook_event)
        if effects:
            webhook_event.mark_applied(effects)
        else:
            webhook_event.mark_ignored(reason)
    return Result.changed({"webhook_event": webhook_event.summary()})


def park_webhook_event(uow: UnitOfWork, cmd: pm.ParkWebhookEvent, ctx: Context) -> Result:
    assert ctx.now is not None
    webhook_event = uow.get(WebhookEvent, cmd.webhook_event_id, ctx.project_id)
    if not webhook_event.settled:
        webhook_event.park(cmd.reason, ctx.now)
    return Result.changed({"webhook_event": webhook_event.summary()})


HANDLERS: dict[type[Any], Handler] = {
    pm.RecordWebhookEvents: record_webhook_events,
    pm.ApplyWebhookEvent: apply_webhook_event,
    pm.ParkWebhookEvent: park_webhook_event,
}
