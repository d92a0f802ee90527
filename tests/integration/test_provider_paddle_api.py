"""The Paddle adapter against a fake Paddle Billing API on 127.0.0.1 over real httpx.
Paddle takes no idempotency key, so the adapter tags what it creates and looks first:
a retried charge or refund finds the first one and creates nothing."""

from __future__ import annotations

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
)
from adapters.providers.paddle import KEY_FIELD, PaddleProvider
from commands.provider_errors import (
    CardDeclined,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnavailable,
)
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api
from tests.paddle_openapi import answered_item, checked_fake_api

TXN_NEW = "txn_" + "new".rjust(26, "0")
API_KEY = "pdl_integration_key"
SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"
TXN = "txn_01hv8wptq8987qeep44cyrewp9"
CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"


class FakePaddle:
    """Just enough of Paddle: charges become listed transactions, adjustments are kept."""

    def __init__(self) -> None:
        self.transactions: list[dict[str, Any]] = []
        self.adjustments: list[dict[str, Any]] = []
        self.charge_reply: Reply | None = None

    def __call__(self, seen: Seen) -> Reply:
        if seen.method == "POST" and seen.path == f"/subscriptions/{SUB}/charge":
            if self.charge_reply is not None:
                return self.charge_reply
            item = answered_item(seen.json()["items"][0])
            self.transactions.append(
                {
                    "id": f"txn_charge{len(self.transactions):0>20}",
                    "status": "completed",
                    "items": [item],
                }
            )
            return Reply(200, {"data": {"id": SUB, "status": "active"}})
        if seen.method == "GET" and seen.path == "/transactions":
            return Reply(200, {"data": self.transactions, "meta": {}})
        if seen.method == "GET" and seen.path == f"/transactions/{TXN}":
            lines = [{"id": "txnitm_01hv8wt98jahpbm1t1tzr06z6n", "totals": {"total": "65215"}}]
            return Reply(200, {"data": {"id": TXN, "details": {"line_items": lines}}})
        if seen.method == "GET" and seen.path == "/adjustments":
            return Reply(200, {"data": self.adjustments})
        if seen.method == "POST" and seen.path == "/adjustments":
            adjustment = {
                "id": f"adj_{len(self.adjustments):0>26}",
                "status": "pending_approval",
                **seen.json(),
            }
            self.adjustments.append(adjustment)
            return Reply(201, {"data": adjustment})
        if seen.method == "POST" and seen.path == "/transactions":
            return Reply(
                201,
                {
                    "data": {
                        "id": TXN_NEW,
                        "checkout": {"url": f"https://pay.example/checkout?_ptxn={TXN_NEW}"},
                    }
                },
            )
        if seen.method == "POST" and seen.path == "/customers":
            return Reply(201, {"data": {"id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"}})
        if seen.method == "POST" and seen.path.endswith("/portal-sessions"):
            urls = {"general": {"overview": "https://customer-portal.paddle.com/cpl_1"}}
            portal = "cpls_" + "1".rjust(26, "0")
            return Reply(201, {"data": {"id": portal, "urls": urls}})
        if seen.method == "POST" and seen.path == f"/subscriptions/{SUB}/cancel":
            return Reply(200, {"data": {"id": SUB, "status": "canceled"}})
        return Reply(
            404, {"error": {"type": "request_error", "code": "not_found", "detail": "no route"}}
        )


@pytest.fixture
def paddle() -> FakePaddle:
    return FakePaddle()


@pytest.fixture
def api(paddle: FakePaddle) -> Iterator[FakeApi]:
    with checked_fake_api(paddle) as running:  # answers checked against Paddle's schemas
        yield running


@pytest.fixture
def provider(api: FakeApi) -> Iterator[PaddleProvider]:
    adapter = PaddleProvider(api_key=API_KEY, webhook_secret="s", api_base=api.url, timeout_s=1.0)
    yield adapter
    adapter.close()


def charge_request(key: str = "tally:t-1:1") -> ChargeRequest:
    return ChargeRequest(
        "ctm_1", SUB, 1500, "USD", key, "Extra seats", {"tally_transaction": "t-1"}
    )


def test_a_charge_bills_the_subscription_once_with_the_key_on_the_price(
    api: FakeApi, provider: PaddleProvider
) -> None:
    outcome = provider.charge(charge_request())
    assert (outcome.status, outcome.payment_ref, outcome.amount_minor) == (
        "succeeded",
        "txn_charge" + "0" * 20,
        1500,
    )
    [sent] = api.sent("POST", f"/subscriptions/{SUB}/charge")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    body = sent.json()
    assert body["effective_from"] == "immediately"
    assert body["on_payment_failure"] == "prevent_change"
    price = body["items"][0]["price"]
    assert price["unit_price"] == {"amount": "1500", "currency_code": "USD"}
    assert price["custom_data"] == {"tally_transaction": "t-1", KEY_FIELD: "tally:t-1:1"}


def test_a_retried_charge_finds_the_first_and_charges_nothing_more(
    api: FakeApi, provider: PaddleProvider
) -> None:
    first = provider.charge(charge_request())
    again = provider.charge(charge_request())
    assert again == first
    assert len(api.sent("POST", f"/subscriptions/{SUB}/charge")) == 1
    provider.charge(charge_request(key="tally:t-1:2"))
    assert len(api.sent("POST", f"/subscriptions/{SUB}/charge")) == 2


def test_a_declined_charge_is_card_declined(paddle: FakePaddle, provider: PaddleProvider) -> None:
    paddle.charge_reply = Reply(
        400,
        {
            "error": {
                "type": "request_error",
                "code": "subscription_payment_declined",
                "detail": "payment declined",
            }
        },
    )
    with pytest.raises(CardDeclined) as declined:
        provider.charge(charge_request())
    assert declined.value.decline_code == "subscription_payment_declined"
    assert declined.value.code == "card_declined"


def test_a_5xx_is_provider_unavailable(paddle: FakePaddle, provider: PaddleProvider) -> None:
    paddle.charge_reply = Reply(502, {})
    with pytest.raises(ProviderUnavailable):
        provider.charge(charge_request())


def test_a_timeout_is_provider_unavailable(paddle: FakePaddle, provider: PaddleProvider) -> None:
    paddle.charge_reply = Reply(200, {"data": {}}, delay_s=2.0)
    with pytest.raises(ProviderUnavailable, match="in time"):
        provider.charge(charge_request())


def test_a_refused_api_key_is_misconfiguration_naming_the_variable(api: FakeApi) -> None:
    with fake_api(lambda seen: Reply(403, {"error": {"code": "forbidden"}})) as denying:
        adapter = PaddleProvider(api_key=API_KEY, webhook_secret="s", api_base=denying.url)
        with pytest.raises(ProviderMisconfigured) as refused:
            adapter.create_customer(CustomerRequest("tally:c", email="a@example.com"))
        adapter.close()
    assert "PADDLE_API_KEY" in str(refused.value)
    assert API_KEY not in str(refused.value)


def test_a_refund_is_a_tagged_adjustment_and_a_retry_finds_it(
    api: FakeApi, provider: PaddleProvider
) -> None:
    request = RefundRequest(TXN, 500, "USD", "tally:refund-1:1", reason="goodwill")
    first = provider.refund(request)
    again = provider.refund(request)
    assert first == again
    assert (first.refund_ref, first.status) == ("adj_" + "0" * 26, "pending_approval")
    [sent] = api.sent("POST", "/adjustments")
    body = sent.json()
    assert body["action"] == "refund"
    assert body["transaction_id"] == TXN
    assert body["reason"] == "goodwill [tally:refund-1:1]"
    assert body["items"] == [
        {"item_id": "txnitm_01hv8wt98jahpbm1t1tzr06z6n", "type": "partial", "amount": "500"}
    ]


def test_a_checkout_is_a_transaction_with_its_hosted_url(
    api: FakeApi, provider: PaddleProvider
) -> None:
    session = provider.create_checkout_session(
        CheckoutRequest(
            mode=CheckoutMode.SUBSCRIPTION,
            lines=(
                LineItem(
                    "Pro", 2000, "USD", quantity=3, price_ref="pri_01gsz8x8sawmvhz1pv30nge1ke"
                ),
            ),
            success_url="https://app.example/ok",
            cancel_url="https://app.example/cancel",
            idempotency_key="tally:checkout-1",
            customer_ref="ctm_1",
            references={"tally_subscription": "s-1"},
        )
    )
    assert (session.session_ref, session.url) == (
        TXN_NEW,
        f"https://pay.example/checkout?_ptxn={TXN_NEW}",
    )
    body = api.sent("POST", "/transactions")[0].json()
    assert body["items"] == [{"price_id": "pri_01gsz8x8sawmvhz1pv30nge1ke", "quantity": 3}]
    assert body["customer_id"] == "ctm_1"
    assert body["custom_data"]["tally_subscription"] == "s-1"


def test_a_checkout_without_a_default_payment_link_refuses_clearly() -> None:
    with fake_api(
        lambda seen: Reply(201, {"data": {"id": "txn_x", "checkout": {"url": None}}})
    ) as bare:
        adapter = PaddleProvider(api_key=API_KEY, webhook_secret="s", api_base=bare.url)
        with pytest.raises(ProviderMisconfigured, match="default payment link"):
            adapter.create_checkout_session(
                CheckoutRequest(
                    CheckoutMode.ITEM,
                    (LineItem("Book", 900, "EUR"),),
                    "https://a/ok",
                    "https://a/no",
                    "k",
                )
            )
        adapter.close()


def test_a_customer_needs_an_email_and_is_created_with_references(
    api: FakeApi, provider: PaddleProvider
) -> None:
    with pytest.raises(ProviderRejected):
        provider.create_customer(CustomerRequest("tally:c-0"))
    customer = provider.create_customer(
        CustomerRequest("tally:c-1", email="ada@example.com", references={"tally_customer": "c-1"})
    )
    assert customer.customer_ref == "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
    assert api.sent("POST", "/customers")[0].json() == {
        "email": "ada@example.com",
        "custom_data": {"tally_customer": "c-1"},
    }


def test_portal_and_cancel_call_their_endpoints(api: FakeApi, provider: PaddleProvider) -> None:
    portal = provider.create_portal_session(CUSTOMER, "https://app.example/account")
    assert api.sent("POST", f"/customers/{CUSTOMER}/portal-sessions")
    assert portal.url == "https://customer-portal.paddle.com/cpl_1"
    provider.cancel_subscription(SUB, at_period_end=True, idempotency_key="tally:s-1:cancel")
    assert api.sent("POST", f"/subscriptions/{SUB}/cancel")[0].json() == {
        "effective_from": "next_billing_period"
    }
