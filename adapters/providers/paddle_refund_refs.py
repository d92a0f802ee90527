"""The Tally payment of a refund made in Paddle's dashboard, from the transaction it refunds.

A refund Tally asked for names its call in the adjustment's reason (``paddle_bodies``).
One made in Paddle's dashboard carries nothing of Tally's: an adjustment keeps no
``custom_data``. It names the transaction it refunds, though, and that transaction is
one Tally made (a checkout's, whose ``custom_data`` holds ``tally_transaction``; a
charge's, whose price's holds ``tally_charge_call``). So before an approved refund with
no Tally call is recorded, the adapter reads the transaction (``GET
/transactions/{id}``) for its references, and the transaction's refund adjustments
(``GET /adjustments``, every page) for what Paddle has refunded of it so far, the
approved ones: the running total that Stripe's ``charge.refunded`` carries as
``amount_refunded``. ``commands/webhook_refunds.py`` then treats it as it treats a
Stripe dashboard refund: it reverses the total less what was reversed already, so a
second report of the same refund (``adjustment.created`` then ``updated``) reverses
nothing more, in whatever order they come. The approved refunds Tally asked for that
the total counts (their reasons name their calls) are named in ``own_refunds``: the
reversal by the total settles their calls, so an approval of Tally's refund applied
after a dashboard refund's event reverses nothing more. A transaction Paddle will not show gives
none, and the event is recorded and ignored; Paddle unreachable is
``ProviderUnavailable`` (503: Paddle redelivers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from adapters.providers.amounts import minor_from_text
from adapters.providers.base import ProviderEvent
from adapters.providers.ids import PADDLE, path_segment
from adapters.providers.paddle_bodies import refund_call_in
from adapters.providers.paddle_events import transaction_references
from commands.provider_errors import ProviderRejected
from commands.provider_events import EventType

Call = Callable[[str, str, object | None], dict[str, Any]]
Entries = Callable[[str, dict[str, str], str], Iterator[dict[str, Any]]]


def needs_payment(event: ProviderEvent) -> bool:
    """An approved refund adjustment that names no Tally refund call."""
    return (
        event.type is EventType.REFUND_SUCCEEDED
        and bool(event.payment_ref)
        and "tally_refund_call" not in event.references
    )


def with_payment_references(call: Call, entries: Entries, event: ProviderEvent) -> ProviderEvent:
    """``event`` with its transaction's ``tally_*`` references and Paddle's running
    refunded total (``call`` and ``entries`` are the adapter's)."""
    transaction = path_segment(PADDLE, str(event.payment_ref), what="the transaction id")
    try:
        found = call("GET", f"/transactions/{transaction}", None)
    except ProviderRejected:
        return event
    params = {"transaction_id": transaction, "action": "refund"}
    # This refund counts even if Paddle's list does not show it yet.
    total = event.amount_minor or 0
    own: dict[str, str] = {}  # Tally's refunds the total counts: their calls are settled
    for adjustment in entries("/adjustments", params, "the transaction's refunds"):
        if adjustment.get("id") != event.object_ref and adjustment.get("status") == "approved":
            totals = adjustment.get("totals")
            total += minor_from_text(totals.get("total") if isinstance(totals, dict) else None) or 0
            asked = refund_call_in(adjustment.get("reason"))
            if asked is not None and isinstance(adjustment.get("id"), str):
                own[asked] = str(adjustment["id"])
    references = {**transaction_references(found), **event.references}
    return replace(event, references=references, refunded_total_minor=total, own_refunds=own)
