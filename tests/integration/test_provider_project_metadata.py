"""Every provider call names the Tally project in the provider object's metadata
(issue 18, item 5): ``tally_project`` beside the invoice, transaction or customer, in
Stripe's ``metadata``, Paddle's ``custom_data`` and YooKassa's ``metadata``, so that a
provider's dashboard and its webhooks can always be traced to a tenant.

The calls are recorded as the handlers record them (a credit note's refund, an invoice's
charge and a customer's creation name no project in their references) and made by the
outbox's own ``call_provider`` through each real adapter against a fake API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from adapters.provider_requests import call_provider
from adapters.providers.paddle import PaddleProvider
from adapters.providers.stripe import StripeProvider
from adapters.providers.yookassa import YooKassaProvider
from domain.provider_call_params import (
    ChargeParams,
    CheckoutLine,
    CheckoutParams,
    CreateCustomerParams,
    ProviderParams,
    RefundParams,
)
from domain.provider_calls import ProviderCall
from tests.e2e.test_invoice_charges_stripe import FakeStripeWithRefunds
from tests.integration.provider_fake import FakeApi, Reply, fake_api
from tests.integration.test_provider_paddle_api import SUB, FakePaddle
from tests.integration.test_provider_yookassa_api import SAVED_METHOD, Script, payment

NOW = datetime(2030, 1, 1, tzinfo=UTC)
PROJECT = UUID("7b0c3d9e-1f2a-4b5c-8d6e-0f1a2b3c4d5e")
INVOICE = {"tally_invoice": str(UUID(int=7))}
LINE = CheckoutLine("Pro", 2900, "EUR", 1)
BACK = {"success_url": "https://shop.example/ok", "cancel_url": "https://shop.example/no"}


def recorded(provider: str, params: ProviderParams) -> ProviderCall:
    return ProviderCall.request(
        project_id=PROJECT, provider=provider, subject=str(uuid4()), params=params, now=NOW
    )


def customer() -> CreateCustomerParams:
    return CreateCustomerParams(str(UUID(int=3)), "ada@example.com", "Ada", {"tally_customer": "c"})


def checkout(currency: str = "EUR") -> CheckoutParams:
    line = CheckoutLine(LINE.name, LINE.unit_amount, currency, 1)
    return CheckoutParams("item", (line,), customer_ref=None, references=dict(INVOICE), **BACK)


def charge(method: str, currency: str = "EUR") -> ChargeParams:
    return ChargeParams("cus_1", method, 2900, currency, "Invoice 7", dict(INVOICE))


def refund() -> RefundParams:
    return RefundParams("pi_1", 1000, "EUR", "credit note", dict(INVOICE), credit_note="N-1")


@pytest.fixture
def stripe_api() -> Iterator[FakeApi]:
    with fake_api(FakeStripeWithRefunds()) as running:
        yield running


def test_every_stripe_call_has_the_project_in_its_metadata(stripe_api: FakeApi) -> None:
    provider = StripeProvider(
        api_key="sk_test_x", webhook_secret="whsec_x", api_base=stripe_api.url, timeout_s=2.0
    )
    for params in (customer(), checkout(), charge("pm_visa"), refund()):
        call_provider(provider, recorded("stripe", params))
    sent = {seen.path: seen.form() for seen in stripe_api.requests}
    assert sorted(sent) == [
        "/v1/checkout/sessions",
        "/v1/customers",
        "/v1/payment_intents",
        "/v1/refunds",
    ]
    for path, form in sent.items():
        assert form["metadata[tally_project]"] == [str(PROJECT)], path
    assert sent["/v1/refunds"]["metadata[tally_invoice]"] == [INVOICE["tally_invoice"]]
    # The payment the checkout makes carries them too (its webhooks name the project).
    assert sent["/v1/checkout/sessions"]["payment_intent_data[metadata][tally_project]"] == [
        str(PROJECT)
    ]


def test_every_paddle_call_that_takes_custom_data_has_the_project_in_it() -> None:
    with fake_api(FakePaddle()) as api:
        provider = PaddleProvider(api_key="k", webhook_secret="s", api_base=api.url, timeout_s=2.0)
        try:
            for params in (customer(), checkout("USD"), charge(SUB, "USD")):
                call_provider(provider, recorded("paddle", params))
        finally:
            provider.close()
        posted = {seen.path: seen.json() for seen in api.requests if seen.method == "POST"}
    assert posted["/customers"]["custom_data"]["tally_project"] == str(PROJECT)
    assert posted["/transactions"]["custom_data"]["tally_project"] == str(PROJECT)
    [item] = posted[f"/subscriptions/{SUB}/charge"]["items"]
    assert item["price"]["custom_data"]["tally_project"] == str(PROJECT)


def test_every_yookassa_payment_has_the_project_in_its_metadata() -> None:
    script = Script()
    confirmation = {"type": "redirect", "confirmation_url": "https://yoomoney.ru/checkout/1"}
    script.reply = Reply(200, payment(confirmation=confirmation))
    with fake_api(script) as api:
        provider = YooKassaProvider(shop_id="506751", secret_key="s", api_base=api.url)
        try:
            for params in (checkout("RUB"), charge(SAVED_METHOD, "RUB")):
                call_provider(provider, recorded("yookassa", params))
        finally:
            provider.close()
        payments = [seen.json() for seen in api.sent("POST", "/v3/payments")]
    assert len(payments) == 2
    assert all(p["metadata"]["tally_project"] == str(PROJECT) for p in payments)
