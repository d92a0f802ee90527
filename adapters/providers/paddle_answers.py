"""What Paddle answers, read into Tally's terms: a refusal as a typed error, an
adjustment as a refund's outcome; and the currencies a call may be made in.

Kept apart from ``paddle.py`` (the calls) and ``paddle_bodies.py`` (what is sent).
"""

from __future__ import annotations

from typing import Any

from adapters.providers.base import RefundOutcome, RefundRequest
from commands.provider_errors import CardDeclined, ProviderRejected
from domain.limits import PADDLE_CURRENCIES

NAME = "paddle"


def refusal(payload: dict[str, Any], status: int) -> Exception:
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    code = str(error.get("code", "")) if error else ""
    detail = str(error.get("detail", "")) if error else ""
    if "declined" in code:
        return CardDeclined(
            f"Paddle declined the payment: {detail}", provider=NAME, decline_code=code
        )
    return ProviderRejected(
        f"Paddle refused the request ({status} {code}): {detail}",
        provider=NAME,
        paddle_code=code,
        status=status,
    )


def refund_outcome(adjustment: dict[str, Any], request: RefundRequest) -> RefundOutcome:
    """``succeeded`` once approved; ``pending_approval`` while Paddle reviews it (its
    ``adjustment.updated`` reports the decision); a rejected refund is refused."""
    status = str(adjustment.get("status", "pending_approval"))
    if status == "rejected":
        raise ProviderRejected(
            f"Paddle rejected the refund {adjustment.get('id', '')}", provider=NAME
        )
    return RefundOutcome(
        NAME,
        str(adjustment.get("id", "")),
        "succeeded" if status == "approved" else status,
        request.amount_minor,
        request.currency.upper(),
    )


def check_currency(currency: str) -> None:
    """A call recorded before its command checked the currency is still never sent
    with one Paddle refuses; the refusal fails the call (it is not retried)."""
    if currency.upper() not in PADDLE_CURRENCIES:
        raise ProviderRejected(
            f"Paddle does not take {currency.upper()}", provider=NAME, field="currency"
        )
