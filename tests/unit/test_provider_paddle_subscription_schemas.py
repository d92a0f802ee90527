"""The provider-run subscription calls of the Paddle adapter (issue 18), checked against
Paddle's own schemas like the other bodies (``test_provider_paddle_schemas.py``): the
subscription's first transaction, the item change with its proration mode, undoing a
scheduled cancel, the checkout transaction's cancel and the portal session. Each schema
is also shown refusing a body Paddle would answer 400, so the check can fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.providers.paddle import PaddleProvider
from adapters.providers.subscriptions import SubscriptionItem, SubscriptionRequest
from tests.unit.test_provider_paddle_schemas import (
    CUSTOMER,
    KEY,
    PRICE,
    REFS,
    SUB,
    TXN,
    Recorder,
    problems,
    provider,
    recorder,
    sent_bodies,
)

__all__ = ["provider", "recorder"]  # the fixtures this module's tests use

ITEMS = [{"price_id": PRICE, "quantity": 1}]


def test_a_provider_run_subscription_starts_with_a_transaction_paddle_takes(
    provider: PaddleProvider, recorder: Recorder
) -> None:
    items = (SubscriptionItem(PRICE, 3), SubscriptionItem("pri_01gsz8z1q1n00f12qt82y31smh", 1))
    request = SubscriptionRequest(CUSTOMER, items, "eur", KEY, 0, None, REFS)
    made = provider.create_subscription(request)
    [(name, body)] = sent_bodies(recorder)
    assert name == "transaction-create"
    assert problems(name, body) == []
    assert body["currency_code"] == "EUR"
    # The first period is paid on the configured page, not only a default payment link.
    assert body["checkout"] == {"url": "https://shop.example/pay"}
    assert made.checkout_url == f"https://shop.example/pay?_ptxn={TXN}"


@pytest.mark.parametrize("prorate", [True, False])
def test_an_item_change_is_a_subscription_update_paddle_takes(
    provider: PaddleProvider, recorder: Recorder, prorate: bool
) -> None:
    items = (SubscriptionItem(PRICE, 2),)
    provider.change_subscription_items(SUB, items, prorate=prorate, idempotency_key=KEY)
    [(name, body)] = sent_bodies(recorder)
    assert name == "subscription-update"
    assert problems(name, body) == []


def test_undoing_a_scheduled_cancel_is_a_subscription_update_paddle_takes(
    provider: PaddleProvider, recorder: Recorder
) -> None:
    provider.undo_cancel_subscription(SUB, idempotency_key=KEY)
    [(name, body)] = sent_bodies(recorder)
    assert (name, body) == ("subscription-update", {"scheduled_change": None})
    assert problems(name, body) == []


def test_a_checkout_cancel_is_a_transaction_update_paddle_takes(
    provider: PaddleProvider, recorder: Recorder
) -> None:
    provider.cancel_checkout(TXN, KEY)
    [(name, body)] = sent_bodies(recorder)
    assert name == "transaction-update"
    assert problems(name, body) == []


@pytest.mark.parametrize("at_period_end", [True, False])
def test_a_cancel_is_one_paddle_takes(
    provider: PaddleProvider, recorder: Recorder, at_period_end: bool
) -> None:
    provider.cancel_subscription(SUB, at_period_end=at_period_end, idempotency_key=KEY)
    [(name, body)] = sent_bodies(recorder)
    assert name == "subscription-cancel"
    assert problems(name, body) == []


def test_a_portal_session_is_one_paddle_takes(provider: PaddleProvider, recorder: Recorder) -> None:
    session = provider.create_portal_session(CUSTOMER, "https://shop.example/account")
    [(name, body)] = sent_bodies(recorder)
    assert name == "customer-portal-session-create"
    assert problems(name, body) == []
    assert session.url == "https://p"


@pytest.mark.parametrize(
    ("name", "refused", "taken"),
    [
        (
            "subscription-update",
            {"items": ITEMS, "proration_billing_mode": "prorate"},
            {"items": ITEMS, "proration_billing_mode": "do_not_bill"},
        ),
        (
            "subscription-update",
            {"items": [{"price_id": PRICE, "quantity": 0}]},
            {"items": [{"price_id": PRICE, "quantity": 1}]},
        ),
        (
            "subscription-update",
            {"scheduled_change": {"action": "cancel"}},
            {"scheduled_change": None},
        ),
        ("transaction-update", {"status": "voided"}, {"status": "canceled"}),
        ("transaction-update", {"invoice_number": "1"}, {"status": "canceled"}),
        ("customer-portal-session-create", {"return_url": "https://x"}, {}),
        ("subscription-cancel", {"effective_from": "end_of_period"}, {"effective_from": None}),
    ],
)
def test_the_subscription_schemas_refuse_what_paddle_refuses(
    name: str, refused: dict[str, Any], taken: dict[str, Any]
) -> None:
    assert problems(name, refused), f"{name} took {refused}"
    assert problems(name, taken) == []
