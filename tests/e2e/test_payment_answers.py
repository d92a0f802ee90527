"""What a provider payment answers, once the charge it asked for was made: the invoice,
the attempt and the subscription as they stand after the charge, for a charge that
succeeds, is declined, finds the provider down or is still processing, and for a due
retry. The answer agrees with what the reads say afterwards, and keeps its keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.stub import DECLINED, SUCCEEDS, StubProvider
from api.settings import Settings
from tests.e2e.billing import card, customer, plan, problem, subscribe
from tests.e2e.conftest import Client, serve
from tests.e2e.invoicing import act
from tests.e2e.test_invoice_charges import Processing, open_invoice
from tests.e2e.test_outbox import outage

# The keys the answer's invoice has: the invoice's summary and when it was created.
INVOICE_KEYS = {
    "id",
    "object",
    "number",
    "status",
    "customer_id",
    "subscription_id",
    "currency",
    "description",
    "period_start",
    "period_end",
    "lines",
    "tax_rates",
    "coupon",
    "subtotal",
    "discount",
    "tax",
    "tax_by_rate",
    "total",
    "credit_applied",
    "credit_granted",
    "amount_due",
    "amount_paid",
    "amount_credited",
    "amount_refunded",
    "amount_remaining",
    "payments",
    "credit_notes",
    "attempt_count",
    "next_payment_attempt_at",
    "dunning",
    "finalize_at",
    "finalized_at",
    "paid_at",
    "voided_at",
    "marked_uncollectible_at",
    "version",
    "created",
}
ATTEMPT_KEYS = {
    "status",
    "succeeded",
    "attempt",
    "amount",
    "provider",
    "provider_call_id",
    "reference",
    "failure_reason",
    "step",
}


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    # No outbox thread: the route's own call is the only one made.
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def _agrees(answer: Any, read: Any, where: str = "") -> None:
    """Every key of ``answer`` (nested) has the value ``read`` has there."""
    if isinstance(answer, dict):
        assert isinstance(read, dict), where
        for key, value in answer.items():
            _agrees(value, read.get(key), f"{where}.{key}")
    elif isinstance(answer, list):
        assert isinstance(read, list), where
        assert len(read) == len(answer), where
        for n, (mine, theirs) in enumerate(zip(answer, read, strict=True)):
            _agrees(mine, theirs, f"{where}[{n}]")
    else:
        assert answer == read, where


def _pay(api: Client, invoice_id: str) -> dict[str, Any]:
    paid: dict[str, Any] = act(api, invoice_id, "pay", {"method": "provider"})
    assert set(paid) == {"invoice", "payment_attempt", "subscription"}
    assert set(paid["invoice"]) == INVOICE_KEYS
    assert set(paid["payment_attempt"]) == ATTEMPT_KEYS
    _agrees(paid["invoice"], api.ok(api.get(f"/v1/invoices/{invoice_id}")))
    call_id = paid["payment_attempt"]["provider_call_id"]
    call = api.ok(api.get(f"/v1/provider_calls/{call_id}"))
    assert (call["amount"], call["payment_ref"]) == (
        paid["payment_attempt"]["amount"],
        paid["payment_attempt"]["reference"],
    )
    return paid


def test_a_charge_that_succeeds_answers_the_paid_invoice_and_its_subscription(
    shop: Client,
) -> None:
    buyer = customer(shop, "ada")
    sub = subscribe(shop, buyer, plan(shop, "PRO", 2900))
    card(shop, buyer, SUCCEEDS)
    paid = _pay(shop, sub["latest_invoice"]["id"])
    attempt = paid["payment_attempt"]
    assert (attempt["status"], attempt["succeeded"], attempt["step"]) == (
        "succeeded",
        True,
        "succeeded",
    )
    assert (attempt["attempt"], attempt["amount"], attempt["provider"]) == (1, 2900, "stub")
    assert attempt["reference"].startswith("stub_pi_")
    assert (paid["invoice"]["status"], paid["invoice"]["amount_paid"]) == ("paid", 2900)
    assert paid["invoice"]["payments"][0]["reference"] == attempt["reference"]
    subscription = paid["subscription"]
    assert (subscription["id"], subscription["status"]) == (sub["id"], "active")
    read = shop.ok(shop.get(f"/v1/subscriptions/{sub['id']}"))
    _agrees({k: v for k, v in subscription.items() if k != "created"}, read)
    assert subscription["created"] == read["created"]


def test_a_declined_charge_answers_the_invoice_in_dunning(shop: Client) -> None:
    buyer = customer(shop, "bob")
    card(shop, buyer, DECLINED)
    paid = _pay(shop, open_invoice(shop, buyer, 800))
    attempt = paid["payment_attempt"]
    assert (attempt["status"], attempt["succeeded"], attempt["step"]) == (
        "failed",
        False,
        "failed",
    )
    assert attempt["failure_reason"] == "card_declined"
    invoice = paid["invoice"]
    assert (invoice["status"], invoice["attempt_count"]) == ("open", 1)
    assert invoice["next_payment_attempt_at"] is not None
    assert (invoice["dunning"]["state"], invoice["dunning"]["last_payment_failure"]) == (
        "collecting",
        "card_declined",
    )
    assert paid["subscription"] is None


def test_a_charge_while_the_provider_is_down_answers_it_pending(shop: Client) -> None:
    outage(shop, down=1)
    buyer = customer(shop, "cy")
    card(shop, buyer, SUCCEEDS)
    paid = _pay(shop, open_invoice(shop, buyer, 600))
    attempt = paid["payment_attempt"]
    assert (attempt["status"], attempt["succeeded"], attempt["step"]) == (
        "pending",
        None,
        "charge_requested",
    )
    assert attempt["failure_reason"] == "provider_unavailable"
    assert (paid["invoice"]["status"], paid["invoice"]["attempt_count"]) == ("open", 0)


def test_a_charge_still_processing_answers_it_processing(shop: Client) -> None:
    inner = shop.tally.providers.default
    assert isinstance(inner, StubProvider)
    shop.tally.providers.overrides[shop.project_id] = Processing(inner)
    buyer = customer(shop, "dee")
    card(shop, buyer, SUCCEEDS)
    paid = _pay(shop, open_invoice(shop, buyer, 1200))
    attempt = paid["payment_attempt"]
    assert (attempt["status"], attempt["succeeded"], attempt["reference"]) == (
        "processing",
        None,
        "pi_later",
    )
    assert paid["invoice"]["status"] == "open"


def test_a_due_retry_answers_its_charge(shop: Client, clock: FixedClock) -> None:
    buyer = customer(shop, "eve")
    card(shop, buyer, DECLINED)
    invoice_id = open_invoice(shop, buyer, 500)
    declined = _pay(shop, invoice_id)
    assert act(shop, invoice_id, "retry_payment")["payment_attempt"] is None  # not yet due
    card(shop, buyer, SUCCEEDS)
    clock.advance(timedelta(days=30))
    retried = act(shop, invoice_id, "retry_payment")
    attempt = retried["payment_attempt"]
    assert set(attempt) == ATTEMPT_KEYS
    assert (attempt["status"], attempt["attempt"]) == ("succeeded", 2)
    assert attempt["provider_call_id"] != declined["payment_attempt"]["provider_call_id"]
    assert (retried["invoice"]["status"], retried["invoice"]["attempt_count"]) == ("paid", 1)
    assert set(retried["invoice"]) == INVOICE_KEYS
    _agrees(retried["invoice"], shop.ok(shop.get(f"/v1/invoices/{invoice_id}")))


def test_read_models_behind_the_charge_answer_503_and_the_same_request_answers_later(
    settings: Settings, clock: FixedClock
) -> None:
    from projections.runner import ProjectionWorker

    quiet = {"run_projections": False, "run_outbox": False, "read_wait_max_ms": 50}
    with serve(settings.model_copy(update=quiet), clock) as shop:
        buyer = customer(shop, "fay")
        card(shop, buyer, SUCCEEDS)
        invoice_id = open_invoice(shop, buyer, 400)
        path = f"/v1/invoices/{invoice_id}/pay"
        behind = shop.post(path, {"method": "provider"}, key="pay-1")
        assert problem(behind, 503, "read_model_behind")["position"] > 0
        assert behind.headers["Retry-After"] == "1"
        ProjectionWorker(shop.tally.store, shop.tally.views, shop.tally.schema).catch_up()
        again = shop.ok(shop.post(path, {"method": "provider"}, key="pay-1"))
        assert again["payment_attempt"]["status"] == "succeeded"
        assert (again["invoice"]["status"], again["invoice"]["amount_paid"]) == ("paid", 400)
