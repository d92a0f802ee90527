"""Paddle Billing over httpx.

Checkouts are Paddle transactions: Tally creates one with the items and Paddle returns
its hosted checkout URL, on the page ``checkout_url`` names (an approved domain's page
that opens Paddle.js) or else on the account's default payment link.

Off-session charges: Paddle charges a saved payment method only through a subscription
(``POST /subscriptions/{id}/charge``, a one-time charge billed to the method the
subscription pays with); its API has no charge of a ``paymtd_...`` by itself. A
``ChargeRequest.payment_method_ref`` is the customer's saved method (``paymtd_...``, as
``transaction.completed`` reports it), and the adapter charges the subscription that
method pays: the newest of the customer's transactions paid with it that belongs to a
subscription. A method that pays no subscription cannot be charged off-session at
Paddle (``ProviderUnsupported``). A ``sub_...`` reference is still charged as it is.

Refunds are adjustments, which Paddle may hold for approval (``pending_approval``):
``adjustment.updated`` reports the decision (``paddle_events.py``).

Paddle's API takes no idempotency key. So that a retry still never charges twice, every
money-moving call carries Tally's key (in the price's ``custom_data`` for charges, in the
reason for refunds) and is preceded by a lookup for an object carrying that key; found,
it is returned instead of creating another. The lookup cannot see a first attempt that
Paddle has not finished writing, so retries must wait out the provider timeout first.

Webhooks carry ``Paddle-Signature: ts=<unix>;h1=<hex>``, an HMAC-SHA256 of ``ts:body``
under the notification destination's secret (``adapters/providers/signing.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from adapters.clock import SystemClock
from adapters.providers.base import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutRequest,
    CheckoutSession,
    Clock,
    CustomerRequest,
    PortalSession,
    ProviderCustomer,
    ProviderEvent,
    RefundOutcome,
    RefundRequest,
    lower_headers,
)
from adapters.providers.http import json_body, new_client, send
from adapters.providers.ids import PADDLE, check_event_ids, checked, path_segment
from adapters.providers.paddle_answers import check_currency, refund_outcome, refusal
from adapters.providers.paddle_bodies import (
    KEY_FIELD,
    adjustment_body,
    charge_body,
    checkout_body,
    refund_tag,
)
from adapters.providers.paddle_customer_refs import needs_customer, with_customer_references
from adapters.providers.paddle_events import normalize
from adapters.providers.paddle_lists import entries
from adapters.providers.paddle_payment_methods import PaddlePaymentMethods
from adapters.providers.paddle_refund_refs import needs_payment, with_payment_references
from adapters.providers.paddle_subscriptions import PaddleSubscriptions
from adapters.providers.signing import verify_ts_h1
from commands.provider_errors import (
    CardDeclined,
    InvalidSignature,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnsupported,
)

NAME = "paddle"
__all__ = ["KEY_FIELD", "NAME", "PaddleProvider"]


class PaddleProvider(PaddleSubscriptions, PaddlePaymentMethods):
    name = NAME
    manages_subscriptions = True

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        api_base: str = "https://api.paddle.com",
        timeout_s: float = 10.0,
        tolerance_s: int = 300,
        credential_names: str = "PADDLE_API_KEY",
        checkout_url: str | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = new_client(
            api_base,
            timeout_s,
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
        )
        self._webhook_secret = webhook_secret
        self._tolerance_s = tolerance_s
        self._credential_names = credential_names
        self._checkout_url = checkout_url or None
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return "PaddleProvider(<credentials hidden>)"

    def close(self) -> None:
        self._http.close()

    def create_customer(self, request: CustomerRequest) -> ProviderCustomer:
        if not request.email:
            raise ProviderRejected("Paddle customers need an email address", provider=NAME)
        body: dict[str, Any] = {"email": request.email, "custom_data": dict(request.references)}
        if request.name:
            body["name"] = request.name
        try:
            data = self._call("POST", "/customers", body)
        except ProviderRejected as refused:
            if refused.context.get("paddle_code") != "customer_already_exists":
                raise
            return self._customer_by_email(request.email, refused)
        return ProviderCustomer(NAME, str(data["id"]))

    def _customer_by_email(self, email: str, refused: ProviderRejected) -> ProviderCustomer:
        """Paddle takes no idempotency key for customers but keeps one per email address,
        so a retry whose first attempt did create the customer (the answer was lost) is
        refused as a conflict: the customer is that one, found by its email."""
        for customer in self._entries("/customers", {"email": email}, "customers"):
            if str(customer.get("email", "")).lower() == email.lower() and customer.get("id"):
                return ProviderCustomer(NAME, str(customer["id"]))
        raise refused

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession:
        check_currency(request.currency)
        data = self._call("POST", "/transactions", checkout_body(request, self._checkout_url))
        checkout = data.get("checkout") if isinstance(data.get("checkout"), dict) else {}
        url = checkout.get("url") if checkout else None
        if not url:
            raise ProviderMisconfigured(
                "Paddle returned no checkout URL: set TALLY_PADDLE_CHECKOUT_URL to a page "
                "of an approved domain that opens Paddle.js, or a default payment link in "
                "the Paddle dashboard (Checkout settings)",
                provider=NAME,
            )
        return CheckoutSession(NAME, str(data["id"]), str(url))

    def create_portal_session(self, customer_ref: str, return_url: str) -> PortalSession:
        customer = path_segment(PADDLE, customer_ref, what="the customer id")
        data = self._call("POST", f"/customers/{customer}/portal-sessions", {})
        urls = data.get("urls", {})
        general = urls.get("general", {}) if isinstance(urls, dict) else {}
        return PortalSession(NAME, str(general.get("overview", "")))

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        check_currency(request.currency)
        subscription = self._subscription_paid_by(request)
        earlier = self._charge_with_key(subscription, request.idempotency_key)
        if earlier is not None:
            return self._charge_outcome(earlier, request)
        segment = path_segment(PADDLE, subscription, what="the subscription id")
        self._call("POST", f"/subscriptions/{segment}/charge", charge_body(request))
        created = self._charge_with_key(subscription, request.idempotency_key)
        # The charge answer is the subscription, not the transaction; until the
        # transaction is listed, the payment is processing and a webhook will confirm it.
        if created is None:
            return ChargeOutcome(
                NAME, "", "processing", request.amount_minor, request.currency.upper()
            )
        return self._charge_outcome(created, request)

    def refund(self, request: RefundRequest) -> RefundOutcome:
        tag = refund_tag(request.idempotency_key)
        checked(PADDLE, request.payment_ref, what="the transaction id")
        params = {"transaction_id": request.payment_ref, "action": "refund"}
        for adjustment in self._entries("/adjustments", params, "refunds"):
            if str(adjustment.get("reason", "")).endswith(tag):
                return refund_outcome(adjustment, request)
        body = adjustment_body(request, self._refund_item(request))
        return refund_outcome(self._call("POST", "/adjustments", body), request)

    def cancel_checkout(self, session_ref: str, idempotency_key: str) -> None:
        """Cancel a checkout's transaction nobody paid (``transaction-update``, status
        ``canceled``; Paddle takes no key, and cancelling twice is the same). Paddle
        refuses one that is billed, paid or completed: ``ProviderRejected``."""
        transaction = path_segment(PADDLE, session_ref, what="the transaction id")
        self._call("PATCH", f"/transactions/{transaction}", {"status": "canceled"})

    def cancel_subscription(
        self, subscription_ref: str, *, at_period_end: bool, idempotency_key: str
    ) -> None:
        # Cancelling is idempotent by nature at Paddle; the key has nowhere to go.
        effective = "next_billing_period" if at_period_end else "immediately"
        subscription = path_segment(PADDLE, subscription_ref, what="the subscription id")
        self._call("POST", f"/subscriptions/{subscription}/cancel", {"effective_from": effective})

    def parse_webhook(
        self,
        headers: Mapping[str, str],
        raw_body: bytes,
        *,
        source_address: str | None = None,
    ) -> list[ProviderEvent]:
        verify_ts_h1(
            provider=NAME,
            header=lower_headers(headers).get("paddle-signature"),
            body=raw_body,
            secret=self._webhook_secret,
            now=self._clock.now(),
            tolerance_s=self._tolerance_s,
        )
        try:
            notification = json.loads(raw_body)
        except (ValueError, RecursionError):
            raise InvalidSignature("the signed body is not JSON", provider=NAME) from None
        if not isinstance(notification, dict) or "event_id" not in notification:
            raise InvalidSignature("the signed body is not a Paddle notification", provider=NAME)
        # Signed, but the ids are still checked before Tally keeps and later uses them.
        event = normalize(notification)
        check_event_ids(PADDLE, event)
        if needs_customer(event):
            event = with_customer_references(self._call, event)
        if needs_payment(event):  # a refund made in Paddle's dashboard
            event = with_payment_references(self._call, self._entries, event)
        return [event]

    def _subscription_paid_by(self, request: ChargeRequest) -> str:
        """The subscription whose one-time charge bills ``request``'s saved method."""
        reference = request.payment_method_ref
        if reference.startswith("sub_"):
            return checked(PADDLE, reference, what="the subscription id")
        method = checked(PADDLE, reference, what="the payment method id")
        customer = checked(PADDLE, request.customer_ref, what="the Paddle customer id")
        params = {
            "customer_id": customer,
            "status": "completed,paid",
            "order_by": "created_at[DESC]",
        }
        for transaction in self._entries("/transactions", params, "the customer's payments"):
            subscription = transaction.get("subscription_id")
            payments = transaction.get("payments")
            paid_with = {
                payment.get("payment_method_id")
                for payment in (payments if isinstance(payments, list) else [])
                if isinstance(payment, dict)
            }
            if subscription and method in paid_with:
                return checked(PADDLE, subscription, what="the subscription id")
        raise ProviderUnsupported(
            f"Paddle charges a saved payment method only through a subscription it pays, "
            f"and {method} pays none of customer {customer}'s subscriptions",
            provider=NAME,
            decline_code="no_subscription_for_method",
        )

    def _charge_with_key(self, subscription: str, key: str) -> dict[str, Any] | None:
        params = {"subscription_id": subscription, "origin": "subscription_charge"}
        for transaction in self._entries("/transactions", params, "the subscription's charges"):
            for item in transaction.get("items", []):
                price = item.get("price", {}) if isinstance(item, dict) else {}
                custom = price.get("custom_data") if isinstance(price, dict) else None
                if isinstance(custom, dict) and custom.get(KEY_FIELD) == key:
                    return transaction
        return None

    def _charge_outcome(self, transaction: dict[str, Any], request: ChargeRequest) -> ChargeOutcome:
        status = str(transaction.get("status", ""))
        if status in ("past_due", "canceled"):
            payments = transaction.get("payments") or [{}]
            raise CardDeclined(
                f"Paddle's charge ended as {status}",
                provider=NAME,
                decline_code=str(payments[0].get("error_code") or "declined"),
                payment=transaction.get("id"),
            )
        outcome = "succeeded" if status in ("completed", "paid") else "processing"
        return ChargeOutcome(
            NAME, str(transaction["id"]), outcome, request.amount_minor, request.currency.upper()
        )

    def _refund_item(self, request: RefundRequest) -> str:
        # Partial refunds name a transaction line; Tally refunds against the first one,
        # which is the only one for transactions Tally created itself.
        segment = path_segment(PADDLE, request.payment_ref, what="the transaction id")
        transaction = self._call("GET", f"/transactions/{segment}", None)
        details = transaction.get("details", {})
        lines = details.get("line_items", []) if isinstance(details, dict) else []
        if not lines:
            raise ProviderRejected(
                f"Paddle transaction {request.payment_ref} has no line to refund", provider=NAME
            )
        return str(lines[0]["id"])

    def _call(self, method: str, path: str, body: object | None) -> dict[str, Any]:
        response = send(
            self._http,
            method,
            path,
            provider=NAME,
            credential_names=self._credential_names,
            json=body,
        )
        payload = json_body(response)
        if response.is_success:
            data = payload.get("data")
            return data if isinstance(data, dict) else {}
        raise refusal(payload, response.status_code)

    def _entries(self, path: str, params: dict[str, str], what: str) -> Iterator[dict[str, Any]]:
        """Every object of a list, page after page, read as the caller goes
        (``paddle_lists.py``): a look-up stops at what it finds."""
        return entries(lambda query: self._page(path, query), params, what=what)

    def _page(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = send(
            self._http,
            "GET",
            path,
            provider=NAME,
            credential_names=self._credential_names,
            params=params,
        )
        payload = json_body(response)
        if not response.is_success:
            raise refusal(payload, response.status_code)
        return payload
