"""The Tally payment of a refund made in YooKassa's dashboard, from the payment it refunds.

A refund Tally asks for keeps its references in the refund's ``metadata`` (the API has
taken it since the SDK's 3.x); one made in the merchant's dashboard (or asked before
then) keeps none, so it does not say which Tally payment it reverses. It names its payment
(``payment_id``), though, and that payment is one Tally made, whose ``metadata`` holds
its ``tally_*`` references (``tally_transaction`` for a checkout or top-up,
``tally_charge_call`` for an invoice charge). So before a ``refund.succeeded`` is
recorded, the adapter reads the payment (``GET /v3/payments/{id}``, its id checked as
the refund's was) for its references, and its ``refunded_amount``: the running total of
what YooKassa has refunded of it, which Stripe's ``charge.refunded`` carries as
``amount_refunded``. ``commands/webhook_refunds.py`` then treats it as a Stripe
dashboard refund: it reverses the total less what was reversed already, so the report
of a refund Tally asked for (already reversed by the call's answer) reverses nothing
more, and neither does a redelivery. The total counts Tally's own refunds too, so the
adapter also lists the payment's refunds (``GET /v3/refunds?payment_id=``) and names
Tally's succeeded ones (``own_refunds``, from their metadata): the reversal settles
their calls, and an answer applied after it reverses nothing more. A payment YooKassa
will not show (404) gives no references: the event is recorded and ignored. YooKassa
unreachable is ``ProviderUnavailable`` (503: YooKassa redelivers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from adapters.providers.amounts import major_to_minor
from adapters.providers.base import ProviderEvent, references_from
from commands.provider_events import EventType

# The adapter's fetch of a payment by its (checked) id; None when YooKassa has none.
FetchPayment = Callable[[str], Mapping[str, Any] | None]
# The adapter's list of a payment's refunds (``GET /v3/refunds?payment_id=``).
ListRefunds = Callable[[str], list[dict[str, Any]]]


# A refund that names any of these says itself what it refunds: Tally's own refunds
# keep their references in the refund's metadata (the call, and the transaction it
# reverses if any; a credit note's refund names none, and must not be given the
# payment's, which would reverse the payment beside the note).
OWN = ("tally_refund_call", "tally_transaction", "tally_charge_call")


def needs_payment(event: ProviderEvent) -> bool:
    """A succeeded refund whose Tally payment is not known from the event itself."""
    return (
        event.type is EventType.REFUND_SUCCEEDED
        and bool(event.payment_ref)
        and not any(key in event.references for key in OWN)
    )


def with_payment_references(
    fetch: FetchPayment, list_refunds: ListRefunds, event: ProviderEvent
) -> ProviderEvent:
    """``event`` with its payment's ``tally_*`` references, YooKassa's running refunded
    total of that payment, and the refunds of Tally's that total counts."""
    payment = fetch(str(event.payment_ref))
    if payment is None or payment.get("id") != event.payment_ref:
        return event
    references = {**references_from(payment.get("metadata")), **event.references}
    return replace(
        event,
        references=references,
        refunded_total_minor=_refunded(payment, event),
        own_refunds=_own(list_refunds(str(payment["id"])), event),
    )


def _own(refunds: list[dict[str, Any]], event: ProviderEvent) -> dict[str, str]:
    """Tally's succeeded refunds among ``refunds`` (counted in ``refunded_amount``):
    their refund call's id to the refund's id."""
    found: dict[str, str] = {}
    for refund in refunds:
        metadata = refund.get("metadata")
        call = metadata.get("tally_refund_call") if isinstance(metadata, Mapping) else None
        refund_id = refund.get("id")
        if (
            isinstance(call, str)
            and isinstance(refund_id, str)
            and refund_id != event.object_ref
            and refund.get("status") == "succeeded"
        ):
            found[call] = refund_id
    return found


def _refunded(payment: Mapping[str, Any], event: ProviderEvent) -> int | None:
    """The payment's ``refunded_amount`` in minor units (a refund has succeeded only
    once YooKassa counts it there); without one, this refund's amount alone."""
    refunded = payment.get("refunded_amount")
    currency = str(event.currency or "")
    if isinstance(refunded, Mapping) and str(refunded.get("currency", "")).upper() == currency:
        try:
            return major_to_minor(str(refunded.get("value", "")), currency)
        except ValueError:
            return None
    return event.amount_minor
