"""Saying when nothing collects a project's invoices (issue 11, "CLI and noise"): without
an ``auto_charge_provider``, or without a payment method of the customer at it, the
invoices Tally finalizes stay open; subscriptions and invoices say so
(``collection``, ``collection_reason``) and serve warns once per such project."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.providers.stub import SUCCEEDS
from api.bootstrap import Tally
from api.cli_processes import warn_uncollectable
from api.integration_events import envelope, envelopes
from projections.integration_events import events_after
from projections.runner import wait_for_position
from tests.e2e.billing import card, customer, plan, subscribe
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client


def _collection(found: dict[str, Any]) -> tuple[Any, Any]:
    return found.get("collection"), found.get("collection_reason")


def _invoice_of(api: Client, subscription_id: str) -> dict[str, Any]:
    (found,) = api.ok(api.get("/v1/invoices", subscription_id=subscription_id))["data"]
    return found


def test_subscriptions_and_invoices_say_how_they_are_collected(sandbox: Client) -> None:
    api = sandbox
    pro = plan(api, "PRO", 2900)
    nobody = customer(api, "ada")
    created = subscribe(api, nobody, pro)
    assert _collection(created) == ("none", "no_auto_charge_provider")
    got = api.ok(api.get(f"/v1/subscriptions/{created['id']}"))
    assert _collection(got) == ("none", "no_auto_charge_provider")
    invoice = _invoice_of(api, created["id"])
    assert (invoice["status"], invoice["amount_remaining"]) == ("open", 2900)
    assert _collection(invoice) == ("none", "no_auto_charge_provider")
    one = api.ok(api.get(f"/v1/invoices/{invoice['id']}"))
    assert _collection(one) == ("none", "no_auto_charge_provider")
    upcoming = api.ok(api.get(f"/v1/subscriptions/{created['id']}/upcoming_invoice"))
    assert _collection(upcoming["upcoming_invoice"]) == ("none", "no_auto_charge_provider")

    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    listed = api.ok(api.get("/v1/subscriptions"))["data"]
    assert [_collection(s) for s in listed] == [("none", "no_payment_method")]
    card(api, nobody, SUCCEEDS)
    assert _collection(api.ok(api.get(f"/v1/subscriptions/{created['id']}"))) == (
        "auto_charge",
        None,
    )
    # Another customer, without a card, in the same page.
    other = customer(api, "bob")
    subscribe(api, other, pro)
    listed = api.ok(api.get("/v1/subscriptions"))["data"]
    by_customer = {s["customer_id"]: _collection(s) for s in listed}
    assert by_customer == {nobody: ("auto_charge", None), other: ("none", "no_payment_method")}
    # The integration events say the same; a batch's envelopes (a broker publisher's) read
    # the collections once for the batch and equal the envelopes built one by one.
    assert wait_for_position(api.tally.views, api.tally.schema, api.position, 10)
    rows = events_after(api.tally.views, api.tally.schema, api.project_id, 0, 1000)
    batch = envelopes(rows, api.tally)
    assert batch == [envelope(r, api.tally) for r in rows]
    objects = [e["data"]["object"] for e in batch if e["type"].startswith("billing.subscr")]
    assert {(o["customer_id"], _collection(o)) for o in objects} >= {
        (nobody, ("auto_charge", None)),
        (other, ("none", "no_payment_method")),
    }


def test_serve_warns_once_per_project_that_bills_without_collecting(
    sandbox: Client, app_tally: Tally, caplog: pytest.LogCaptureFixture
) -> None:
    api = sandbox
    with caplog.at_level(logging.WARNING, logger="tally.collection"):
        warn_uncollectable(app_tally)
    assert caplog.records == []  # nothing billed yet: nothing to say
    subscribe(api, customer(api, "ada"), plan(api, "PRO", 2900))
    api.ok(api.get("/v1/subscriptions"))  # the read models have caught up
    with caplog.at_level(logging.WARNING, logger="tally.collection"):
        warn_uncollectable(app_tally)
    (record,) = caplog.records
    assert str(api.project_id) in record.getMessage()
    assert "no auto_charge_provider" in record.getMessage()
    caplog.clear()
    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    api.ok(api.get("/v1/billing_settings"))
    with caplog.at_level(logging.WARNING, logger="tally.collection"):
        warn_uncollectable(app_tally)
    assert caplog.records == []
