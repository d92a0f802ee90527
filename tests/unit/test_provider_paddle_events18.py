"""Paddle's payment, subscription and refund notifications that Tally used to record as
unknown (issue 18, items 10 and 12), in the shape of Paddle's documented examples
(``adjustment.updated``, ``transaction.paid``, ``subscription.past_due``), signed as
Paddle signs them."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from adapters.clock import FixedClock
from adapters.providers.paddle import PaddleProvider
from commands.provider_events import EventType
from tests.paddle_openapi import checked_transport
from tests.unit.test_provider_paddle_webhooks import (
    NOW,
    SECRET,
    SUBSCRIPTION_CREATED,
    TRANSACTION_COMPLETED,
    parse,
    variant,
)

CALL = "6f1c0b9e-3a43-4c1e-9a55-0d7e1f0e2b11"

# Paddle's adjustment.updated example (its "Refund approved" simulation), with the
# reason Tally writes: the refund's idempotency key at the end.
ADJUSTMENT_UPDATED: dict[str, Any] = {
    "event_id": "evt_01hvgf2sdjyh7sv3mq5bff1d3t",
    "event_type": "adjustment.updated",
    "occurred_at": "2024-04-15T08:49:04.140311Z",
    "notification_id": "ntf_01hvgf2sj3jyq1yb8fbkv5x4zd",
    "data": {
        "id": "adj_01hvgf2s84dr6reszzg29zbvcm",
        "action": "refund",
        "transaction_id": "txn_01hvcc93znj3mpqt1tenkjb04y",
        "subscription_id": "sub_01hvccbx32q2gb40sqx7n42430",
        "customer_id": "ctm_01hrffh7gvp29kc7xahm8wddwa",
        "reason": f"broken on arrival [tally:{CALL}:1]",
        "credit_applied_to_balance": None,
        "currency_code": "USD",
        "status": "approved",
        "items": [
            {
                "id": "adjitm_01hvgf2s84dr6reszzg2gx70gj",
                "item_id": "txnitm_01hvcc94b7qgz60qmrqmbm19zw",
                "type": "partial",
                "amount": "100",
                "proration": None,
                "totals": {"subtotal": "92", "tax": "8", "total": "100"},
            }
        ],
        "totals": {
            "subtotal": "92",
            "tax": "8",
            "total": "100",
            "fee": "5",
            "earnings": "87",
            "currency_code": "USD",
        },
        "created_at": "2024-04-15T08:48:20.239695Z",
        "updated_at": "2024-04-15T08:49:04.13952Z",
    },
}


@pytest.fixture
def provider() -> PaddleProvider:
    return PaddleProvider(
        api_key="pdl_unit_key",
        webhook_secret=SECRET,
        api_base="http://127.0.0.1:9",
        clock=FixedClock(NOW),
    )


def adjustment(event_type: str = "adjustment.updated", **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(ADJUSTMENT_UPDATED)
    payload["event_type"] = event_type
    payload["data"].update(changes)
    return payload


def test_an_approved_refund_is_a_refund_naming_its_call_payment_and_amount(
    provider: PaddleProvider,
) -> None:
    event = parse(provider, adjustment())
    assert event.type is EventType.REFUND_SUCCEEDED
    assert event.object_ref == "adj_01hvgf2s84dr6reszzg29zbvcm"
    assert event.payment_ref == "txn_01hvcc93znj3mpqt1tenkjb04y"
    assert (event.amount_minor, event.currency) == (100, "USD")
    assert event.references == {"tally_refund_call": CALL}


def test_a_refund_created_approved_is_a_refund_too(provider: PaddleProvider) -> None:
    assert parse(provider, adjustment("adjustment.created")).type is EventType.REFUND_SUCCEEDED


def test_a_rejected_refund_is_a_failed_refund(provider: PaddleProvider) -> None:
    event = parse(provider, adjustment(status="rejected"))
    assert event.type is EventType.REFUND_FAILED
    assert event.references == {"tally_refund_call": CALL}


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "pending_approval"},  # nothing decided yet
        {"action": "credit"},  # not a refund
        {"action": "chargeback", "status": "approved"},
    ],
)
def test_adjustments_that_are_not_a_decided_refund_change_nothing(
    provider: PaddleProvider,
    changes: dict[str, Any],
) -> None:
    assert parse(provider, adjustment("adjustment.created", **changes)).type is EventType.UNKNOWN


def dashboard_paddle(transaction_status: int) -> PaddleProvider:
    """A Paddle that shows the refunded transaction (made by a Tally checkout) and its
    refunds: another approved one, one in review."""
    refunds = [
        {"id": "adj_01hvgf2s84dr6reszzg29zbv01", "status": "approved", "totals": {"total": "250"}},
        {"id": "adj_01hvgf2s84dr6reszzg29zbv02", "status": "pending_approval", "totals": {}},
        {"id": "adj_01hvgf2s84dr6reszzg29zbvcm", "status": "approved", "totals": {"total": "100"}},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/adjustments":
            return httpx.Response(200, json={"data": refunds, "meta": {}})
        made = {"id": "txn_01hvcc93znj3mpqt1tenkjb04y", "custom_data": {"tally_transaction": "t-1"}}
        return httpx.Response(transaction_status, json={"data": made})

    return PaddleProvider(
        api_key="pdl_unit_key",
        webhook_secret=SECRET,
        clock=FixedClock(NOW),
        transport=checked_transport(answer),
    )


def test_a_dashboard_refund_takes_its_transactions_references_and_paddles_total() -> None:
    provider = dashboard_paddle(200)
    event = parse(provider, adjustment(reason="refunded from the dashboard [tally:x:1]"))
    assert event.references == {"tally_transaction": "t-1"}  # and names no Tally call
    assert (event.amount_minor, event.refunded_total_minor) == (100, 350)


def test_a_dashboard_refund_of_a_transaction_paddle_does_not_show_names_nothing() -> None:
    event = parse(dashboard_paddle(404), adjustment(reason="from the dashboard"))
    assert (event.references, event.refunded_total_minor) == ({}, None)


def test_transaction_paid_is_a_payment_success_like_completed(
    provider: PaddleProvider,
) -> None:
    payload = copy.deepcopy(TRANSACTION_COMPLETED)
    payload["event_type"] = "transaction.paid"
    payload["data"]["status"] = "paid"
    event = parse(provider, payload)
    assert event.type is EventType.PAYMENT_SUCCEEDED
    assert (event.payment_ref, event.amount_minor) == ("txn_01hv8wptq8987qeep44cyrewp9", 65215)


@pytest.mark.parametrize(
    ("paddle_type", "status"),
    [("subscription.past_due", "past_due"), ("subscription.activated", "active")],
)
def test_past_due_and_activated_subscriptions_are_mirrored_as_updates(
    provider: PaddleProvider,
    paddle_type: str,
    status: str,
) -> None:
    event = parse(provider, variant(SUBSCRIPTION_CREATED, paddle_type, status, status=status))
    assert event.type is EventType.SUBSCRIPTION_UPDATED
    assert (event.subscription_ref, event.status) == ("sub_01hv8x29kz0t586xy6zn1a62ny", status)


def test_a_saved_method_charge_names_tallys_objects_from_its_price_and_no_subscription_bill(
    provider: PaddleProvider,
) -> None:
    # A subscription charge keeps Tally's references on its price; the transaction's
    # custom_data is the subscription's (Paddle copies it). The event used to name only
    # the latter, and its subscription_ref made it a bill of the subscription, mirrored
    # as a second paid invoice of a provider-run subscription.
    payload = copy.deepcopy(TRANSACTION_COMPLETED)
    charge_refs = {"tally_invoice": "i-1", "tally_charge_call": "c-1", "tally_customer": "u-1"}
    payload["data"].update(
        origin="subscription_charge",
        subscription_id="sub_01hv8x29kz0t586xy6zn1a62ny",
        custom_data={"tally_subscription": "s-1", "tally_customer": "u-0"},
        items=[{"price": {"name": "Invoice 7", "custom_data": charge_refs}, "quantity": 1}],
    )
    event = parse(provider, payload)
    assert event.type is EventType.PAYMENT_SUCCEEDED
    assert event.references == {**charge_refs, "tally_subscription": "s-1"}
    assert event.subscription_ref is None
    payload["data"]["origin"] = "subscription_recurring"  # the subscription's own bill
    assert parse(provider, payload).subscription_ref == "sub_01hv8x29kz0t586xy6zn1a62ny"
