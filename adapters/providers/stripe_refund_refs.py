"""The refund behind a Stripe ``charge.refunded``, asked of Stripe when the event omits it.

``charge.refunded`` carries the charge: its ``amount_refunded`` is the running total,
but at current API versions (2022-11-15 on) the charge's ``refunds`` list is left out,
so the event does not say which refund caused it, nor whether Tally asked for it. A
refund Tally asks for keeps ``tally_refund_call`` and ``tally_transaction`` in its
metadata (``commands/wallet_payments.py``). Without them the event looks like a refund
made in Stripe's dashboard, and if it arrives before the outbox has recorded Stripe's
answer to the call, the transaction was reversed by the webhook and again by the
answer. So before such an event is recorded the adapter lists the charge's refunds
(``GET /v1/refunds?charge=ch_...``, newest first) and takes the newest as the event's
refund: its id, its amount and its ``tally_*`` references (``commands/webhook_refunds.py``
then applies it to the call it names, once, whichever of the two comes first). Every
listed refund Tally asked for is named too (``own_refunds``): the running total counts
it, so the reversal by that total settles its call, even when the newest refund is
another (a dashboard refund made just after Tally's), and its answer moves nothing
more. A charge
with no refund listed leaves the event as it was; Stripe unreachable is
``ProviderUnavailable`` (the webhook answers 503 and Stripe redelivers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from adapters.providers.base import ProviderEvent, references_from
from adapters.providers.stripe_events import own_refunds
from commands.provider_events import EventType

# Stripe's largest page: the newest refund is the event's, and every refund of Tally's
# the running total counts is named (``own_refunds``), so its call is settled with it.
PAGE = 100


def needs_refund(event: ProviderEvent) -> bool:
    """A ``charge.refunded`` whose charge does not list its refunds (or not all)."""
    if event.provider_type != "charge.refunded" or event.type is not EventType.REFUND_SUCCEEDED:
        return False
    data = event.raw.get("data")
    charge = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(charge, Mapping) or not isinstance(charge.get("id"), str):
        return False
    refunds = charge.get("refunds")
    return not isinstance(refunds, Mapping) or refunds.get("has_more") is True


def with_charge_refund(client: Any, event: ProviderEvent) -> ProviderEvent:
    """``event`` with the charge's newest refund as its refund (``client`` is the SDK's
    ``StripeClient``; its errors are the caller's)."""
    charge = event.raw["data"]["object"]["id"]
    listed = client.v1.refunds.list({"charge": charge, "limit": PAGE})
    rows = [row.to_dict() for row in listed.data]
    return with_refund(event, rows)


def with_refund(event: ProviderEvent, rows: list[Any]) -> ProviderEvent:
    """``event`` as the report of the newest of ``rows`` (Stripe refund objects)."""
    refunds = [row for row in rows if isinstance(row, Mapping) and isinstance(row.get("id"), str)]
    if not refunds:
        return event
    newest = max(refunds, key=lambda row: _int(row.get("created")))
    amount = newest.get("amount")
    return replace(
        event,
        object_ref=str(newest["id"]),
        amount_minor=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        # The refund's own references win: they say who asked for it.
        references={**event.references, **references_from(newest.get("metadata"))},
        own_refunds=own_refunds(refunds),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
