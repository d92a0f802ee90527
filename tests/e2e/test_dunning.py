"""Dunning end to end over HTTP: a subscriber on a test clock whose renewal payment the
stub provider declines, retried on the project's schedule until paid, then the paid
invoice's PDF; and the scheduler doing invoice work (delayed finalization, a retry) on
the server's clock, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from adapters.clock import FixedClock
from adapters.providers.stub import DECLINED, SUCCEEDS
from api.objects import rfc3339
from api.scheduler import Scheduler
from api.settings import Settings
from projections.runner import wait_for_position
from tests.e2e.billing import START, card, clock, customer, plan, subscribe
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client, head, nothing_written, serve
from tests.e2e.invoicing import pdf_text


def _advance(api: Client, clock_id: str, days: float) -> dict[str, Any]:
    to = (START + timedelta(days=days)).isoformat()
    return api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"to": to}))


def _invoices(api: Client, subscription_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok(api.get("/v1/invoices", subscription_id=subscription_id))[
        "data"
    ]
    return found


def test_renewal_declined_retried_on_schedule_then_paid_and_its_pdf(sandbox: Client) -> None:
    api = sandbox
    settings = {"auto_charge_provider": "stub", "retry_days": [3, 5, 7]}
    api.ok(api.post("/v1/billing_settings", settings))
    clock_id = clock(api)
    buyer = customer(api, "grace", name="Grace Hopper", test_clock_id=clock_id)
    card(api, buyer, SUCCEEDS)
    sub = subscribe(api, buyer, plan(api, "PRO", 2900))
    (first,) = _invoices(api, sub["id"])
    assert (first["status"], first["amount_paid"]) == ("paid", 2900)
    card(api, buyer, DECLINED)
    # Jan 31 -> Feb 28: the renewal's invoice is charged at once and declined.
    assert _advance(api, clock_id, 28)["steps"]["renewed"] == 1
    renewal = _invoices(api, sub["id"])[1]
    assert (renewal["status"], renewal["attempt_count"]) == ("open", 1)
    due_at = START + timedelta(days=28 + 3)
    assert renewal["next_payment_attempt_at"] == rfc3339(due_at)
    assert api.ok(api.get(f"/v1/subscriptions/{sub['id']}"))["status"] == "past_due"
    # First retry (3 days after the failure) is declined too; then the customer puts in a
    # card that works, and the second retry (5 days) pays.
    assert _advance(api, clock_id, 31)["steps"]["payment_retried"] == 1
    assert api.ok(api.get(f"/v1/invoices/{renewal['id']}"))["attempt_count"] == 2
    card(api, buyer, SUCCEEDS)
    assert _advance(api, clock_id, 33)["steps"]["payment_retried"] == 1
    paid = api.ok(api.get(f"/v1/invoices/{renewal['id']}"))
    # attempt_count counts the declined attempts.
    assert (paid["status"], paid["attempt_count"], paid["amount_paid"]) == ("paid", 2, 2900)
    assert paid["paid_at"].startswith((START + timedelta(days=33)).date().isoformat())
    assert api.ok(api.get(f"/v1/subscriptions/{sub['id']}"))["status"] == "active"
    text = pdf_text(api, renewal["id"])
    for expected in (
        f"Invoice {paid['number']}",
        "Status: paid",
        "Grace Hopper",
        "Customer ref: grace",
        "Period 2030-02-28 to 2030-03-31",
        "Total 29.00 EUR",
        "Amount paid 29.00 EUR",
        "Amount due 0.00 EUR",
    ):
        assert expected in text, f"{expected!r} not in PDF text:\n{text}"


def test_exhausted_retries_leave_the_invoice_open_and_cancel_the_subscription(
    sandbox: Client,
) -> None:
    api = sandbox
    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub", "retry_days": [1]}))
    clock_id = clock(api)
    buyer = customer(api, "bob", test_clock_id=clock_id)
    card(api, buyer, DECLINED)
    sub = subscribe(api, buyer, plan(api, "PRO", 1000))
    assert _advance(api, clock_id, 2)["steps"]["payment_retried"] == 1
    (invoice,) = _invoices(api, sub["id"])
    assert (invoice["status"], invoice["attempt_count"]) == ("open", 2)
    assert invoice["next_payment_attempt_at"] is None
    assert api.ok(api.get(f"/v1/subscriptions/{sub['id']}"))["status"] == "canceled"


def _settle(api: Client) -> None:
    assert wait_for_position(api.tally.views, api.tally.schema, head(api.tally), 10)


def test_scheduler_finalizes_delayed_drafts_and_retries_payments_once(
    settings: Settings, clock: FixedClock
) -> None:
    quiet = settings.model_copy(update={"run_scheduler": False})
    with serve(quiet, clock) as api:
        body = {"auto_charge_provider": "stub", "retry_days": [1], "finalize_delay_s": 3600}
        api.ok(api.post("/v1/billing_settings", body))
        buyer = customer(api, "ada")
        card(api, buyer, DECLINED)
        sub = subscribe(api, buyer, plan(api, "PRO", 1500))
        (invoice,) = _invoices(api, sub["id"])
        assert invoice["status"] == "draft"
        scheduler = Scheduler(api.tally)
        _settle(api)
        assert scheduler.run_once().steps == {}
        clock.advance(timedelta(hours=2))
        assert scheduler.run_once().steps == {"invoice_finalized": 1}
        api.tally.outbox.drain()  # the charge the finalization asked for
        _settle(api)
        declined = api.ok(api.get(f"/v1/invoices/{invoice['id']}"))
        assert (declined["status"], declined["attempt_count"]) == ("open", 1)
        card(api, buyer, SUCCEEDS)
        _settle(api)
        with nothing_written(api.tally):
            assert scheduler.run_once().steps == {}
        clock.advance(timedelta(days=1))
        assert scheduler.run_once().steps == {"payment_retried": 1}
        api.tally.outbox.drain()
        _settle(api)
        paid = api.ok(api.get(f"/v1/invoices/{invoice['id']}"))
        assert (paid["status"], paid["attempt_count"]) == ("paid", 1)
        events = api.tally.store.events.get(UUID(invoice["id"]))
        finalized = [e for e in events if type(e).__name__ == "Finalized"]
        assert [getattr(e, "issued_by", None) for e in finalized] == ["system:scheduler"]
