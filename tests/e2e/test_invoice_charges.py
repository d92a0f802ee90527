"""Invoice charges through the provider, over HTTP: the command records the charge, the
outbox makes it after the commit, and the provider's answer or its webhook settles it,
whichever comes first, once. A provider outage leaves the invoice open with the charge
pending and retried; a charge that lands after the invoice was settled another way is
given back; a provider's own failed invoice payment goes to dunning once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.base import ChargeOutcome, ChargeRequest
from adapters.providers.stub import DECLINED, SUCCEEDS, StubProvider
from api.settings import Settings
from tests.e2e.billing import card, customer, plan
from tests.e2e.conftest import Client, head, serve
from tests.e2e.invoicing import act, draft, line
from tests.e2e.test_outbox import outage
from tests.e2e.test_webhooks import deliver, event, events


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    # No outbox thread: each test makes the calls itself, so every step is deterministic.
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def settle(api: Client, *, retry_parked: bool = False) -> None:
    api.tally.outbox.drain(retry_parked=retry_parked)
    api.position = head(api.tally)


def open_invoice(api: Client, buyer: str, amount: int = 1000) -> str:
    invoice = draft(api, buyer, line("Work", amount))
    act(api, invoice["id"], "finalize")
    return str(invoice["id"])


def invoice(api: Client, invoice_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(api.get(f"/v1/invoices/{invoice_id}"))
    return found


def test_a_charge_during_an_outage_stays_pending_then_pays_once(
    shop: Client, clock: FixedClock
) -> None:
    provider = outage(shop, down=2)
    buyer = customer(shop, "ada")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer)
    paid = act(shop, invoice_id, "pay", {"method": "provider"})
    attempt = paid["payment_attempt"]
    assert (attempt["status"], attempt["succeeded"]) == ("pending", None)
    assert paid["invoice"]["status"] == "open"
    call = shop.ok(shop.get(f"/v1/provider_calls/{attempt['provider_call_id']}"))
    assert (call["state"], call["error_code"]) == ("pending", "provider_unavailable")
    # Asking again while the charge is in flight finds the same call: no second charge.
    again = act(shop, invoice_id, "pay", {"method": "provider"})
    assert again["payment_attempt"]["provider_call_id"] == attempt["provider_call_id"]
    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        settle(shop)
    assert invoice(shop, invoice_id)["status"] == "paid"
    assert invoice(shop, invoice_id)["attempt_count"] == 0
    # The payment is a ledger Transaction: processing while the provider was down,
    # completed with the payment's entry when it answered.
    call = shop.ok(shop.get(f"/v1/provider_calls/{attempt['provider_call_id']}"))
    txn = shop.ok(shop.get(f"/v1/transactions/{call['transaction_id']}"))
    assert (txn["state"], txn["amount"], txn["kind"]) == ("completed", 1000, "deposit")
    assert (txn["from"], txn["to"]) == ("clearing:stub", f"receivable:{buyer}")
    assert len(set(provider.keys)) == 1  # every try asked with the same idempotency key
    assert len(provider.charged) == 1


def test_a_webhook_that_reports_the_charge_first_settles_it_and_the_answer_changes_nothing(
    shop: Client,
) -> None:
    outage(shop, down=1)  # the outbox's first try fails: the webhook gets there first
    buyer = customer(shop, "bob")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer, 1500)
    attempt = act(shop, invoice_id, "pay", {"method": "provider"})["payment_attempt"]
    call_id = attempt["provider_call_id"]
    refs = {"tally_invoice": invoice_id, "tally_charge_call": call_id}
    succeeded = event(
        "evt_pi_ok",
        "payment.succeeded",
        object_ref="pi_77",
        payment_ref="pi_77",
        amount_minor=1500,
        currency="EUR",
        references=refs,
    )
    shop.ok(deliver(shop, succeeded))
    shop.ok(deliver(shop, succeeded))  # a redelivery is a duplicate
    settle(shop)
    found = invoice(shop, invoice_id)
    assert (found["status"], found["amount_paid"]) == ("paid", 1500)
    call = shop.ok(shop.get(f"/v1/provider_calls/{call_id}"))
    assert (call["state"], call["payment_ref"]) == ("succeeded", "pi_77")
    books = {r["account"]: r["balance"] for r in shop.ok(shop.get("/v1/system_accounts"))["data"]}
    assert books["clearing:stub"] == -1500  # one payment, through the provider's clearing
    assert [e["status"] for e in events(shop)] == ["applied"]


def test_a_charge_that_lands_after_the_invoice_was_paid_otherwise_is_refunded(
    shop: Client, clock: FixedClock
) -> None:
    outage(shop, down=1)
    buyer = customer(shop, "cy")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer, 700)
    attempt = act(shop, invoice_id, "pay", {"method": "provider"})["payment_attempt"]
    assert attempt["status"] == "pending"
    body = {"method": "out_of_band", "reference": "bank transfer 9"}
    assert act(shop, invoice_id, "pay", body)["invoice"]["status"] == "paid"
    clock.advance(timedelta(minutes=1))
    settle(shop)  # the provider is back: the charge succeeds, and is given back
    charge = shop.ok(shop.get(f"/v1/provider_calls/{attempt['provider_call_id']}"))
    assert charge["state"] == "succeeded"
    subject = f"overpayment:{attempt['provider_call_id']}"
    refunds = shop.ok(shop.get("/v1/provider_calls", subject=subject))["data"]
    assert [(r["operation"], r["state"], r["amount"]) for r in refunds] == [
        ("refund", "succeeded", 700)
    ]
    found = invoice(shop, invoice_id)
    assert (found["status"], found["amount_paid"]) == ("paid", 700)
    # The charge's transaction came in and went back: the provider's clearing is even.
    charged = shop.ok(shop.get(f"/v1/transactions/{charge['transaction_id']}"))
    assert (charged["state"], charged["reversed_amount"]) == ("reversed", 700)
    books = {r["account"]: r["balance"] for r in shop.ok(shop.get("/v1/system_accounts"))["data"]}
    assert books.get("clearing:stub", 0) == 0
    assert books[f"receivable:{buyer}"] == 0


def test_a_customer_without_a_payment_method_fails_the_attempt_into_dunning(
    shop: Client,
) -> None:
    buyer = customer(shop, "dee")
    invoice_id = open_invoice(shop, buyer, 900)
    paid = act(shop, invoice_id, "pay", {"method": "provider"})
    attempt = paid["payment_attempt"]
    assert (attempt["status"], attempt["failure_reason"]) == ("failed", "no_payment_method")
    assert attempt["provider_call_id"] is None  # nothing to ask the provider
    assert (paid["invoice"]["status"], paid["invoice"]["attempt_count"]) == ("open", 1)
    assert shop.ok(shop.get("/v1/provider_calls"))["data"] == []


def test_a_providers_failed_invoice_payment_goes_to_dunning_once(shop: Client) -> None:
    price_id = plan(shop, "PRO", 2900)
    buyer = customer(shop, "eve")
    card(shop, buyer, SUCCEEDS)
    body = {"customer_id": buyer, "items": [{"price_id": price_id}]}
    started = shop.ok(shop.post("/v1/subscriptions", body), 201)
    sub_id = started["id"]
    invoice_id = started["latest_invoice"]["id"]
    refs = {"tally_invoice": invoice_id, "tally_subscription": sub_id}
    failed = event(
        "evt_in_failed",
        "invoice.payment_failed",
        object_ref="in_9",
        failure_reason="card_declined",
        references=refs,
    )
    # The payment's own event about the same attempt must not count it a second time.
    intent_failed = event(
        "evt_pi_failed",
        "payment.failed",
        object_ref="pi_9",
        failure_reason="card_declined",
        references=refs,
    )
    shop.ok(deliver(shop, failed, intent_failed))
    shop.ok(deliver(shop, failed))
    settle(shop)
    found = invoice(shop, invoice_id)
    assert (found["status"], found["attempt_count"]) == ("open", 1)
    assert found["next_payment_attempt_at"] is not None
    assert shop.ok(shop.get(f"/v1/subscriptions/{sub_id}"))["status"] == "past_due"
    assert sorted(e["status"] for e in events(shop)) == ["applied", "ignored"]


def test_a_declined_charge_reported_by_webhook_fails_the_call_into_dunning(
    shop: Client,
) -> None:
    outage(shop, down=1)
    buyer = customer(shop, "fay")
    card(shop, buyer, DECLINED)
    invoice_id = open_invoice(shop, buyer, 500)
    call_id = act(shop, invoice_id, "pay", {"method": "provider"})["payment_attempt"][
        "provider_call_id"
    ]
    refs = {"tally_invoice": invoice_id, "tally_charge_call": call_id}
    declined = event(
        "evt_pi_declined",
        "payment.failed",
        object_ref="pi_5",
        failure_reason="card_declined",
        references=refs,
    )
    shop.ok(deliver(shop, declined))
    settle(shop)
    call = shop.ok(shop.get(f"/v1/provider_calls/{call_id}"))
    assert (call["state"], call["error_code"]) == ("failed", "card_declined")
    found = invoice(shop, invoice_id)
    assert (found["status"], found["attempt_count"]) == ("open", 1)  # counted once
    txn = shop.ok(shop.get(f"/v1/transactions/{call['transaction_id']}"))
    assert (txn["state"], txn["failure_reason"]) == ("failed", "card_declined")


class Processing:
    """The stub as a provider that takes a charge but confirms it only by webhook."""

    def __init__(self, inner: StubProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.manages_subscriptions = inner.manages_subscriptions

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        return ChargeOutcome(
            self.name, "pi_later", "processing", request.amount_minor, request.currency
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_charge_still_processing_is_settled_by_its_webhook_once(shop: Client) -> None:
    inner = shop.tally.providers.default
    assert isinstance(inner, StubProvider)
    shop.tally.providers.overrides[shop.project_id] = Processing(inner)
    buyer = customer(shop, "gus")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer, 1200)
    attempt = act(shop, invoice_id, "pay", {"method": "provider"})["payment_attempt"]
    assert (attempt["status"], attempt["succeeded"]) == ("processing", None)
    assert invoice(shop, invoice_id)["status"] == "open"
    refs = {"tally_invoice": invoice_id, "tally_charge_call": attempt["provider_call_id"]}
    confirmed = event(
        "evt_confirmed",
        "payment.succeeded",
        object_ref="pi_later",
        payment_ref="pi_later",
        amount_minor=1200,
        currency="EUR",
        references=refs,
    )
    also = event(
        "evt_invoice_paid",
        "invoice.paid",
        object_ref="in_later",
        payment_ref="pi_later",
        amount_minor=1200,
        currency="EUR",
        references=refs,
    )
    shop.ok(deliver(shop, confirmed, also))
    settle(shop)
    found = invoice(shop, invoice_id)
    assert (found["status"], found["amount_paid"]) == ("paid", 1200)
    books = {r["account"]: r["balance"] for r in shop.ok(shop.get("/v1/system_accounts"))["data"]}
    assert books["clearing:stub"] == -1200
