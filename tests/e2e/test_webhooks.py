"""Inbound webhooks over HTTP with the stub provider's signing: forged, tampered and stale
deliveries are refused and record nothing; redeliveries and eight concurrent deliveries
of one event have one effect; unknown types are recorded and ignored; an event that
comes before what it needs is parked and applied when it can be."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from adapters.clock import FixedClock
from adapters.providers.stub import SIGNATURE_HEADER, StubProvider
from api.settings import Settings
from tests.e2e.billing import problem
from tests.e2e.conftest import Client, head, nothing_written, serve

BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def stub(api: Client) -> StubProvider:
    provider = api.tally.providers.default
    assert isinstance(provider, StubProvider)
    return provider


def event(event_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "data": data}


def deliver(api: Client, *events: dict[str, Any], project: str | None = None) -> httpx.Response:
    headers, body = stub(api).sign_delivery(list(events))
    path = f"/v1/webhooks/stub/{project or api.project_id}"
    response: httpx.Response = api.http.post(path, content=body, headers=headers)
    return response


def pending_top_up(api: Client, amount: int = 1000) -> tuple[str, str]:
    account = api.open_account("ada")
    body = {"amount": amount, "currency": "EUR", **BACK}
    topped = api.ok(api.post(f"/v1/accounts/{account}/top_ups", body), 201)
    return account, str(topped["transaction"]["id"])


def paid(txn_id: str, event_id: str = "evt_paid", amount: int = 1000) -> dict[str, Any]:
    refs = {"tally_transaction": txn_id}
    return event(
        event_id,
        "payment.succeeded",
        object_ref="pi_1",
        payment_ref="pi_1",
        amount_minor=amount,
        currency="EUR",
        references=refs,
    )


def settle(api: Client, *, retry_parked: bool = False) -> None:
    api.tally.outbox.drain(retry_parked=retry_parked)
    api.position = head(api.tally)


def events(api: Client) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = api.ok(api.get("/v1/webhook_events", limit=100))["data"]
    return data


def test_a_signed_delivery_is_recorded_and_confirms_the_pending_top_up(shop: Client) -> None:
    account, txn_id = pending_top_up(shop)
    answer = shop.ok(deliver(shop, paid(txn_id)))
    assert (answer["recorded"], answer["duplicates"]) == (1, 0)
    assert answer["events"][0]["status"] == "received"  # applied after the answer
    settle(shop)
    assert shop.account(account)["ledger_balance"] == 1000
    [recorded] = events(shop)
    assert recorded["status"] == "applied"
    assert recorded["effects"][0]["action"] == "transaction_completed"


def test_forged_tampered_and_stale_deliveries_answer_400_and_record_nothing(
    shop: Client, clock: FixedClock
) -> None:
    _, txn_id = pending_top_up(shop)
    headers, body = stub(shop).sign_delivery([paid(txn_id)])
    path = f"/v1/webhooks/stub/{shop.project_id}"
    forged = {**headers, SIGNATURE_HEADER: headers[SIGNATURE_HEADER][:-4] + "0000"}
    tampered = body.replace(b"1000", b"9000")
    with nothing_written(shop.tally):
        problem(shop.http.post(path, content=body, headers=forged), 400, "invalid_signature")
        problem(shop.http.post(path, content=tampered, headers=headers), 400, "invalid_signature")
        unsigned = {"Content-Type": "application/json"}
        problem(shop.http.post(path, content=body, headers=unsigned), 400, "invalid_signature")
        clock.advance(timedelta(seconds=301))
        problem(shop.http.post(path, content=body, headers=headers), 400, "invalid_signature")
    assert events(shop) == []


def test_unknown_project_or_another_provider_answers_404_and_records_nothing(
    shop: Client,
) -> None:
    _, txn_id = pending_top_up(shop)
    headers, body = stub(shop).sign_delivery([paid(txn_id)])
    with nothing_written(shop.tally):
        unknown = f"/v1/webhooks/stub/{'0' * 8}-0000-4000-8000-{'0' * 12}"
        problem(shop.http.post(unknown, content=body, headers=headers), 404, "not_found")
        other = f"/v1/webhooks/stripe/{shop.project_id}"
        problem(shop.http.post(other, content=body, headers=headers), 404, "not_found")


def test_a_redelivered_event_is_a_duplicate_with_one_effect(shop: Client) -> None:
    account, txn_id = pending_top_up(shop)
    first = shop.ok(deliver(shop, paid(txn_id)))
    settle(shop)
    again = shop.ok(deliver(shop, paid(txn_id)))
    assert (first["recorded"], again["recorded"], again["duplicates"]) == (1, 0, 1)
    assert again["events"][0]["status"] == "applied"
    settle(shop)
    assert shop.account(account)["ledger_balance"] == 1000
    assert len(events(shop)) == 1


def test_eight_concurrent_deliveries_of_one_event_record_it_once(shop: Client) -> None:
    account, txn_id = pending_top_up(shop)
    headers, body = stub(shop).sign_delivery([paid(txn_id, "evt_race")])
    path = f"/v1/webhooks/stub/{shop.project_id}"
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: shop.http.post(path, content=body, headers=headers), range(8))
        )
    assert [a.status_code for a in answers] == [200] * 8
    assert sum(a.json()["recorded"] for a in answers) == 1
    assert sum(a.json()["duplicates"] for a in answers) == 7
    settle(shop)
    assert shop.account(account)["ledger_balance"] == 1000
    [only] = events(shop)
    assert only["event_id"] == "evt_race"


def test_text_no_read_model_can_store_is_replaced_before_it_is_recorded(shop: Client) -> None:
    # A provider's payload is outside text. A NUL or a lone surrogate in it was recorded
    # as it was, and then no read model could store the event (Postgres cannot hold
    # either): one delivery stopped them all. Each becomes U+FFFD instead.
    account, txn_id = pending_top_up(shop)
    nul = paid(txn_id, "evt_nul")
    nul["data"]["failure_reason"] = "a\x00b"
    nul["data"]["references"]["tally_note\x00"] = "\ud800"
    nul["note"] = ["\x00", {"deep\x00": "\udfff"}]
    shop.ok(deliver(shop, nul))
    settle(shop)
    [recorded] = events(shop)
    assert (recorded["event_id"], recorded["status"]) == ("evt_nul", "applied")
    assert recorded["references"]["tally_note\ufffd"] == "\ufffd"
    assert shop.account(account)["ledger_balance"] == 1000


def test_numbers_no_read_model_can_store_are_replaced_before_they_are_recorded(
    shop: Client,
) -> None:
    # Python's json reads NaN, Infinity and 1e400 (as inf) in a signed payload; written
    # back they are "NaN" and "Infinity", which Postgres jsonb refuses, so the payments
    # read model could not store the event. Each becomes its text instead; a huge
    # integer (jsonb's numeric holds it) stays as it is.
    account, txn_id = pending_top_up(shop)
    odd = paid(txn_id, "evt_nan")
    odd["note"] = [float("nan"), {"far": float("inf")}, -float("inf"), 10**25]
    shop.ok(deliver(shop, odd))
    settle(shop)
    [recorded] = events(shop)
    assert (recorded["event_id"], recorded["status"]) == ("evt_nan", "applied")
    assert shop.account(account)["ledger_balance"] == 1000


def test_unknown_types_are_recorded_and_ignored(shop: Client) -> None:
    before = head(shop.tally)
    shop.ok(deliver(shop, event("evt_odd", "payout.paid", object_ref="po_1")))
    settle(shop)
    [odd] = events(shop)
    assert (odd["type"], odd["provider_type"], odd["status"]) == (
        "unknown",
        "payout.paid",
        "ignored",
    )
    assert "changes nothing" in odd["reason"]
    assert head(shop.tally) > before  # recorded (for audit), then marked ignored


def test_a_refund_before_its_payment_is_parked_then_applied(shop: Client) -> None:
    account, txn_id = pending_top_up(shop)
    refs = {"tally_transaction": txn_id}
    refund = event(
        "evt_refund",
        "refund.succeeded",
        object_ref="re_1",
        amount_minor=400,
        currency="EUR",
        references=refs,
    )
    shop.ok(deliver(shop, refund))
    settle(shop)
    [parked] = events(shop)
    assert (parked["status"], parked["attempts"]) == ("parked", 1)
    assert "not yet paid" in parked["reason"]
    settle(shop, retry_parked=True)  # an early try that still cannot apply costs nothing
    assert events(shop)[0]["attempts"] == 1

    shop.ok(deliver(shop, paid(txn_id)))
    settle(shop)  # the payment applies, and parked events are retried at once after it
    statuses = {e["event_id"]: e["status"] for e in events(shop)}
    assert statuses == {"evt_refund": "applied", "evt_paid": "applied"}
    txn = shop.ok(shop.get(f"/v1/transactions/{txn_id}"))
    assert (txn["state"], txn["reversed_amount"]) == ("reversed", 400)
    assert shop.account(account)["ledger_balance"] == 600


def failed(txn_id: str) -> dict[str, Any]:
    return event(
        "evt_failed",
        "payment.failed",
        object_ref="pi_1",
        failure_reason="declined",
        references={"tally_transaction": txn_id},
    )


def test_a_failed_attempt_on_the_hosted_page_leaves_the_payment_after_it_to_settle(
    shop: Client,
) -> None:
    # The customer is still on the checkout page after a decline and pays with another
    # card: the failure is one attempt, the payment completes the top-up.
    account, txn_id = pending_top_up(shop)
    shop.ok(deliver(shop, failed(txn_id), paid(txn_id)))
    settle(shop)
    recorded = {e["event_id"]: e for e in events(shop)}
    assert {k: e["status"] for k, e in recorded.items()} == {
        "evt_failed": "applied",
        "evt_paid": "applied",
    }
    assert recorded["evt_failed"]["effects"][0]["action"] == "checkout_attempt_failed"
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "completed"
    assert shop.account(account)["ledger_balance"] == 1000


def test_an_invoice_payment_before_the_invoice_is_final_waits_for_it(shop: Client) -> None:
    from commands import messages as m
    from commands.bus import Context
    from tests.e2e.billing import customer, plan

    context = Context(shop.project_id, "test")
    shop.tally.execute(m.ConfigureBilling(finalize_delay_s=3600), context)
    price_id = plan(shop, "PRO", 2900)
    body = {"customer_id": customer(shop, "ada"), "items": [{"price_id": price_id}], **BACK}
    started = shop.ok(shop.post("/v1/checkout/subscription", body), 201)
    invoice_id = started["invoice"]["id"]
    assert started["invoice"]["status"] == "draft"
    refs = {
        "tally_invoice": invoice_id,
        "tally_subscription": started["subscription"]["id"],
    }
    early = event(
        "evt_invoice_paid",
        "invoice.paid",
        object_ref="in_1",
        amount_minor=2900,
        currency="EUR",
        references=refs,
    )
    shop.ok(deliver(shop, early))
    settle(shop)
    [parked] = events(shop)
    assert parked["status"] == "parked"
    assert "not finalized" in parked["reason"]

    shop.tally.execute(m.FinalizeInvoice(invoice_id=invoice_id), context)
    settle(shop, retry_parked=True)
    [applied] = events(shop)
    assert applied["status"] == "applied"
    invoice: Any = shop.tally.store.repository.get(UUID(invoice_id))
    assert (invoice.status, invoice.amount_paid) == ("paid", 2900)
    sub = shop.ok(shop.get(f"/v1/subscriptions/{started['subscription']['id']}"))
    assert sub["status"] == "active"


def test_concurrent_processors_apply_an_event_once(shop: Client) -> None:
    account, txn_id = pending_top_up(shop)
    answer = shop.ok(deliver(shop, paid(txn_id)))
    event_id = UUID(answer["events"][0]["id"])
    outbox = shop.tally.outbox
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: outbox.apply_event(shop.project_id, event_id), range(8)))
    assert {r["status"] for r in results} == {"applied"}
    shop.position = head(shop.tally)
    assert shop.account(account)["ledger_balance"] == 1000
    entries = shop.ok(shop.get(f"/v1/accounts/{account}/entries"))["data"]
    assert len(entries) == 1


def test_a_payment_of_another_amount_does_not_confirm_the_top_up(shop: Client) -> None:
    account, txn_id = pending_top_up(shop, amount=1000)
    shop.ok(deliver(shop, paid(txn_id, "evt_short", amount=10)))
    settle(shop)
    [short] = events(shop)
    assert short["status"] == "parked"
    assert "reports 10" in short["reason"]
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "processing"
    assert shop.account(account)["ledger_balance"] == 0
