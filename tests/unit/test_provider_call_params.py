"""Provider-call params (``domain/provider_call_params.py``): a typed class per operation
writes exactly the dict the handlers stored before it existed, reads back every dict an
older version stored (optional keys absent), and the outbox makes the call from it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from adapters.outbox import call_provider
from adapters.providers.stub import SUCCEEDS, StubProvider, payment_method_for
from domain.provider_call_params import (
    ChargeParams,
    CheckoutLine,
    CheckoutParams,
    CreateCustomerParams,
    RefundParams,
    parse_params,
)
from domain.provider_calls import ProviderCall
from tests.fixtures import history

NOW = datetime(2030, 1, 1, tzinfo=UTC)
U1, U2, U3, U4 = (str(UUID(int=n)) for n in (1, 2, 3, 4))
LINE = {"name": "Pro", "unit_amount": 2900, "currency": "EUR", "quantity": 2}
CHECKOUT = {
    "mode": "item",
    "lines": [LINE],
    "success_url": "https://shop.example/ok",
    "cancel_url": "https://shop.example/no",
    "customer_ref": None,
}
# Each shape a handler stored before the typed params (the operation, then the dict), as
# a run of the provider tests recorded them.
TODAY: list[tuple[str, dict[str, Any]]] = [
    (
        "create_customer",
        {
            "customer_id": U1,
            "email": "ada@example.com",
            "name": "Ada",
            "references": {"tally_project": U2, "tally_customer": U1},
        },
    ),
    # A sale (its transaction), waiting for the customer's create_customer call.
    (
        "checkout",
        {
            **CHECKOUT,
            "customer_id": U1,
            "customer_call": U3,
            "transaction_id": U4,
            "amount_minor": 5800,
            "currency": "EUR",
            "references": {"tally_project": U2, "tally_transaction": U4},
        },
    ),
    # A subscription's trial checkout: no transaction, trial days.
    (
        "checkout",
        {
            **CHECKOUT,
            "mode": "setup",
            "customer_ref": "cus_1",
            "transaction_id": None,
            "amount_minor": 5800,
            "currency": "EUR",
            "trial_days": 14,
            "references": {"tally_project": U2, "tally_subscription": U4},
        },
    ),
    # An invoice's charge (a retry, the second attempt).
    (
        "charge",
        {
            "invoice_id": U4,
            "transaction_id": U3,
            "customer_id": U1,
            "customer_ref": "cus_1",
            "payment_method_ref": "pm_1",
            "amount_minor": 1000,
            "currency": "EUR",
            "description": "invoice INV-1",
            "retry": True,
            "attempt": 2,
            "references": {"tally_invoice": U4, "tally_customer": U1, "tally_charge_call": U2},
        },
    ),
    # A wallet top-up's charge, waiting for its customer.
    (
        "charge",
        {
            "customer_ref": None,
            "customer_id": U1,
            "customer_call": U3,
            "payment_method_ref": "pm_1",
            "amount_minor": 500,
            "currency": "EUR",
            "description": "top-up through stripe",
            "transaction_id": U4,
            "references": {"tally_project": U2, "tally_transaction": U4},
        },
    ),
    # A refund of a charge made before charges had a transaction.
    (
        "refund",
        {
            "payment_ref": "pi_1",
            "amount_minor": 1000,
            "currency": "EUR",
            "reason": "invoice INV-1 was already settled",
            "transaction_id": None,
            "references": {"tally_invoice": U4, "tally_charge_call": U2},
        },
    ),
    # A credit note's refund.
    (
        "refund",
        {
            "payment_ref": "pi_1",
            "amount_minor": 300,
            "currency": "EUR",
            "reason": "credit note CN-1",
            "invoice_id": U4,
            "credit_note": "CN-1",
            "references": {"tally_invoice": U4, "tally_credit_note": "CN-1"},
        },
    ),
]


@pytest.mark.parametrize(("operation", "stored"), TODAY)
def test_params_write_back_the_dict_they_were_read_from(
    operation: str, stored: dict[str, Any]
) -> None:
    params = parse_params(operation, stored)
    assert operation == params.OPERATION
    assert params.to_params() == stored


def test_a_typed_charge_writes_the_stored_shape() -> None:
    params = ChargeParams(
        invoice_id=U4,
        transaction_id=U3,
        customer_id=U1,
        customer_ref="cus_1",
        payment_method_ref="pm_1",
        amount_minor=1000,
        currency="EUR",
        description="invoice INV-1",
        retry=True,
        attempt=2,
        references={"tally_invoice": U4, "tally_customer": U1, "tally_charge_call": U2},
    )
    assert params.to_params() == TODAY[3][1]


def test_a_checkouts_amount_and_currency_come_from_its_lines() -> None:
    params = CheckoutParams(
        mode="cart",
        lines=(CheckoutLine("A", 100, "USD", 3), CheckoutLine("B", 50, "USD", 1)),
        success_url="https://s.example/ok",
        cancel_url="https://s.example/no",
        customer_ref=None,
    )
    stored = params.to_params()
    assert (stored["amount_minor"], stored["currency"]) == (350, "USD")
    assert "trial_days" not in stored
    assert "customer_call" not in stored
    assert stored["transaction_id"] is None


# -- what older versions stored -------------------------------------------------------------


def test_older_calls_with_only_the_keys_the_outbox_needed_still_parse() -> None:
    customer = parse_params("create_customer", {"customer_id": U1})
    assert customer == CreateCustomerParams(customer_id=U1, email=None, name=None)
    checkout = parse_params("checkout", {k: v for k, v in CHECKOUT.items() if k != "customer_ref"})
    assert isinstance(checkout, CheckoutParams)
    assert (checkout.customer_ref, checkout.transaction_id, checkout.trial_days) == (
        None,
        None,
        None,
    )
    assert (checkout.amount_minor, checkout.currency, checkout.references) == (5800, "EUR", {})
    charge = parse_params(
        "charge",
        {"customer_ref": "c", "payment_method_ref": "pm", "amount_minor": 5, "currency": "EUR"},
    )
    assert charge == ChargeParams(
        customer_ref="c", payment_method_ref="pm", amount_minor=5, currency="EUR"
    )
    refund = parse_params("refund", {"payment_ref": "p", "amount_minor": 5, "currency": "EUR"})
    assert refund == RefundParams(payment_ref="p", amount_minor=5, currency="EUR")


def test_a_key_every_version_wrote_is_still_required() -> None:
    with pytest.raises(KeyError):
        parse_params("charge", {"customer_ref": "c", "amount_minor": 5, "currency": "EUR"})


def _recorded(operation: str, params: dict[str, Any]) -> ProviderCall:
    """A call as an older version recorded it: the Requested event with a plain dict."""
    call_id = ProviderCall.create_id(UUID(U2), operation, "old")
    return ProviderCall(
        id=call_id,
        project_id=UUID(U2),
        provider="stub",
        operation=operation,
        subject="old",
        params=params,
        idempotency_key=f"tally:{call_id}:1",
        requested_at=NOW,
    )


def test_the_outbox_makes_a_charge_recorded_by_an_older_version() -> None:
    stub = StubProvider(webhook_secret="s")
    old = {
        "invoice_id": U4,
        "customer_ref": U1,
        "payment_method_ref": payment_method_for(SUCCEEDS),
        "amount_minor": 1000,
        "currency": "EUR",
        "retry": False,
    }
    answer = call_provider(stub, _recorded("charge", old))
    assert answer["status"] == "succeeded"
    assert answer["payment_ref"]


def test_a_waiting_checkout_is_made_with_the_customer_it_was_given() -> None:
    stub = StubProvider(webhook_secret="s")
    call = _recorded("checkout", {**CHECKOUT, "customer_id": U1, "customer_call": U3})
    answer = call_provider(stub, call, customer_ref="cus_9")
    assert answer["customer_ref"] == "cus_9"
    assert answer["url"]


def test_every_call_in_the_recorded_log_parses_and_writes_its_dict_back() -> None:
    """The calls of the log recorded at de9f586 (tests/fixtures/history.json.gz), before
    the params were typed."""
    requested = [
        json.loads(state)
        for _, _, _, topic, state in history.load()["events"]
        if topic == "tally:ProviderCall.Requested"
    ]
    assert {r["operation"] for r in requested} == {
        "create_customer",
        "checkout",
        "charge",
        "refund",
    }
    for recorded in requested:
        params = parse_params(recorded["operation"], recorded["params"])
        assert params.to_params() == recorded["params"]


def test_a_payment_method_call_round_trips_and_names_its_customer_call() -> None:
    from domain.provider_call_params import PaymentMethodParams

    waiting = PaymentMethodParams(
        action="attach",
        payment_method_ref="pm_1",
        customer_ref=None,
        customer_id=U1,
        customer_call=U2,
        references={"tally_customer": U1},
    )
    stored = json.loads(json.dumps(waiting.to_params()))
    assert parse_params("payment_method", stored) == waiting
    call = ProviderCall.request(
        project_id=UUID(U3), provider="stripe", subject="s", params=waiting, now=NOW
    )
    assert call.customer_call == UUID(U2)
    detach = PaymentMethodParams("detach", "pm_1", "cus_1", U1)
    assert "customer_call" not in detach.to_params()
    assert parse_params("payment_method", detach.to_params()) == detach
