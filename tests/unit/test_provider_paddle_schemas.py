"""Every request body the Paddle adapter sends, checked against Paddle's own schemas.

The schemas are copied from Paddle's published OpenAPI description into
``tests/fixtures/paddle_openapi_v1.json`` (its ``requests`` names which schema each
call's body must meet). The adapter talks to an ``httpx.MockTransport`` that records
what it is sent and answers like Paddle; a body the schema refuses (a price name over
50 characters on a one-time charge, a currency Paddle does not take, a field Paddle
sets itself) is a failing test, as it would be a 400 from Paddle.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.providers.base import (
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    CustomerRequest,
    LineItem,
    RefundRequest,
)
from adapters.providers.paddle import PaddleProvider
from tests.paddle_openapi import check_answer, problems, schema_for

__all__ = ["problems"]  # for the provider-run subscription bodies' tests

CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"
TXN = "txn_01hv8wptq8987qeep44cyrewp9"
PRICE = "pri_01gsz8x8sawmvhz1pv30nge1ke"
KEY = "tally:6f1c0b9e-3a43-4c1e-9a55-0d7e1f0e2b11:1"
PORTAL = {"id": "cpls_01h4ge9r64c22exjsx0fy8b48b", "urls": {"general": {"overview": "https://p"}}}
REFS = {"tally_project": "8a3e3c4e-0f1b-4b7e-9d1a-3f2e1d0c9b8a", "tally_invoice": "i-1"}


class Recorder:
    """Paddle's answers, just enough for each call, each checked against Paddle's
    response schema (``tests/paddle_openapi.py``); every body it is sent is kept."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.answer(request)
        check_answer(request.method, request.url.path, response.status_code, response.json())
        return response

    def answer(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, request.url.path
        if request.content:
            self.sent.append((method, path, json.loads(request.content)))
        if method == "GET" and path == f"/transactions/{TXN}":
            lines = [{"id": "txnitm_01hv8wt98jahpbm1t1tzr06z6n"}]
            answer = {"data": {"id": TXN, "details": {"line_items": lines}}}
            return httpx.Response(200, json=answer)
        if method == "GET":
            return httpx.Response(
                200, json={"data": [], "meta": {"pagination": {"has_more": False}}}
            )
        if path.endswith("/portal-sessions"):
            return httpx.Response(201, json={"data": PORTAL})
        if path == "/transactions":
            # As Paddle does for an account with no default payment link: the page is
            # the one the transaction names, else none (``checkout.url: null``).
            page = (json.loads(request.content).get("checkout") or {}).get("url")
            url = f"{page}?_ptxn={TXN}" if page else None
            return httpx.Response(201, json={"data": {"id": TXN, "checkout": {"url": url}}})
        if path == "/adjustments":
            made = {"id": "adj_01hvgf2s84dr6reszzg29zbvcm", "status": "pending_approval"}
            return httpx.Response(201, json={"data": made})
        if method == "PATCH" and path.startswith("/transactions/"):
            return httpx.Response(200, json={"data": {"id": TXN, "status": "canceled"}})
        return httpx.Response(201, json={"data": {"id": CUSTOMER if "customers" in path else SUB}})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def provider(recorder: Recorder) -> Iterator[PaddleProvider]:
    made = PaddleProvider(
        api_key="pdl_key",
        webhook_secret="pdl_secret",
        checkout_url="https://shop.example/pay",
        transport=httpx.MockTransport(recorder),
    )
    yield made
    made.close()


def sent_bodies(recorder: Recorder) -> list[tuple[str, Any]]:
    return [(schema_for(method, path), body) for method, path, body in recorder.sent]


def test_a_customer_is_created_as_paddle_takes_it(
    provider: PaddleProvider, recorder: Recorder
) -> None:
    provider.create_customer(
        CustomerRequest(KEY, email="ada@example.com", name="Ada Lovelace", references=REFS)
    )
    [(name, body)] = sent_bodies(recorder)
    assert problems(name, body) == []


@pytest.mark.parametrize("customer", [None, CUSTOMER])
def test_a_checkout_transaction_is_one_paddle_takes(
    provider: PaddleProvider, recorder: Recorder, customer: str | None
) -> None:
    lines = (
        LineItem("Eb", 1500, "EUR", quantity=3),
        LineItem("x" * 150, 1, "EUR"),
        LineItem("Pro plan", 2900, "EUR", price_ref=PRICE),
    )
    request = CheckoutRequest(
        mode=CheckoutMode.ITEM,
        lines=lines,
        success_url="https://shop.example/paid",
        cancel_url="https://shop.example/back",
        idempotency_key=KEY,
        customer_ref=customer,
        references=REFS,
    )
    provider.create_checkout_session(request)
    [(name, body)] = sent_bodies(recorder)
    assert name == "transaction-create"
    assert problems(name, body) == []


@pytest.mark.parametrize("description", ["", "x", "Invoice INV-0001", "y" * 60, "z" * 500])
def test_a_one_time_charge_is_one_paddle_takes_whatever_tallys_text(
    provider: PaddleProvider, recorder: Recorder, description: str
) -> None:
    request = ChargeRequest(
        customer_ref=CUSTOMER,
        payment_method_ref=SUB,
        amount_minor=2500,
        currency="USD",
        idempotency_key=KEY,
        description=description,
        references=REFS,
    )
    provider.charge(request)
    [(name, body)] = sent_bodies(recorder)
    assert name == "subscription-charge"
    assert problems(name, body) == []


def test_a_refund_adjustment_is_one_paddle_takes(
    provider: PaddleProvider, recorder: Recorder
) -> None:
    provider.refund(RefundRequest(TXN, 500, "EUR", KEY, reason="broken on arrival"))
    [(name, body)] = sent_bodies(recorder)
    assert name == "adjustment-create"
    assert problems(name, body) == []


def test_amounts_are_sent_as_integer_strings(provider: PaddleProvider, recorder: Recorder) -> None:
    provider.charge(ChargeRequest(CUSTOMER, SUB, 123456789, "JPY", KEY))
    [(_, body)] = sent_bodies(recorder)
    assert body["items"][0]["price"]["unit_price"] == {
        "amount": "123456789",
        "currency_code": "JPY",
    }


def charge_of_name(name: str) -> dict[str, Any]:
    price = {
        "description": "ok",
        "name": name,
        "unit_price": {"amount": "1", "currency_code": "EUR"},
        "product": {"name": "p", "tax_category": "standard"},
    }
    return {"effective_from": "immediately", "items": [{"quantity": 1, "price": price}]}


@pytest.mark.parametrize(
    ("name", "refused", "taken"),
    [
        ("subscription-charge", charge_of_name("n" * 51), charge_of_name("n" * 50)),
        (
            "transaction-create",
            {"items": [{"price_id": PRICE, "quantity": 1}], "currency_code": "KZT"},
            {"items": [{"price_id": PRICE, "quantity": 1}], "currency_code": "EUR"},
        ),
        (
            "adjustment-create",
            {"action": "refund", "transaction_id": TXN, "reason": "r", "status": "approved"},
            {"action": "refund", "transaction_id": TXN, "reason": "r"},
        ),
    ],
)
def test_the_carried_schemas_refuse_what_paddle_refuses(
    name: str, refused: dict[str, Any], taken: dict[str, Any]
) -> None:
    assert problems(name, refused), f"{name} took {refused}"
    assert problems(name, taken) == []
