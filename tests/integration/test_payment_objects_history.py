"""The payment objects of a log recorded before they existed
(``tests/fixtures/history.json.gz``): every provider charge is one payment with its
call's id and outcome, every payment an invoice recorded is one payment (a charge's
record is that charge, not a second payment), and what they add up to is what the
invoices say was paid and refunded."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from api.bootstrap import Tally
from projections.paging import fetch_all
from projections.runner import ProjectionWorker
from projections.schema import table
from tests.fixtures.history import insert_recorded, load


def rows(tally: Tally, name: str) -> list[dict[str, Any]]:
    return fetch_all(tally.views, sql.SQL("SELECT * FROM {}").format(table(tally.schema, name)), [])


def test_a_recorded_log_gives_one_payment_per_charge_and_per_invoice_payment(
    tally: Tally,
) -> None:
    insert_recorded(tally, load()["events"])
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=50).catch_up()
    payments = {p["id"]: p for p in rows(tally, "payment_objects")}
    charges = [c for c in rows(tally, "provider_calls") if c["operation"] == "charge"]
    assert charges, "the recording has provider charges"
    for call in charges:
        found = payments[call["id"]]
        assert found["amount"] == call["summary"]["amount"]
        settled = {"pending": ("pending", "processing"), "failed": ("failed",)}
        expected = settled.get(call["call_state"], ("processing", "succeeded", "refunded",
                                                    "partially_refunded"))  # fmt: skip
        assert found["status"] in expected, (call["call_state"], found)
    by_invoice_payment = {
        (p["invoice_id"], p["invoice_payment"]): p
        for p in payments.values()
        if p["invoice_payment"]
    }
    recorded = 0
    for invoice in rows(tally, "invoices"):
        for paid in invoice["state"].get("payments", []):
            found = by_invoice_payment[(invoice["id"], paid["id"])]
            assert (found["amount"], found["status"] != "failed") == (paid["amount"], True)
            recorded += 1
    assert recorded, "the recording has invoice payments"
    # No payment claims an invoice payment twice, and none is counted for nothing.
    assert len(by_invoice_payment) == recorded
    assert all(p["amount_refunded"] <= p["amount"] for p in payments.values())
