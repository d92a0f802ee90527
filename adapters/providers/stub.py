"""The stub provider: behaves like a real one, needs no network and no account.

It is the default (``TALLY_PAYMENT_PROVIDER=stub``), so ``tally serve`` on a fresh
machine can run a whole checkout flow offline. What makes it "like a real one":

- Test card numbers decide outcomes, as in Stripe's test mode (``TEST_CARDS``). A saved
  payment method is ``stub_pm_<card number>``; only test numbers exist, so no real card
  number ever reaches Tally.
- Ids are derived from the idempotency key, and a key reused with other parameters is
  refused, as real providers do; the same key returns the first answer.
- Checkout sessions are hosted pages served by Tally itself (``stub_checkout.py``). The
  session lives in its URL as a signed token, so any worker, even after a restart, can
  render it and nothing can be changed in it.
- Its webhooks are signed with ``ts=…;h1=…`` (the Paddle scheme) under the stub secret
  and go through ``parse_webhook`` like any provider's, signature check included.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar
from uuid import UUID

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
from adapters.providers.signing import ts_h1_signature, verify_ts_h1
from commands.provider_errors import (
    CardDeclined,
    InvalidPageRequest,
    InvalidSignature,
    PageExpired,
    PaymentRequiresAction,
    ProviderRejected,
    ProviderUnsupported,
)
from commands.provider_events import EventType

NAME = "stub"
T = TypeVar("T")
SIGNATURE_HEADER = "Tally-Stub-Signature"
CHECKOUT_PATH = "/v1/stub/checkout/{token}"
PORTAL_PATH = "/v1/stub/portal/{token}"
SESSION_LIFETIME_S = 24 * 3600
MAX_REMEMBERED = 10_000
# A page token (``seal``): URL-safe base64 of the sealed JSON, a dot, 32 hex digits of
# MAC. Its size follows what it holds (lines, references, return addresses), all
# bounded by the API's limits; this bound only stops an absurd address early.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[0-9a-f]{32}")
MAX_TOKEN_CHARS = 32_768

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
REQUIRES_ACTION = "4000002500003155"
# Card number -> outcome: "succeeded", "requires_action", or the decline code.
TEST_CARDS: dict[str, str] = {
    SUCCEEDS: "succeeded",
    DECLINED: "generic_decline",
    INSUFFICIENT_FUNDS: "insufficient_funds",
    REQUIRES_ACTION: "requires_action",
}


def payment_method_for(card_number: str) -> str:
    return f"stub_pm_{card_number}"


def card_outcome(payment_method_ref: str) -> str:
    card = payment_method_ref.removeprefix("stub_pm_")
    return TEST_CARDS.get(card, "invalid_number")


@dataclass(frozen=True)
class StubSession:
    """What a stub checkout page shows and what its buttons report."""

    session_ref: str
    mode: str
    lines: list[dict[str, Any]]
    currency: str
    total_minor: int
    customer_ref: str | None
    references: dict[str, str]
    success_url: str
    cancel_url: str
    trial_days: int = 0  # setup mode: the page starts a trial (pages sealed before: 0)

    def project_id(self) -> UUID | None:
        """The Tally project the checkout pays, or None when its references name none
        (the routes answer that themselves, without catching errors)."""
        try:
            return UUID(self.references.get("tally_project", ""))
        except ValueError:
            return None


class StubProvider:
    name = NAME
    manages_subscriptions = False

    def __init__(
        self,
        *,
        webhook_secret: str,
        public_base_url: str = "http://127.0.0.1:8000",
        tolerance_s: int = 300,
        clock: Clock | None = None,
    ) -> None:
        self._secret = webhook_secret
        self._base_url = public_base_url.rstrip("/")
        self._tolerance_s = tolerance_s
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        # Answers by idempotency key, in this process, the newest MAX_REMEMBERED: enough
        # for a development provider to make retries behave as against a real one.
        self._answers: dict[str, tuple[str, object]] = {}

    def __repr__(self) -> str:
        return "StubProvider(<secret hidden>)"

    def create_customer(self, request: CustomerRequest) -> ProviderCustomer:
        return self._once(
            request.idempotency_key,
            request,
            lambda: ProviderCustomer(NAME, _ref("cus", request.idempotency_key)),
        )

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession:
        session = StubSession(
            session_ref=_ref("cs", request.idempotency_key),
            mode=str(request.mode),
            lines=[asdict(line) for line in request.lines],
            currency=request.currency.upper(),
            total_minor=request.total_minor,
            customer_ref=request.customer_ref,
            references=dict(request.references),
            success_url=request.success_url,
            cancel_url=request.cancel_url,
            trial_days=request.trial_days,
        )
        url = self.checkout_url(self.seal("checkout", asdict(session)))
        return self._once(
            request.idempotency_key,
            request,
            lambda: CheckoutSession(NAME, session.session_ref, url),
        )

    def checkout_url(self, token: str) -> str:
        return self._base_url + CHECKOUT_PATH.format(token=token)

    def create_portal_session(self, customer_ref: str, return_url: str) -> PortalSession:
        token = self.seal("portal", {"customer_ref": customer_ref, "return_url": return_url})
        return PortalSession(NAME, self._base_url + PORTAL_PATH.format(token=token))

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        def attempt() -> ChargeOutcome:
            outcome = card_outcome(request.payment_method_ref)
            payment_ref = _ref("pi", request.idempotency_key)
            if outcome == "requires_action":
                raise PaymentRequiresAction(
                    "the card needs the customer to authenticate",
                    provider=NAME,
                    payment=payment_ref,
                )
            if outcome != "succeeded":
                raise CardDeclined(
                    f"the card was declined ({outcome})",
                    provider=NAME,
                    decline_code=outcome,
                    payment=payment_ref,
                )
            return ChargeOutcome(
                NAME, payment_ref, "succeeded", request.amount_minor, request.currency.upper()
            )

        return self._once(request.idempotency_key, request, attempt)

    def refund(self, request: RefundRequest) -> RefundOutcome:
        return self._once(
            request.idempotency_key,
            request,
            lambda: RefundOutcome(
                NAME,
                _ref("re", request.idempotency_key),
                "succeeded",
                request.amount_minor,
                request.currency.upper(),
            ),
        )

    def cancel_subscription(
        self, subscription_ref: str, *, at_period_end: bool, idempotency_key: str
    ) -> None:
        raise ProviderUnsupported("the stub runs no subscriptions; Tally runs them", provider=NAME)

    def parse_webhook(
        self,
        headers: Mapping[str, str],
        raw_body: bytes,
        *,
        source_address: str | None = None,
    ) -> list[ProviderEvent]:
        verify_ts_h1(
            provider=NAME,
            header=lower_headers(headers).get(SIGNATURE_HEADER.lower()),
            body=raw_body,
            secret=self._secret,
            now=self._clock.now(),
            tolerance_s=self._tolerance_s,
        )
        try:
            delivery = json.loads(raw_body)
        except (ValueError, RecursionError):
            raise InvalidSignature("the signed body is not JSON", provider=NAME) from None
        events = delivery.get("events") if isinstance(delivery, dict) else None
        if not isinstance(events, list):
            raise InvalidSignature("the signed body is not a stub delivery", provider=NAME)
        return [_event(raw) for raw in events if isinstance(raw, dict)]

    def sign_delivery(self, events: list[dict[str, Any]]) -> tuple[dict[str, str], bytes]:
        """The headers and body of a webhook delivery carrying ``events``, signed now."""
        body = json.dumps({"events": events}, separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(self._clock.now().timestamp())
        signature = ts_h1_signature(self._secret, timestamp, body)
        return {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}, body

    def seal(self, kind: str, payload: Mapping[str, Any]) -> str:
        """A URL-safe token holding ``payload``, signed so that it cannot be altered, and
        marked with its ``kind`` so a portal token cannot open a checkout page."""
        sealed = {"kind": kind, "expires_at": self._expiry(), "payload": dict(payload)}
        raw = json.dumps(sealed, separators=(",", ":"), sort_keys=True).encode()
        body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{body}.{self._token_mac(body)}"

    def unseal(self, kind: str, token: str) -> dict[str, Any]:
        # A token not even of a token's shape is the caller's mistake (a 400 naming it);
        # one of the right shape whose MAC fails was altered or forged.
        if len(token) > MAX_TOKEN_CHARS or TOKEN_SHAPE.fullmatch(token) is None:
            raise InvalidPageRequest(
                f"the page address does not hold a {kind} page token", provider=NAME
            )
        body, _, mac = token.partition(".")
        if not hmac.compare_digest(mac, self._token_mac(body)):
            raise InvalidSignature("the stub page token is not valid", provider=NAME)
        sealed = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not isinstance(sealed, dict) or sealed.get("kind") != kind:
            raise InvalidSignature(f"the stub page token is not a {kind} token", provider=NAME)
        if int(sealed["expires_at"]) < self._clock.now().timestamp():
            raise PageExpired(f"this {kind} session has expired", provider=NAME)
        payload = sealed["payload"]
        assert isinstance(payload, dict)
        return payload

    def session(self, token: str) -> StubSession:
        return StubSession(**self.unseal("checkout", token))

    def _expiry(self) -> int:
        # Like Stripe's hosted checkout, a session can be used for a day.
        return int(self._clock.now().timestamp()) + SESSION_LIFETIME_S

    def _token_mac(self, body: str) -> str:
        # A key of its own for page tokens, so a token can never pass as a webhook
        # signature or the other way round.
        key = hmac.new(self._secret.encode(), b"stub-page-token", hashlib.sha256).digest()
        return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]

    def _once(self, key: str, request: object, make: Callable[[], T]) -> T:
        """Answer a key once: the same key and request get the first answer (or error)
        again, the same key with another request is refused."""
        fingerprint = hashlib.sha256(repr(request).encode()).hexdigest()
        with self._lock:
            if key in self._answers:
                seen, answer = self._answers[key]
                if seen != fingerprint:
                    raise ProviderRejected(
                        "idempotency key reused with other parameters", provider=NAME, key=key
                    )
            else:
                try:
                    answer = make()
                except (CardDeclined, PaymentRequiresAction) as refusal:
                    answer = refusal
                self._answers[key] = (fingerprint, answer)
                if len(self._answers) > MAX_REMEMBERED:
                    del self._answers[next(iter(self._answers))]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


def _ref(prefix: str, key: str) -> str:
    return f"stub_{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _event(raw: dict[str, Any]) -> ProviderEvent:
    try:
        event_type = EventType(str(raw.get("type")))
    except ValueError:
        event_type = EventType.UNKNOWN
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    assert isinstance(data, dict)
    return ProviderEvent(
        provider=NAME,
        event_id=str(raw.get("id", "")),
        type=event_type,
        provider_type=str(raw.get("type", "")),
        object_ref=str(data.get("object_ref", "")),
        occurred_at=None,
        raw=raw,
        amount_minor=data.get("amount_minor"),
        # A running total of the payment's refunds, as Stripe's ``charge.refunded`` says.
        refunded_total_minor=data.get("refunded_total_minor"),
        currency=data.get("currency"),
        status=data.get("status"),
        customer_ref=data.get("customer_ref"),
        payment_ref=data.get("payment_ref"),
        payment_method_ref=data.get("payment_method_ref"),
        failure_reason=data.get("failure_reason"),
        references=dict(data.get("references") or {}),
    )
