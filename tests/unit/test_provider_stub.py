"""The stub provider: test cards, idempotent answers, its hosted checkout page and the
signed webhooks its buttons produce, verified through the same parse path as others."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.base import (
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    CustomerRequest,
    LineItem,
    PaymentProvider,
    RefundRequest,
    idempotency_key,
)
from adapters.providers.stub import (
    DECLINED,
    INSUFFICIENT_FUNDS,
    REQUIRES_ACTION,
    SUCCEEDS,
    StubProvider,
    payment_method_for,
)
from adapters.providers.stub_checkout import (
    press_checkout_button,
    render_checkout_page,
    render_portal_page,
)
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

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BASE = "http://tally.test:8000"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def stub(clock: FixedClock) -> StubProvider:
    return StubProvider(webhook_secret="stub-unit-secret", public_base_url=BASE, clock=clock)


def cart(**changes: object) -> CheckoutRequest:
    fields: dict[str, object] = {
        "mode": CheckoutMode.CART,
        "lines": (
            LineItem("Seat <b>licence</b>", 1250, "EUR", quantity=2),
            LineItem("Setup fee", 500, "EUR"),
        ),
        "success_url": "https://app.example/ok",
        "cancel_url": "https://app.example/cancel",
        "idempotency_key": idempotency_key("cart-1", 1),
        "customer_ref": "stub_cus_1",
        "references": {"tally_project": "p-1", "tally_cart": "cart-1"},
    }
    fields.update(changes)
    return CheckoutRequest(**fields)  # type: ignore[arg-type]


def token_of(url: str) -> str:
    match = re.search(r"/v1/stub/checkout/([^/?]+)$", url)
    assert match, url
    return match.group(1)


def charge(card: str, key: str = "tally:t-1:1", amount: int = 1000) -> ChargeRequest:
    return ChargeRequest("stub_cus_1", payment_method_for(card), amount, "EUR", key)


def test_idempotency_keys_are_derived_from_tally_ids_only() -> None:
    assert idempotency_key("7b1e", 2) == "tally:7b1e:2"
    assert idempotency_key("7b1e", 2) == idempotency_key("7b1e", 2)
    assert idempotency_key("7b1e", 1) != idempotency_key("7b1e", 2)


def test_the_success_card_charges_and_the_same_key_gives_the_same_payment(
    stub: StubProvider,
) -> None:
    first = stub.charge(charge(SUCCEEDS))
    again = stub.charge(charge(SUCCEEDS))
    other = stub.charge(charge(SUCCEEDS, key="tally:t-1:2"))
    assert (first.status, first.amount_minor, first.currency) == ("succeeded", 1000, "EUR")
    assert again == first
    assert other.payment_ref != first.payment_ref


@pytest.mark.parametrize(
    ("card", "decline_code"),
    [
        (DECLINED, "generic_decline"),
        (INSUFFICIENT_FUNDS, "insufficient_funds"),
        ("4111", "invalid_number"),
    ],
)
def test_decline_cards_raise_card_declined_with_their_reason(
    stub: StubProvider, card: str, decline_code: str
) -> None:
    with pytest.raises(CardDeclined) as declined:
        stub.charge(charge(card))
    assert declined.value.code == "card_declined"
    assert declined.value.decline_code == decline_code


def test_a_retried_decline_is_the_same_decline(stub: StubProvider) -> None:
    with pytest.raises(CardDeclined) as first:
        stub.charge(charge(DECLINED))
    with pytest.raises(CardDeclined) as again:
        stub.charge(charge(DECLINED))
    assert again.value is first.value


def test_the_requires_action_card_cannot_be_charged_off_session(stub: StubProvider) -> None:
    with pytest.raises(PaymentRequiresAction):
        stub.charge(charge(REQUIRES_ACTION))


def test_a_key_reused_with_another_amount_is_refused(stub: StubProvider) -> None:
    stub.charge(charge(SUCCEEDS, amount=1000))
    with pytest.raises(ProviderRejected, match="reused"):
        stub.charge(charge(SUCCEEDS, amount=2000))


def test_the_stub_remembers_a_bounded_number_of_keys(
    stub: StubProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.providers.stub.MAX_REMEMBERED", 2)
    stub.charge(charge(SUCCEEDS, key="tally:a:1", amount=100))
    stub.charge(charge(SUCCEEDS, key="tally:b:1"))
    stub.charge(charge(SUCCEEDS, key="tally:c:1"))
    # The oldest key is forgotten, so reusing it with another amount is not detected;
    # the newer ones still are.
    assert stub.charge(charge(SUCCEEDS, key="tally:a:1", amount=200)).amount_minor == 200
    with pytest.raises(ProviderRejected):
        stub.charge(charge(SUCCEEDS, key="tally:c:1", amount=200))


def test_refunds_and_customers_are_idempotent_by_key(stub: StubProvider) -> None:
    refund = RefundRequest("stub_pi_1", 300, "EUR", "tally:r-1:1")
    assert stub.refund(refund) == stub.refund(refund)
    assert stub.refund(refund).status == "succeeded"
    customer = CustomerRequest("tally:c-1", email="a@example.com")
    assert stub.create_customer(customer) == stub.create_customer(customer)


def test_the_stub_runs_no_subscriptions_of_its_own(stub: StubProvider) -> None:
    assert stub.manages_subscriptions is False
    with pytest.raises(ProviderUnsupported):
        stub.cancel_subscription("sub_1", at_period_end=True, idempotency_key="tally:s:1")


def test_the_checkout_page_shows_lines_total_and_both_buttons_escaped(stub: StubProvider) -> None:
    session = stub.create_checkout_session(cart())
    assert session.url.startswith(f"{BASE}/v1/stub/checkout/")
    page = render_checkout_page(stub, token_of(session.url))
    assert "<!doctype html>" in page
    assert "Seat &lt;b&gt;licence&lt;/b&gt;" in page
    assert "<b>licence" not in page
    assert "25.00 EUR" in page  # 2 seats of 12.50
    assert "30.00 EUR" in page  # the total
    assert 'name="button" value="pay"' in page
    assert 'name="button" value="cancel"' in page
    assert SUCCEEDS in page


def test_pressing_pay_with_the_success_card_delivers_checkout_completed_and_payment(
    stub: StubProvider,
) -> None:
    session = stub.create_checkout_session(cart())
    result = press_checkout_button(stub, token_of(session.url), "pay", SUCCEEDS)
    events = stub.parse_webhook(result.webhook_headers, result.webhook_body)
    assert [event.type for event in events] == [
        EventType.CHECKOUT_COMPLETED,
        EventType.PAYMENT_SUCCEEDED,
    ]
    completed, paid = events
    assert completed.object_ref == session.session_ref
    assert (paid.amount_minor, paid.currency) == (3000, "EUR")
    assert paid.payment_method_ref == payment_method_for(SUCCEEDS)
    assert paid.references["tally_cart"] == "cart-1"
    assert paid.references["tally_checkout_mode"] == "cart"
    assert result.redirect_url == "https://app.example/ok"
    # The card saved at checkout is one the stub can charge later, off session.
    assert stub.charge(charge(SUCCEEDS)).status == "succeeded"


def test_the_requires_action_card_passes_on_the_page_where_the_customer_is(
    stub: StubProvider,
) -> None:
    session = stub.create_checkout_session(cart())
    result = press_checkout_button(stub, token_of(session.url), "pay", REQUIRES_ACTION)
    events = stub.parse_webhook(result.webhook_headers, result.webhook_body)
    assert EventType.PAYMENT_SUCCEEDED in [event.type for event in events]


@pytest.mark.parametrize(
    ("card", "reason"), [(DECLINED, "generic_decline"), (INSUFFICIENT_FUNDS, "insufficient_funds")]
)
def test_pressing_pay_with_a_decline_card_delivers_payment_failed_and_returns_to_the_page(
    stub: StubProvider, card: str, reason: str
) -> None:
    session = stub.create_checkout_session(cart())
    token = token_of(session.url)
    result = press_checkout_button(stub, token, "pay", card)
    [event] = stub.parse_webhook(result.webhook_headers, result.webhook_body)
    assert event.type is EventType.PAYMENT_FAILED
    assert event.failure_reason == reason
    assert event.payment_method_ref is None
    assert result.redirect_url == f"{session.url}?error={reason}"


def test_pressing_cancel_delivers_checkout_canceled_and_goes_to_the_cancel_url(
    stub: StubProvider,
) -> None:
    session = stub.create_checkout_session(cart())
    result = press_checkout_button(stub, token_of(session.url), "cancel")
    [event] = stub.parse_webhook(result.webhook_headers, result.webhook_body)
    assert event.type is EventType.CHECKOUT_CANCELED
    assert result.redirect_url == "https://app.example/cancel"


def test_pressing_the_same_button_twice_delivers_the_same_event_ids(stub: StubProvider) -> None:
    token = token_of(stub.create_checkout_session(cart()).url)
    first = press_checkout_button(stub, token, "pay", SUCCEEDS)
    again = press_checkout_button(stub, token, "pay", SUCCEEDS)
    ids = [e.event_id for e in stub.parse_webhook(first.webhook_headers, first.webhook_body)]
    assert ids == [
        e.event_id for e in stub.parse_webhook(again.webhook_headers, again.webhook_body)
    ]
    assert len(set(ids)) == 2


def reseal(token: str, change: Callable[[dict[str, Any]], None]) -> str:
    """The token with its content changed but its MAC kept, as a forger would try."""
    body, _, mac = token.partition(".")
    sealed = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    change(sealed)
    raw = json.dumps(sealed, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + mac


def test_an_altered_page_token_is_refused(stub: StubProvider) -> None:
    token = token_of(stub.create_checkout_session(cart()).url)
    forged = reseal(token, lambda sealed: sealed["payload"].update(total_minor=1))
    with pytest.raises(InvalidSignature):
        render_checkout_page(stub, forged)
    with pytest.raises(InvalidSignature):
        press_checkout_button(stub, forged, "pay", SUCCEEDS)


def test_a_portal_token_does_not_open_a_checkout_page(stub: StubProvider) -> None:
    portal = stub.create_portal_session("stub_cus_1", "https://app.example/account")
    with pytest.raises(InvalidSignature, match="not a checkout token"):
        render_checkout_page(stub, portal.url.rsplit("/", 1)[1])


def test_a_checkout_page_expires_after_a_day(stub: StubProvider, clock: FixedClock) -> None:
    token = token_of(stub.create_checkout_session(cart()).url)
    clock.advance(timedelta(hours=23))
    assert "Pay" in render_checkout_page(stub, token)
    clock.advance(timedelta(hours=2))
    with pytest.raises(PageExpired, match="expired"):
        press_checkout_button(stub, token, "pay", SUCCEEDS)


def test_a_page_token_from_another_stub_secret_is_refused(stub: StubProvider) -> None:
    other = StubProvider(webhook_secret="another-secret", public_base_url=BASE)
    token = token_of(other.create_checkout_session(cart()).url)
    with pytest.raises(InvalidSignature):
        render_checkout_page(stub, token)


def test_a_stub_delivery_changed_after_signing_is_refused(stub: StubProvider) -> None:
    result = press_checkout_button(stub, token_of(stub.create_checkout_session(cart()).url), "pay")
    tampered = result.webhook_body.replace(b'"amount_minor":3000', b'"amount_minor":3')
    assert tampered != result.webhook_body
    with pytest.raises(InvalidSignature):
        stub.parse_webhook(result.webhook_headers, tampered)


def test_a_stale_stub_delivery_is_refused(stub: StubProvider, clock: FixedClock) -> None:
    result = press_checkout_button(stub, token_of(stub.create_checkout_session(cart()).url), "pay")
    clock.advance(timedelta(seconds=301))
    with pytest.raises(InvalidSignature, match="window"):
        stub.parse_webhook(result.webhook_headers, result.webhook_body)


def test_a_delivery_signed_by_another_stub_is_refused(
    stub: StubProvider, clock: FixedClock
) -> None:
    other = StubProvider(webhook_secret="another-secret", public_base_url=BASE, clock=clock)
    result = press_checkout_button(
        other, token_of(other.create_checkout_session(cart()).url), "pay"
    )
    with pytest.raises(InvalidSignature):
        stub.parse_webhook(result.webhook_headers, result.webhook_body)


def test_an_unknown_button_is_refused_as_the_callers_mistake(stub: StubProvider) -> None:
    with pytest.raises(InvalidPageRequest, match="must be one of pay, cancel"):
        press_checkout_button(stub, token_of(stub.create_checkout_session(cart()).url), "refund")


def test_a_token_not_of_a_tokens_shape_is_the_callers_mistake(stub: StubProvider) -> None:
    for token in ["0", "", "a.b", "é.0123456789abcdef0123456789abcdef", "x" * 40_000]:
        with pytest.raises(InvalidPageRequest, match="page token"):
            render_checkout_page(stub, token)
        with pytest.raises(InvalidPageRequest, match="page token"):
            press_checkout_button(stub, token, "pay")


def test_the_portal_page_links_back(stub: StubProvider) -> None:
    portal = stub.create_portal_session("stub_cus_1", "https://app.example/account")
    token = portal.url.rsplit("/", 1)[1]
    page = render_portal_page(stub, token)
    assert 'href="https://app.example/account"' in page
    assert "stub_cus_1" in page


def test_the_stub_satisfies_the_provider_protocol(stub: StubProvider) -> None:
    assert isinstance(stub, PaymentProvider)
    assert "stub-unit-secret" not in repr(stub)
