"""Every request body the YooKassa adapter sends, checked against YooKassa's official
Python SDK's request models and its API reference (``tests/fixtures/yookassa_requests.json``
says where each limit comes from), and the answers it reads checked by the SDK's own
field names. The adapter talks to an ``httpx.MockTransport`` that records what it is
sent; a body the schema refuses is a failing test, as it would be a 400 from YooKassa.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from adapters.providers.base import (
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    LineItem,
    RefundRequest,
)
from adapters.providers.yookassa import YooKassaProvider
from commands.provider_errors import CardDeclined

SPEC = json.loads((Path(__file__).parents[1] / "fixtures" / "yookassa_requests.json").read_text())
PAYMENT = "22d6d597-000f-5000-9000-145f6df21d6f"
METHOD = "2ce8b3e0-000f-5000-9000-1cf5f4f2e2f1"
KEY = "tally:6f1c0b9e-3a43-4c1e-9a55-0d7e1f0e2b11:1"
REFS = {
    "tally_project": "8a3e3c4e-0f1b-4b7e-9d1a-3f2e1d0c9b8a",
    "tally_transaction": "0b0e8d7c-6a5b-4c3d-9e2f-1a0b9c8d7e6f",
    "tally_customer": "5e4d3c2b-1a09-4f8e-8d7c-6b5a4f3e2d1c",
}


def problems(path: str, body: Any) -> list[str]:
    name = SPEC["requests"][f"POST {path}"]
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    )
    found = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
    if isinstance(body.get("amount"), dict) and not Decimal(body["amount"]["value"]) > 0:
        found.append("the SDK's validate() refuses an amount of 0 or less")
    return found


class Recorder:
    """YooKassa's answers in the SDK's response shape; every body it is sent is kept."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.payment_status = "pending"
        self.refund_status = "succeeded"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.sent.append((request.url.path, body))
        amount = body["amount"]
        if request.url.path == "/v3/refunds":
            refund = {"id": PAYMENT, "payment_id": body["payment_id"], "amount": amount}
            refund["status"] = self.refund_status
            refund["cancellation_details"] = {"party": "yoo_money", "reason": "rejected_by_payee"}
            return httpx.Response(200, json=refund)
        confirmation = {"type": "redirect", "confirmation_url": "https://yoomoney.ru/checkout/x"}
        payment = {
            "id": PAYMENT,
            "status": self.payment_status,
            "amount": amount,
            "confirmation": confirmation,
            "cancellation_details": {"party": "payment_network", "reason": "insufficient_funds"},
            "metadata": body.get("metadata", {}),
        }
        return httpx.Response(200, json=payment)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def provider(recorder: Recorder) -> Iterator[YooKassaProvider]:
    made = YooKassaProvider(
        shop_id="123456", secret_key="test_key", transport=httpx.MockTransport(recorder)
    )
    yield made
    made.close()


@pytest.mark.parametrize("mode", [CheckoutMode.ITEM, CheckoutMode.SUBSCRIPTION, CheckoutMode.CART])
@pytest.mark.parametrize("names", [("E",), ("Ebook", "x" * 200)])
def test_a_checkout_payment_is_one_yookassa_takes(
    provider: YooKassaProvider, recorder: Recorder, mode: CheckoutMode, names: tuple[str, ...]
) -> None:
    request = CheckoutRequest(
        mode=mode,
        lines=tuple(LineItem(name, 1050, "RUB", quantity=2) for name in names),
        success_url="https://shop.example/paid",
        cancel_url="https://shop.example/back",
        idempotency_key=KEY,
        references=REFS,
    )
    session = provider.create_checkout_session(request)
    [(path, body)] = recorder.sent
    assert problems(path, body) == []
    assert session.url == "https://yoomoney.ru/checkout/x"


@pytest.mark.parametrize("description", ["", "invoice INV-0001", "z" * 500])
def test_an_off_session_charge_is_one_yookassa_takes(
    provider: YooKassaProvider, recorder: Recorder, description: str
) -> None:
    recorder.payment_status = "succeeded"
    request = ChargeRequest("c-1", METHOD, 99999, "RUB", KEY, description, REFS)
    assert provider.charge(request).status == "succeeded"
    [(path, body)] = recorder.sent
    assert problems(path, body) == []
    assert body["amount"] == {"value": "999.99", "currency": "RUB"}


def test_a_canceled_charge_is_read_by_the_sdks_field_names(
    provider: YooKassaProvider, recorder: Recorder
) -> None:
    recorder.payment_status = "canceled"
    with pytest.raises(CardDeclined) as declined:
        provider.charge(ChargeRequest("c-1", METHOD, 100, "RUB", KEY))
    assert declined.value.context["decline_code"] == "insufficient_funds"


@pytest.mark.parametrize("reason", ["", "broken", "r" * 400])
def test_a_refund_is_one_yookassa_takes(
    provider: YooKassaProvider, recorder: Recorder, reason: str
) -> None:
    outcome = provider.refund(
        RefundRequest(PAYMENT, 500, "RUB", KEY, reason=reason, references=REFS)
    )
    [(path, body)] = recorder.sent
    assert problems(path, body) == []
    assert body["metadata"] == REFS  # the refund's notification names Tally's payment
    assert (outcome.refund_ref, outcome.status) == (PAYMENT, "succeeded")


@pytest.mark.parametrize(
    ("path", "refused", "taken"),
    [
        (
            "/v3/payments",
            {"amount": {"value": "1.00", "currency": "RUB"}, "description": "d" * 129},
            {"amount": {"value": "1.00", "currency": "RUB"}, "description": "d" * 128},
        ),
        (
            "/v3/payments",
            {"amount": {"value": "0.00", "currency": "RUB"}},
            {"amount": {"value": "0.01", "currency": "RUB"}},
        ),
        (
            "/v3/payments",
            {"amount": {"value": "1.00", "currency": "RUB"}, "metadata": {"k" * 33: "v"}},
            {"amount": {"value": "1.00", "currency": "RUB"}, "metadata": {"k" * 32: "v"}},
        ),
        (
            "/v3/refunds",
            {"payment_id": PAYMENT, "amount": {"value": "1.00", "currency": "RUB"}, "x": 1},
            {"payment_id": PAYMENT, "amount": {"value": "1.00", "currency": "RUB"}},
        ),
        (
            "/v3/refunds",
            {
                "payment_id": PAYMENT,
                "amount": {"value": "1.00", "currency": "RUB"},
                "metadata": {f"k{n}": "v" for n in range(17)},
            },
            {
                "payment_id": PAYMENT,
                "amount": {"value": "1.00", "currency": "RUB"},
                "metadata": {f"k{n}": "v" for n in range(16)},
            },
        ),
        (
            "/v3/refunds",
            {
                "payment_id": PAYMENT,
                "amount": {"value": "1.00", "currency": "RUB"},
                "description": "r" * 256,
            },
            {
                "payment_id": PAYMENT,
                "amount": {"value": "1.00", "currency": "RUB"},
                "description": "r" * 255,
            },
        ),
    ],
)
def test_the_carried_schemas_refuse_what_yookassa_refuses(
    path: str, refused: dict[str, Any], taken: dict[str, Any]
) -> None:
    assert problems(path, refused), f"{path} took {refused}"
    assert problems(path, taken) == []
