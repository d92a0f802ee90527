"""Stripe, through the official SDK's ``StripeClient``.

The API address is a setting, so the same code runs against api.stripe.com, a local mock
(stripe-mock) or a test's fake server. Every write passes Tally's idempotency key as
Stripe's ``Idempotency-Key``; the SDK's own network retries reuse it, and so do Tally's.
Webhooks are verified with the SDK's ``WebhookSignature.verify_header`` (HMAC of
``t.body`` under the endpoint secret, 300 s tolerance) before anything is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import stripe as stripe_sdk

from adapters.clock import SystemClock
from adapters.providers import stripe_payment_methods
from adapters.providers.base import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    CheckoutSession,
    Clock,
    CustomerRequest,
    LineItem,
    PaymentMethodRequest,
    PortalSession,
    ProviderCustomer,
    ProviderEvent,
    RefundOutcome,
    RefundRequest,
    lower_headers,
)
from adapters.providers.ids import STRIPE, check_event_ids, checked
from adapters.providers.signing import FUTURE_SKEW_S
from adapters.providers.stripe_customer_refs import needs_customer, with_customer_references
from adapters.providers.stripe_events import normalize
from adapters.providers.stripe_invoice_payments import needs_payment, with_invoice_payment
from adapters.providers.stripe_refund_refs import needs_refund, with_charge_refund
from adapters.providers.stripe_subscriptions import StripeSubscriptions
from commands.provider_errors import (
    CardDeclined,
    InvalidSignature,
    PaymentRequiresAction,
    ProviderError,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnavailable,
)

NAME = "stripe"


class StripeProvider(StripeSubscriptions):
    name = NAME
    manages_subscriptions = True
    payment_method_actions = stripe_payment_methods.ACTIONS

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        api_base: str = "https://api.stripe.com",
        timeout_s: float = 10.0,
        max_network_retries: int = 2,
        tolerance_s: int = 300,
        credential_names: str = "STRIPE_API_KEY",
        clock: Clock | None = None,
    ) -> None:
        self._client = stripe_sdk.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=stripe_sdk.RequestsClient(timeout=timeout_s),
            max_network_retries=max_network_retries,
        )
        self._webhook_secret = webhook_secret
        self._tolerance_s = tolerance_s
        self._credential_names = credential_names
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return "StripeProvider(<credentials hidden>)"

    def create_customer(self, request: CustomerRequest) -> ProviderCustomer:
        params: dict[str, Any] = {"metadata": dict(request.references)}
        if request.email:
            params["email"] = request.email
        if request.name:
            params["name"] = request.name
        with self._errors():
            customer = self._client.v1.customers.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        return ProviderCustomer(NAME, customer.id)

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession:
        if request.mode is CheckoutMode.SETUP:
            return self._setup_session(request)
        subscription = request.mode is CheckoutMode.SUBSCRIPTION
        params: dict[str, Any] = {
            "mode": "subscription" if subscription else "payment",
            "line_items": [_line(line, recurring=subscription) for line in request.lines],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": dict(request.references),
        }
        checkout_ref = request.references.get("tally_checkout")
        if checkout_ref:
            params["client_reference_id"] = checkout_ref
        if request.customer_ref:
            params["customer"] = request.customer_ref
        # Metadata is copied onto the object that will carry the money, so its webhooks
        # (invoice.*, payment_intent.*) can be traced back to Tally too.
        data_key = "subscription_data" if subscription else "payment_intent_data"
        params[data_key] = {"metadata": dict(request.references)}
        if not subscription and request.customer_ref:
            # Keep the card for later off-session charges (renewals, top-ups); Stripe
            # saves payment methods only on a customer.
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
        return self._create_session(params, request.idempotency_key)

    def _setup_session(self, request: CheckoutRequest) -> CheckoutSession:
        """A Checkout Session in ``setup`` mode: it saves a card on the customer and
        charges nothing (a trial; Tally runs the subscription and charges the card when
        the trial ends). The references go on the SetupIntent too, whose
        ``setup_intent.succeeded`` brings the saved payment method."""
        params: dict[str, Any] = {
            "mode": "setup",
            "currency": request.currency.lower(),
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": dict(request.references),
            "setup_intent_data": {"metadata": dict(request.references)},
        }
        if request.customer_ref:
            params["customer"] = request.customer_ref
        return self._create_session(params, request.idempotency_key)

    def _create_session(self, params: dict[str, Any], idempotency_key: str) -> CheckoutSession:
        """Create a Checkout Session of any mode; one without a URL is refused, since the
        customer could not be sent anywhere."""
        with self._errors():
            session = self._client.v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        if not session.url:
            raise ProviderRejected("Stripe returned a session without a URL", provider=NAME)
        return CheckoutSession(NAME, session.id, session.url)

    def create_portal_session(self, customer_ref: str, return_url: str) -> PortalSession:
        with self._errors():
            session = self._client.v1.billing_portal.sessions.create(
                {"customer": customer_ref, "return_url": return_url}
            )
        return PortalSession(NAME, session.url)

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "customer": request.customer_ref,
            "payment_method": request.payment_method_ref,
            "off_session": True,
            "confirm": True,
            "metadata": dict(request.references),
        }
        if request.description:
            params["description"] = request.description
        with self._errors():
            intent = self._client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        if intent.status == "requires_action":
            raise PaymentRequiresAction(
                "the payment needs the customer to authenticate", provider=NAME, payment=intent.id
            )
        if intent.status not in ("succeeded", "processing"):
            raise CardDeclined(
                f"the payment ended as {intent.status}",
                provider=NAME,
                decline_code=intent.status,
                payment=intent.id,
            )
        return ChargeOutcome(NAME, intent.id, intent.status, intent.amount, request.currency)

    def refund(self, request: RefundRequest) -> RefundOutcome:
        target = "charge" if request.payment_ref.startswith("ch_") else "payment_intent"
        params: dict[str, Any] = {
            target: request.payment_ref,
            "amount": request.amount_minor,
            "metadata": dict(request.references),
        }
        with self._errors():
            refund = self._client.v1.refunds.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        return RefundOutcome(
            NAME, refund.id, refund.status or "pending", refund.amount, request.currency
        )

    def cancel_subscription(
        self, subscription_ref: str, *, at_period_end: bool, idempotency_key: str
    ) -> None:
        options: Any = {"idempotency_key": idempotency_key}
        # The SDK escapes the id in the URL; it is checked first all the same, as every
        # provider id Tally puts in a URL (adapters/providers/ids.py).
        checked(STRIPE, subscription_ref, what="the subscription id")
        with self._errors():
            if at_period_end:
                self._client.v1.subscriptions.update(
                    subscription_ref, {"cancel_at_period_end": True}, options
                )
            else:
                self._client.v1.subscriptions.cancel(subscription_ref, None, options)

    def sync_payment_method(self, request: PaymentMethodRequest) -> None:
        with self._errors():
            stripe_payment_methods.sync(self._client, request)

    def parse_webhook(
        self,
        headers: Mapping[str, str],
        raw_body: bytes,
        *,
        source_address: str | None = None,
    ) -> list[ProviderEvent]:
        header = lower_headers(headers).get("stripe-signature")
        try:
            stripe_sdk.WebhookSignature.verify_header(
                raw_body, header, self._webhook_secret, tolerance=self._tolerance_s
            )
        except stripe_sdk.SignatureVerificationError as error:
            raise InvalidSignature(str(error).split(" Read it from")[0], provider=NAME) from None
        _refuse_future(header or "", self._clock.now())
        try:
            event = json.loads(raw_body)
        except (ValueError, RecursionError):
            raise InvalidSignature("the signed body is not JSON", provider=NAME) from None
        if not isinstance(event, dict) or event.get("object") != "event":
            raise InvalidSignature("the signed body is not a Stripe event", provider=NAME)
        # Signed, but the ids are still checked before Tally keeps and later uses them.
        normalized = normalize(event)
        check_event_ids(STRIPE, normalized)
        return [self._completed(normalized)]

    def _completed(self, event: ProviderEvent) -> ProviderEvent:
        """What a verified event needs from the API before it is recorded: a paid
        invoice's payment, a payment method's Tally customer, a refunded charge's refund."""
        with self._errors():
            if needs_refund(event):
                event = with_charge_refund(self._client, event)
            if needs_payment(event):
                event = with_invoice_payment(self._client, event)
            if needs_customer(event):
                event = with_customer_references(self._client, event)
        check_event_ids(STRIPE, event)
        return event

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Map the SDK's exceptions to Tally's typed provider failures."""
        try:
            yield
        except stripe_sdk.CardError as error:
            raise _card_error(error) from None
        except (stripe_sdk.APIConnectionError, stripe_sdk.RateLimitError) as error:
            raise ProviderUnavailable(
                f"Stripe could not be reached or rate-limited us: {error.user_message or ''}",
                provider=NAME,
            ) from error
        except (stripe_sdk.AuthenticationError, stripe_sdk.PermissionError):
            raise ProviderMisconfigured(
                f"Stripe refused the API key in {self._credential_names}", provider=NAME
            ) from None
        except stripe_sdk.StripeError as error:
            if (error.http_status or 0) >= 500 or isinstance(error, stripe_sdk.APIError):
                raise ProviderUnavailable(
                    f"Stripe answered {error.http_status}", provider=NAME, status=error.http_status
                ) from error
            raise ProviderRejected(
                f"Stripe refused the request: {error.user_message or error.code or ''}",
                provider=NAME,
                stripe_code=error.code,
                status=error.http_status,
            ) from None


def _card_error(error: stripe_sdk.CardError) -> ProviderError:
    body = error.json_body if isinstance(error.json_body, dict) else {}
    detail = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
    payment = detail.get("payment_intent", {})
    payment_ref = payment.get("id") if isinstance(payment, dict) else None
    if error.code == "authentication_required":
        return PaymentRequiresAction(
            "the card needs the customer to authenticate", provider=NAME, payment=payment_ref
        )
    decline_code = str(detail.get("decline_code") or error.code or "card_declined")
    return CardDeclined(
        f"the card was declined ({decline_code})",
        provider=NAME,
        decline_code=decline_code,
        payment=payment_ref,
    )


def _line(line: LineItem, *, recurring: bool) -> dict[str, Any]:
    if line.price_ref:
        return {"price": line.price_ref, "quantity": line.quantity}
    if recurring:
        raise ProviderRejected(
            f"line {line.name!r}: subscription checkouts need a Stripe price id", provider=NAME
        )
    return {
        "quantity": line.quantity,
        "price_data": {
            "currency": line.currency.lower(),
            "unit_amount": line.unit_amount_minor,
            "product_data": {"name": line.name},
        },
    }


def _refuse_future(header: str, now: datetime) -> None:
    """The SDK only refuses old timestamps; a signature dated far in the future would stay
    replayable for longer than the tolerance, so it is refused too."""
    for part in header.split(","):
        key, _, value = part.partition("=")
        if key == "t" and value.isdigit() and int(value) - now.timestamp() > FUTURE_SKEW_S:
            raise InvalidSignature("the signature timestamp is in the future", provider=NAME)
