"""A customer's saved payment method deleted at Paddle when Tally detaches it (issue 18,
item 2).

Paddle Billing lists a customer's saved methods (``GET /customers/{id}/payment-methods``)
and deletes one (``DELETE /customers/{id}/payment-methods/{paymtd}``); it has no call to
attach a method (its checkout saves them) and no default method. So of Tally's changes
only a detach reaches Paddle. Paddle takes no idempotency key, and needs none here: a
retry of a delete that went through finds the method gone (404), which is the state
Tally asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.providers.base import PaymentMethodRequest
from adapters.providers.ids import PADDLE, path_segment
from commands.provider_errors import ProviderRejected, ProviderUnsupported

NAME = "paddle"


class PaddlePaymentMethods:
    """The saved-method calls of ``PaddleProvider`` (which supplies ``_call``)."""

    payment_method_actions: tuple[str, ...] = ("detach",)

    if TYPE_CHECKING:

        def _call(self, method: str, path: str, body: object | None) -> dict[str, Any]: ...

    def sync_payment_method(self, request: PaymentMethodRequest) -> None:
        if request.action != "detach":
            raise ProviderUnsupported(
                f"Paddle cannot {request.action} a saved payment method", provider=NAME
            )
        customer = path_segment(PADDLE, request.customer_ref, what="the customer id")
        method = path_segment(PADDLE, request.payment_method_ref, what="the payment method id")
        try:
            self._call("DELETE", f"/customers/{customer}/payment-methods/{method}", None)
        except ProviderRejected as refused:
            if refused.context.get("status") != 404:
                raise
