"""Paddle's answers as its published schemas describe them (issue 18): every fake Paddle
of the tests answers through ``tests/paddle_openapi.py``, which refuses a field Paddle
does not send, of another type or at another place. Shown here refusing what the
adapter could otherwise be fed by a careless fake (Stripe's names, a number where Paddle
sends a string, a list cursor Paddle does not have) and taking what Paddle sends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.paddle_openapi import RESPONSES, response_problems

TXN = "txn_01hv8wptq8987qeep44cyrewp9"
SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"
CTM = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
ADJ = "adj_01hvgf2s84dr6reszzg29zbvcm"
METHOD = "paymtd_01hv8wrpb6bs6x6m4ph9qrr5yp"
PAGE = {"per_page": 50, "has_more": True, "next": "https://api.paddle.com/x?after=y"}


def one(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "meta": {"request_id": "r"}}


def listed(data: dict[str, Any], **pagination: Any) -> dict[str, Any]:
    return {"data": [data], "meta": {"request_id": "r", "pagination": {**PAGE, **pagination}}}


@pytest.mark.parametrize(
    ("call", "refused", "taken"),
    [
        (
            "POST /transactions",
            one({"id": TXN, "checkout_url": "https://pay.example"}),
            one({"id": TXN, "checkout": {"url": "https://pay.example"}}),
        ),
        (
            f"GET /transactions/{TXN}",
            one({"id": TXN, "details": {"totals": {"grand_total": 7140}}}),
            one({"id": TXN, "details": {"totals": {"grand_total": "7140"}}}),
        ),
        (
            f"GET /transactions/{TXN}",
            one({"id": TXN, "payments": [{"payment_method": METHOD}]}),
            one(
                {
                    "id": TXN,
                    "payments": [{"payment_method_id": METHOD}],
                }
            ),
        ),
        (
            "GET /transactions",
            listed({"id": TXN}, next_cursor="y"),
            listed({"id": TXN}),
        ),
        (
            "POST /adjustments",
            one({"id": ADJ, "refund_status": "pending_approval"}),
            one({"id": ADJ, "status": "pending_approval"}),
        ),
        (
            f"PATCH /subscriptions/{SUB}",
            one({"id": SUB, "cancel_at_period_end": True}),
            one({"id": SUB, "scheduled_change": None}),
        ),
        (
            f"GET /customers/{CTM}",
            one({"id": CTM, "metadata": {"tally_customer": "c-1"}}),
            one({"id": CTM, "custom_data": {"tally_customer": "c-1"}}),
        ),
        (
            f"POST /customers/{CTM}/portal-sessions",
            one({"id": "cpls_01h4ge9r64c22exjsx0fy8b48b", "url": "https://p"}),
            one(
                {
                    "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
                    "urls": {"general": {"overview": "https://p"}},
                }
            ),
        ),
        (
            f"GET /customers/{CTM}/payment-methods",
            listed({"id": METHOD, "customer": CTM}),
            listed({"id": METHOD, "customer_id": CTM}),
        ),
    ],
)
def test_paddles_answer_schemas_refuse_what_paddle_does_not_send(
    call: str, refused: dict[str, Any], taken: dict[str, Any]
) -> None:
    method, path = call.split(" ")
    assert response_problems(method, path, refused), f"{call} took {refused}"
    assert response_problems(method, path, taken) == []


def test_every_call_the_adapter_makes_has_its_answer_carried() -> None:
    assert response_problems("GET", "/prices", {"data": []}) == [
        "no response schema carried for GET /prices"
    ]
    assert len(RESPONSES["operations"]) == 16
