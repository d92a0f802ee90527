"""The YooKassa adapter against a fake YooKassa API on 127.0.0.1 over real httpx: basic
auth, Idempotence-Key on every payment and refund, amounts in major units, declines."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.providers.base import (
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    CustomerRequest,
    LineItem,
    RefundRequest,
    idempotency_key,
)
from adapters.providers.yookassa import MAX_KEY_LENGTH, YooKassaProvider
from commands.provider_errors import (
    CardDeclined,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnsupported,
)
from commands.provider_events import EventType
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api

SHOP_ID = "506751"
SECRET_KEY = "test_integration_secret"
PAYMENT_ID = "2d6a1f2e-000f-5000-8000-1a2b3c4d5e6f"
SAVED_METHOD = "2d6a1f2e-000f-5000-8000-1a2b3c4d5e70"  # a saved method's id has the same shape
TRANSACTION = "0b6f3c1e-5a7d-4c1b-9a51-2f1f3f0e9a10"


def payment(status: str = "succeeded", **extra: Any) -> dict[str, Any]:
    return {
        "id": PAYMENT_ID,
        "status": status,
        "paid": status == "succeeded",
        "amount": {"value": "10.50", "currency": "RUB"},
        "created_at": "2026-11-21T12:00:00.000Z",
        "metadata": {"tally_transaction": TRANSACTION},
        "payment_method": {"type": "bank_card", "id": SAVED_METHOD, "saved": True},
        "test": True,
        **extra,
    }


class Script:
    def __init__(self) -> None:
        self.reply = Reply(200, payment())

    def __call__(self, seen: Seen) -> Reply:
        return self.reply


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def api(script: Script) -> Iterator[FakeApi]:
    with fake_api(script) as running:
        yield running


@pytest.fixture
def provider(api: FakeApi) -> Iterator[YooKassaProvider]:
    adapter = YooKassaProvider(
        shop_id=SHOP_ID, secret_key=SECRET_KEY, api_base=api.url, timeout_s=1.0
    )
    yield adapter
    adapter.close()


def charge_request(attempt: int = 1) -> ChargeRequest:
    return ChargeRequest(
        customer_ref="c-1",
        payment_method_ref=SAVED_METHOD,
        amount_minor=1050,
        currency="RUB",
        idempotency_key=idempotency_key(TRANSACTION, attempt),
        description="Renewal",
        references={"tally_transaction": TRANSACTION},
    )


def test_a_charge_uses_basic_auth_the_idempotence_key_and_major_units(
    api: FakeApi, provider: YooKassaProvider
) -> None:
    outcome = provider.charge(charge_request())
    assert (outcome.status, outcome.payment_ref, outcome.amount_minor) == (
        "succeeded",
        PAYMENT_ID,
        1050,
    )
    [sent] = api.sent("POST", "/v3/payments")
    credentials = base64.b64encode(f"{SHOP_ID}:{SECRET_KEY}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {credentials}"
    assert sent.headers["idempotence-key"] == f"tally:{TRANSACTION}:1"
    assert sent.json() == {
        "amount": {"value": "10.50", "currency": "RUB"},
        "capture": True,
        "payment_method_id": SAVED_METHOD,
        "description": "Renewal",
        "metadata": {"tally_transaction": TRANSACTION},
    }


def test_a_retry_after_an_outage_sends_the_same_idempotence_key(
    api: FakeApi, script: Script, provider: YooKassaProvider
) -> None:
    script.reply = Reply(500, {"type": "error", "code": "internal_server_error"})
    with pytest.raises(ProviderUnavailable):
        provider.charge(charge_request())
    script.reply = Reply(200, payment())
    provider.charge(charge_request())
    keys = [seen.headers["idempotence-key"] for seen in api.sent("POST", "/v3/payments")]
    assert keys == [f"tally:{TRANSACTION}:1"] * 2


def test_a_canceled_payment_is_card_declined_with_yookassas_reason(
    script: Script, provider: YooKassaProvider
) -> None:
    script.reply = Reply(
        200,
        payment(
            "canceled", cancellation_details={"party": "issuer", "reason": "insufficient_funds"}
        ),
    )
    with pytest.raises(CardDeclined) as declined:
        provider.charge(charge_request())
    assert declined.value.decline_code == "insufficient_funds"


def test_a_pending_payment_is_processing(script: Script, provider: YooKassaProvider) -> None:
    script.reply = Reply(200, payment("pending"))
    assert provider.charge(charge_request()).status == "processing"


def test_a_timeout_is_provider_unavailable(script: Script, provider: YooKassaProvider) -> None:
    script.reply = Reply(200, payment(), delay_s=2.0)
    with pytest.raises(ProviderUnavailable):
        provider.charge(charge_request())


def test_refused_credentials_name_both_variables_and_no_value(script: Script, api: FakeApi) -> None:
    script.reply = Reply(401, {"type": "error", "code": "invalid_credentials"})
    adapter = YooKassaProvider(
        shop_id=SHOP_ID,
        secret_key=SECRET_KEY,
        api_base=api.url,
        credential_names="YOOKASSA_SHOP_ID/YOOKASSA_SECRET_KEY",
    )
    with pytest.raises(ProviderMisconfigured) as refused:
        adapter.charge(charge_request())
    adapter.close()
    assert "YOOKASSA_SECRET_KEY" in str(refused.value)
    assert SECRET_KEY not in str(refused.value)


def test_an_invalid_request_is_provider_rejected(
    script: Script, provider: YooKassaProvider
) -> None:
    script.reply = Reply(
        400, {"type": "error", "code": "invalid_request", "description": "bad amount"}
    )
    with pytest.raises(ProviderRejected, match="bad amount"):
        provider.charge(charge_request())


def test_a_key_longer_than_yookassa_accepts_is_shortened_deterministically(
    api: FakeApi, provider: YooKassaProvider
) -> None:
    long_key = idempotency_key(TRANSACTION, "invoice", TRANSACTION, 1)
    assert len(long_key) > MAX_KEY_LENGTH
    request = ChargeRequest("c-1", SAVED_METHOD, 1050, "RUB", long_key)
    provider.charge(request)
    provider.charge(request)
    first, second = (seen.headers["idempotence-key"] for seen in api.sent("POST", "/v3/payments"))
    assert first == second
    assert len(first) <= MAX_KEY_LENGTH


def test_a_subscription_checkout_saves_the_payment_method_and_returns_the_confirmation_url(
    api: FakeApi, script: Script, provider: YooKassaProvider
) -> None:
    confirmation = {
        "type": "redirect",
        "confirmation_url": "https://yoomoney.ru/checkout/payments/v2/contract?orderId=1",
    }
    script.reply = Reply(200, payment("pending", confirmation=confirmation))
    session = provider.create_checkout_session(
        CheckoutRequest(
            mode=CheckoutMode.SUBSCRIPTION,
            lines=(LineItem("Pro plan", 99_000, "RUB"),),
            success_url="https://app.example/return",
            cancel_url="https://app.example/cancel",
            idempotency_key="tally:checkout-1",
            references={"tally_subscription": "s-1"},
        )
    )
    assert (session.session_ref, session.url) == (PAYMENT_ID, confirmation["confirmation_url"])
    [sent] = api.sent("POST", "/v3/payments")
    body = sent.json()
    assert body["amount"] == {"value": "990.00", "currency": "RUB"}
    assert body["save_payment_method"] is True
    assert body["confirmation"] == {"type": "redirect", "return_url": "https://app.example/return"}
    assert sent.headers["idempotence-key"] == "tally:checkout-1"


def test_a_refund_posts_to_refunds_with_its_key(
    api: FakeApi, script: Script, provider: YooKassaProvider
) -> None:
    script.reply = Reply(
        200,
        {
            "id": "216749f7-0016-50be-b000-078d43a63ae4",
            "status": "succeeded",
            "payment_id": PAYMENT_ID,
            "amount": {"value": "2.50", "currency": "RUB"},
        },
    )
    refund = provider.refund(
        RefundRequest(PAYMENT_ID, 250, "RUB", "tally:refund-1:1", reason="goodwill")
    )
    assert (refund.status, refund.amount_minor) == ("succeeded", 250)
    [sent] = api.sent("POST", "/v3/refunds")
    assert sent.headers["idempotence-key"] == "tally:refund-1:1"
    assert sent.json() == {
        "payment_id": PAYMENT_ID,
        "amount": {"value": "2.50", "currency": "RUB"},
        "description": "goodwill",
    }


def test_a_notification_is_confirmed_against_the_real_http_api(
    api: FakeApi, provider: YooKassaProvider
) -> None:
    body = (
        b'{"type":"notification","event":"payment.succeeded","object":{"id":"'
        + PAYMENT_ID.encode()
        + b'","status":"succeeded"}}'
    )
    [event] = provider.parse_webhook({}, body)
    assert event.type is EventType.PAYMENT_SUCCEEDED
    assert (event.amount_minor, event.references["tally_transaction"]) == (1050, TRANSACTION)
    assert [seen.path for seen in api.sent("GET")] == [f"/v3/payments/{PAYMENT_ID}"]


def test_no_customers_portal_or_provider_subscriptions(
    api: FakeApi, provider: YooKassaProvider
) -> None:
    customer = provider.create_customer(
        CustomerRequest("tally:c-1", references={"tally_customer": "c-1"})
    )
    assert customer.customer_ref == "c-1"
    with pytest.raises(ProviderUnsupported):
        provider.create_portal_session("c-1", "https://app.example")
    with pytest.raises(ProviderUnsupported):
        provider.cancel_subscription("s", at_period_end=True, idempotency_key="k")
    assert api.requests == []
