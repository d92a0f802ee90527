"""What the API says about a charge the outbox makes for an invoice: its
``payment_attempt``, and whether the provider has yet to confirm it. The commands that
ask for a charge answer with it, and so does the read side once the charge was made
(``projections.payment_answers``)."""

from __future__ import annotations

from typing import Any

from domain.provider_calls import ProviderCall


def charge_attempt(call: ProviderCall, attempt: int) -> dict[str, Any]:
    """The API's ``payment_attempt`` for a charge made by the outbox."""
    status = "processing" if awaits_confirmation(call) else call.state
    settled = {"succeeded": True, "failed": False}.get(status)
    return {
        "status": status,
        "succeeded": settled,
        "attempt": attempt,
        "amount": int(call.params["amount_minor"]),
        "provider": call.provider,
        "provider_call_id": str(call.id),
        "reference": call.payment_ref or None,
        "failure_reason": call.error_code or None,
        "step": "charge_requested" if call.pending else status,
    }


def awaits_confirmation(call: ProviderCall) -> bool:
    """The provider took the charge but has not said yet whether it went through
    (``processing``): its webhook settles the invoice."""
    return call.state == "succeeded" and call.result.get("status") == "processing"
