"""The Paddle adapter against a fake Paddle on 127.0.0.1 (issue 18, items 7-11): a saved
``paymtd_`` method is charged through the subscription it pays, look-ups follow Paddle's
pages to the end, checkouts name their checkout page, charge texts fit Paddle's price
limits, and a refund held for review or rejected is reported as such."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.providers.base import (
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    LineItem,
    RefundRequest,
)
from adapters.providers.paddle import KEY_FIELD, PaddleProvider
from commands.provider_errors import ProviderRejected, ProviderUnsupported
from domain.limits import PADDLE_MAX_LIST_PAGES
from tests.integration.provider_fake import FakeApi, Reply, Seen
from tests.paddle_openapi import answered_item, checked_fake_api

CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
METHOD = "paymtd_01hv8wrpb6bs6x6m4ph9qrr5yp"
OTHER_METHOD = "paymtd_01hv8wrpb6bs6x6m4ph9qrr5zz"
SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"
OTHER_SUB = "sub_01hv8x29kz0t586xy6zn1a62zz"
TXN = "txn_01hv8wptq8987qeep44cyrewp9"
LINE_ID = "txnitm_01hv8wt98jahpbm1t1tzr06z6n"
KEY = "tally:6f1c0b9e-3a43-4c1e-9a55-0d7e1f0e2b11:1"


def old(n: int) -> str:
    """An older transaction's id, of Paddle's shape (``txn_`` and 26 letters or digits)."""
    return f"txn_old{n:0>23}"


def paid(txn: str, method: str, subscription: str | None) -> dict[str, Any]:
    return {
        "id": txn,
        "status": "completed",
        "subscription_id": subscription,
        "payments": [{"payment_method_id": method, "status": "captured"}],
    }


class PagedPaddle:
    """Lists answered ``per_page`` at a time, newest first, with Paddle's
    ``meta.pagination`` (``next`` carries the ``after`` cursor)."""

    def __init__(self, per_page: int = 2) -> None:
        self.per_page = per_page
        self.customer_transactions: list[dict[str, Any]] = []
        self.charges: list[dict[str, Any]] = []
        self.adjustments: list[dict[str, Any]] = []
        self.adjustment_status = "pending_approval"
        self.checkout_url: str | None = "https://pay.example/default"

    def page(self, seen: Seen, listed: list[dict[str, Any]]) -> Reply:
        after = (seen.query.get("after") or [""])[0]
        start = next((i + 1 for i, e in enumerate(listed) if e["id"] == after), 0)
        chunk = listed[start : start + self.per_page]
        more = start + self.per_page < len(listed)
        cursor = chunk[-1]["id"] if chunk else ""
        # Paddle's next is an absolute address; the adapter takes only its cursor.
        pagination = {
            "per_page": self.per_page,
            "has_more": more,
            "next": f"https://elsewhere.example{seen.path}?after={cursor}",
        }
        return Reply(200, {"data": chunk, "meta": {"pagination": pagination}})

    def __call__(self, seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path == "/transactions":
            if "customer_id" in seen.query:
                return self.page(seen, self.customer_transactions)
            return self.page(seen, self.charges)
        if seen.method == "POST" and seen.path.endswith("/charge"):
            item = answered_item(seen.json()["items"][0])
            made = {"id": f"txn_charge{len(self.charges):0>20}", "status": "completed"}
            self.charges.insert(0, made)
            self.charges[0]["items"] = [item]
            return Reply(200, {"data": {"id": seen.path.split("/")[2], "status": "active"}})
        if seen.method == "GET" and seen.path == f"/transactions/{TXN}":
            return Reply(200, {"data": {"id": TXN, "details": {"line_items": [{"id": LINE_ID}]}}})
        if seen.method == "GET" and seen.path == "/adjustments":
            return self.page(seen, self.adjustments)
        if seen.method == "POST" and seen.path == "/adjustments":
            made = {"id": f"adj_new{len(self.adjustments):0>23}", **seen.json()}
            made["status"] = self.adjustment_status
            self.adjustments.insert(0, made)
            return Reply(201, {"data": made})
        if seen.method == "POST" and seen.path == "/transactions":
            url = f"{self.checkout_url}?_ptxn={TXN}" if self.checkout_url else None
            return Reply(201, {"data": {"id": TXN, "checkout": {"url": url}}})
        return Reply(404, {"error": {"code": "not_found", "detail": seen.path}})


@pytest.fixture
def paddle() -> PagedPaddle:
    return PagedPaddle()


@pytest.fixture
def api(paddle: PagedPaddle) -> Iterator[FakeApi]:
    with checked_fake_api(paddle) as server:  # answers checked against Paddle's schemas
        yield server


def provider_at(api: FakeApi, **options: Any) -> PaddleProvider:
    return PaddleProvider(
        api_key="pdl_key", webhook_secret="pdl_secret", api_base=api.url, **options
    )


def charge_of(method: str, key: str = KEY, description: str = "invoice INV-1") -> ChargeRequest:
    return ChargeRequest(
        customer_ref=CUSTOMER,
        payment_method_ref=method,
        amount_minor=2500,
        currency="EUR",
        idempotency_key=key,
        description=description,
    )


def test_a_saved_method_is_charged_through_the_subscription_it_pays(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    # The customer's newest payments: a one-time purchase with another method, then the
    # subscription's payment with the saved method, which is on the second page.
    paddle.customer_transactions = [
        paid("txn_01hv8wptq8987qeep44cyrewa1", OTHER_METHOD, None),
        paid("txn_01hv8wptq8987qeep44cyrewa2", OTHER_METHOD, OTHER_SUB),
        paid("txn_01hv8wptq8987qeep44cyrewa3", METHOD, SUB),
    ]
    outcome = provider_at(api).charge(charge_of(METHOD))
    charged = api.sent("POST", "/subscriptions/")
    assert [seen.path for seen in charged] == [f"/subscriptions/{SUB}/charge"]
    assert outcome.status == "succeeded"
    looked_up = api.sent("GET", "/transactions")[0].query
    assert looked_up["customer_id"] == [CUSTOMER]


def test_a_method_that_pays_no_subscription_is_unsupported_and_charges_nothing(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    paddle.customer_transactions = [paid("txn_01hv8wptq8987qeep44cyrewa1", METHOD, None)]
    with pytest.raises(ProviderUnsupported, match="only through a subscription"):
        provider_at(api).charge(charge_of(METHOD))
    assert api.sent("POST") == []


def test_a_retried_charge_finds_its_first_attempt_on_a_later_page(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    provider = provider_at(api)
    provider.charge(charge_of(SUB, key=KEY))
    for n in range(5):  # newer charges push the first one off the first page
        provider.charge(charge_of(SUB, key=f"tally:00000000-0000-4000-8000-00000000000{n}:1"))
    assert len(paddle.charges) == 6
    again = provider.charge(charge_of(SUB, key=KEY))
    assert len(api.sent("POST", f"/subscriptions/{SUB}/charge")) == 6
    first = paddle.charges[-1]
    assert first["items"][0]["price"]["custom_data"][KEY_FIELD] == KEY
    assert again.payment_ref == first["id"]


def test_the_next_page_is_asked_of_paddle_itself_with_the_same_filters(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    paddle.charges = [
        {"id": old(n), "status": "completed", "items": [{"quantity": 1}]} for n in range(5)
    ]
    provider_at(api).charge(charge_of(SUB))
    lists = api.sent("GET", "/transactions")[:3]
    assert [seen.query.get("after") for seen in lists] == [None, [old(1)], [old(3)]]
    assert all(seen.query["subscription_id"] == [SUB] for seen in lists)


def test_a_list_longer_than_the_limit_is_refused_and_nothing_is_charged(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    paddle.per_page = 1
    paddle.charges = [
        {"id": old(n), "status": "completed", "items": [{"quantity": 1}]}
        for n in range(PADDLE_MAX_LIST_PAGES + 1)
    ]
    with pytest.raises(ProviderRejected, match="longer than"):
        provider_at(api).charge(charge_of(SUB))
    assert api.sent("POST") == []


def refund_of(key: str = KEY) -> RefundRequest:
    return RefundRequest(
        payment_ref=TXN, amount_minor=500, currency="EUR", idempotency_key=key, reason="broken"
    )


def test_a_retried_refund_finds_its_adjustment_on_a_later_page(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    provider = provider_at(api)
    first = provider.refund(refund_of())
    for n in range(4):
        provider.refund(refund_of(f"tally:00000000-0000-4000-8000-00000000000{n}:1"))
    again = provider.refund(refund_of())
    assert again.refund_ref == first.refund_ref
    assert len(api.sent("POST", "/adjustments")) == 5
    assert (first.status, again.status) == ("pending_approval", "pending_approval")


def test_an_approved_refund_succeeded_and_a_rejected_one_is_refused(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    paddle.adjustment_status = "approved"
    assert provider_at(api).refund(refund_of()).status == "succeeded"
    paddle.adjustment_status = "rejected"
    with pytest.raises(ProviderRejected, match="rejected"):
        provider_at(api).refund(refund_of("tally:00000000-0000-4000-8000-000000000009:1"))


def test_a_checkout_names_the_configured_checkout_page(paddle: PagedPaddle, api: FakeApi) -> None:
    paddle.checkout_url = "https://shop.example/pay"  # as Paddle composes it from ours
    request = CheckoutRequest(
        mode=CheckoutMode.ITEM,
        lines=(LineItem("Ebook", 1500, "EUR"),),
        success_url="https://shop.example/paid",
        cancel_url="https://shop.example/back",
        idempotency_key=KEY,
    )
    session = provider_at(api, checkout_url="https://shop.example/pay").create_checkout_session(
        request
    )
    body = api.sent("POST", "/transactions")[0].json()
    assert body["checkout"] == {"url": "https://shop.example/pay"}
    assert session.url == f"https://shop.example/pay?_ptxn={TXN}"
    provider_at(api).create_checkout_session(request)
    assert "checkout" not in api.sent("POST", "/transactions")[1].json()


def test_a_charge_description_is_fitted_to_paddles_price_limits(
    paddle: PagedPaddle, api: FakeApi
) -> None:
    provider_at(api).charge(charge_of(SUB, description="x" * 500))
    price = api.sent("POST", f"/subscriptions/{SUB}/charge")[0].json()["items"][0]["price"]
    assert (len(price["name"]), len(price["description"])) == (50, 200)
    assert price["name"].endswith("…")
    assert price["description"].startswith("x" * 190)
    provider_at(api).charge(charge_of(SUB, key=f"{KEY[:-1]}2", description="x"))
    price = api.sent("POST", f"/subscriptions/{SUB}/charge")[1].json()["items"][0]["price"]
    assert (price["name"], price["description"]) == ("x", "x.")


def test_a_currency_paddle_does_not_take_is_refused_before_any_call(api: FakeApi) -> None:
    request = ChargeRequest(
        customer_ref=CUSTOMER,
        payment_method_ref=SUB,
        amount_minor=100,
        currency="KZT",
        idempotency_key=KEY,
    )
    with pytest.raises(ProviderRejected, match="KZT"):
        provider_at(api).charge(request)
    assert api.requests == []
