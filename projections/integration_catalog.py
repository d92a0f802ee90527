"""The public catalogue of integration events (``billing.<object>.<verb>``, issue 12).

Integration events are a contract with the outside, separate from the domain events,
which may change: a domain event class maps here to at most one public type, and a
renamed or reshaped domain event changes this table, never a receiver's code.

- ``CATALOG``: every type Tally emits, with the kind of object it carries.
- ``NOT_YET_EMITTED``: the types of issue 12 that no recorded fact can back yet, each
  with the reason. None is approximated by another event: a wrong event is worse
  than a missing one.
- ``PAYMENT_TYPES``: the ``billing.payment.*`` types, derived by the payment read model
  rather than mapped from one event class.
- ``integration_type(event) -> str | None``: the public type of a domain event (by its
  class; an invoice payment counts only when it paid the invoice in full, and a
  transaction's start only when it completed at once, as deposits do).
- ``object_id(event) -> UUID``: the id of the object the event is about (the dunning
  record of an invoice is about the invoice; ``LOOKS_UP_INVOICE`` says which).
- ``event_id(position, type, ordinal=0)``: the envelope's id, derived from the log
  position, the type and the row's ordinal at that position, so a redelivery carries
  the same id and a receiver can drop duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from uuid import UUID, uuid5

from domain.invoices import PAID
from domain.transactions import COMPLETED
from projections import events as ev

API_VERSION = "2026-12-01"
# A fixed namespace, so that ids are the same in every process and after a replay.
EVENT_ID_NAMESPACE = UUID("8f6d3b1e-2c4a-5b7e-9d10-4a6b8c2e1f37")


@dataclass(frozen=True)
class EventType:
    name: str  # billing.<object>.<verb>
    object: str  # the API object it carries: customer, subscription, invoice, ...
    description: str


CATALOG: tuple[EventType, ...] = (
    EventType("billing.customer.created", "customer", "A customer was registered."),
    EventType("billing.customer.updated", "customer", "A customer's details changed."),
    EventType("billing.subscription.created", "subscription", "A subscription was created."),
    EventType(
        "billing.subscription.updated",
        "subscription",
        "A subscription changed: its items, status (trial ended, activated, past due, "
        "unpaid, paused, resumed), trial end, or a cancellation was scheduled or undone.",
    ),
    EventType(
        "billing.subscription.trial_will_end",
        "subscription",
        "A subscription's trial ends in three days (or less, for a shorter trial): its "
        "trial_end. Sent once per trial end; again if the trial is extended.",
    ),
    EventType(
        "billing.subscription.renewed", "subscription", "A subscription entered a new period."
    ),
    EventType("billing.subscription.canceled", "subscription", "A subscription ended."),
    EventType("billing.invoice.created", "invoice", "An invoice was drafted."),
    EventType("billing.invoice.finalized", "invoice", "An invoice was finalized (numbered)."),
    EventType("billing.invoice.paid", "invoice", "A payment paid an invoice in full."),
    EventType(
        "billing.invoice.payment_failed",
        "invoice",
        "Collecting an invoice's payment failed (dunning recorded the attempt).",
    ),
    EventType("billing.invoice.voided", "invoice", "An invoice was voided."),
    EventType(
        "billing.payment.succeeded",
        "payment",
        "A payment succeeded: a provider charge the provider confirmed (at once or by "
        "webhook), or an invoice payment recorded another way (out of band, from a wallet).",
    ),
    EventType(
        "billing.payment.failed",
        "payment",
        "A payment failed (a declined charge, one the provider could not make), with its "
        "failure_code.",
    ),
    EventType(
        "billing.payment.refunded",
        "payment",
        "Money of a payment was given back (once per refund; amount_refunded says how much "
        "in all, status whether in part or in full).",
    ),
    EventType("billing.wallet.deposited", "account", "Money was deposited into a wallet."),
    EventType("billing.wallet.withdrawn", "account", "Money was withdrawn from a wallet."),
    EventType(
        "billing.wallet.balance_low",
        "account",
        "A wallet's available balance fell below its low-balance threshold (once per fall; "
        "again only after it was back at or above it).",
    ),
    EventType(
        "billing.credits.low",
        "credit_balance",
        "A customer's prepaid credits in one currency fell below its low_threshold (once "
        "per crossing; again only after a grant brought them back at or above it).",
    ),
    EventType(
        "billing.credits.depleted",
        "credit_balance",
        "A customer's prepaid credits in one currency ran out (reached 0; again only after "
        "a grant brought some back).",
    ),
    EventType("billing.transaction.completed", "transaction", "A transaction completed."),
    EventType("billing.transaction.failed", "transaction", "A pending transaction failed."),
    EventType("billing.transaction.reversed", "transaction", "A transaction was reversed."),
    EventType(
        "billing.entitlements.changed",
        "entitlements",
        "A customer's entitlement set changed (a subscription was created, changed plan, "
        "status or items, or ended; a product it grants was revised): the whole new set, "
        "as GET /v1/customers/{id}/entitlements answers it. Sent only when the set differs "
        "from the previous one.",
    ),
    EventType(
        "billing.command.rejected",
        "command_rejection",
        "A command from the broker was refused and dead-lettered, with the reason.",
    ),
)

TYPES: frozenset[str] = frozenset(t.name for t in CATALOG)
# Types no domain event class maps to: the payment read model decides at which log
# position a payment's outcome changed (``projections.payment_objects``), and the
# event is derived there, beside that position's own event (ordinal 1).
PAYMENT_TYPES: frozenset[str] = frozenset(t.name for t in CATALOG if t.object == "payment")
OBJECT_OF: dict[str, str] = {t.name: t.object for t in CATALOG}

NOT_YET_EMITTED: dict[str, str] = {}
# Derived from the log, not mapped from one event's class: one per customer whose set an
# event changed, at that event's position, ordinals 1, 2, ...
# (``projections.entitlement_changes``).
ENTITLEMENTS_CHANGED = "billing.entitlements.changed"

_BY_CLASS: dict[type, str] = {
    ev.CustomerRegistered: "billing.customer.created",
    ev.CustomerUpdated: "billing.customer.updated",
    ev.SubscriptionCreated: "billing.subscription.created",
    ev.SubscriptionItemsChanged: "billing.subscription.updated",
    ev.SubscriptionTrialEnded: "billing.subscription.updated",
    ev.SubscriptionTrialExtended: "billing.subscription.updated",
    ev.SubscriptionTrialStarted: "billing.subscription.updated",
    ev.SubscriptionActivated: "billing.subscription.updated",
    ev.SubscriptionStatusChanged: "billing.subscription.updated",
    ev.SubscriptionPaused: "billing.subscription.updated",
    ev.SubscriptionResumed: "billing.subscription.updated",
    ev.SubscriptionCancelScheduled: "billing.subscription.updated",
    ev.SubscriptionCancelUndone: "billing.subscription.updated",
    # A provider-run subscription's id and plan as its provider reported them (issue 18).
    ev.SubscriptionProviderLinked: "billing.subscription.updated",
    ev.SubscriptionPeriodMirrored: "billing.subscription.updated",
    ev.SubscriptionTrialEndAnnounced: "billing.subscription.trial_will_end",
    ev.SubscriptionRenewed: "billing.subscription.renewed",
    ev.SubscriptionCanceled: "billing.subscription.canceled",
    ev.InvoiceCreated: "billing.invoice.created",
    ev.InvoiceFinalized: "billing.invoice.finalized",
    ev.InvoicePaymentRecorded: "billing.invoice.paid",
    ev.DunningPaymentFailed: "billing.invoice.payment_failed",
    ev.InvoiceVoided: "billing.invoice.voided",
    ev.Deposited: "billing.wallet.deposited",
    ev.Withdrawn: "billing.wallet.withdrawn",
    ev.BalanceLow: "billing.wallet.balance_low",
    ev.CreditsLow: "billing.credits.low",
    ev.CreditsDepleted: "billing.credits.depleted",
    ev.TransactionInitiated: "billing.transaction.completed",
    ev.TransactionCompleted: "billing.transaction.completed",
    ev.TransactionFailed: "billing.transaction.failed",
    ev.TransactionReversed: "billing.transaction.reversed",
    ev.InboundCommandRejected: "billing.command.rejected",
}

MAPPED_CLASSES: frozenset[type] = frozenset(_BY_CLASS)
# Each class's public type, and the classes whose events ``integration_type`` decides one
# by one (an event of any other mapped class has its class's type): for a caller that
# goes through a batch without a call per event.
TYPE_OF_CLASS: Mapping[type, str] = MappingProxyType(_BY_CLASS)
# Events whose object is found through another read model's row: a dunning record's
# failure is about its invoice (``invoice_dunning.invoice_id``).
LOOKS_UP_INVOICE: frozenset[type] = frozenset({ev.DunningPaymentFailed})


def _paid(event: Any) -> bool:
    return bool(event.status == PAID)  # a part payment leaves the invoice open


def _completed(event: Any) -> bool:
    return bool(event.state == COMPLETED)  # pending: it completes (or fails) later


# The classes whose events are public only in some states, and what decides it.
_PUBLIC_WHEN: dict[type, Callable[[Any], bool]] = {
    ev.InvoicePaymentRecorded: _paid,
    ev.TransactionInitiated: _completed,
}
# For a caller that goes through a batch without a call per event: an event of any
# other mapped class has its class's type.
DECIDED_PER_EVENT: frozenset[type] = frozenset(_PUBLIC_WHEN)


def integration_type(event: Any) -> str | None:
    """The public type of a domain event, or None when it has none."""
    cls = type(event)
    decide = _PUBLIC_WHEN.get(cls)
    if decide is not None and not decide(event):
        return None
    return _BY_CLASS.get(cls)


def event_id(position: int, type_name: str, ordinal: int = 0) -> str:
    """The envelope's id: the same for the same log position, ordinal and type,
    everywhere. A recorded event's own row (ordinal 0) keeps the id it had before the
    outbox's key had an ordinal."""
    key = f"{position}:{type_name}" if ordinal == 0 else f"{position}:{ordinal}:{type_name}"
    return "evt_" + uuid5(EVENT_ID_NAMESPACE, key).hex
