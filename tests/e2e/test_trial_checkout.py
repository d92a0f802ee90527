"""A subscription checkout with a trial (issue 11, bug 5): the stub's page saves the card
and charges nothing, the subscription starts trialing with that card as the customer's
default, and the trial's end on a test clock bills the first invoice to it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from adapters.providers.stub import DECLINED, SUCCEEDS, payment_method_for
from api.objects import rfc3339
from tests.e2e.billing import START, card, clock, customer, plan, problem
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client, nothing_written

BACK = {"success_url": "https://shop.example/welcome", "cancel_url": "https://shop.example/plans"}


def _press(api: Client, url: str, card: str = SUCCEEDS) -> str:
    path = urlsplit(url).path
    page = api.http.get(path)
    assert page.status_code == 200
    assert "start trial" in page.text.lower()
    pressed = api.http.post(
        path,
        content=f"button=pay&card_number={card}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    return str(pressed.headers["location"])


def _settle(api: Client) -> None:
    api.tally.outbox.drain()
    api.position = int(api.tally.store.recorder.max_notification_id() or 0)


def _invoices(api: Client, subscription_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok(api.get("/v1/invoices", subscription_id=subscription_id))[
        "data"
    ]
    return found


def test_a_trial_checkout_saves_the_card_starts_the_trial_and_its_end_charges_it(
    sandbox: Client,
) -> None:
    api = sandbox
    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    clock_id = clock(api)
    buyer = customer(api, "ada", test_clock_id=clock_id)
    # An older card that declines: the one saved at the trial's checkout replaces it as
    # the default, so the trial's end charges the new one.
    card(api, buyer, DECLINED)
    plan(api, "PRO", 2900, trial_days=14)
    body = {"customer_id": buyer, "items": [{"lookup_key": "pro_monthly"}], **BACK}
    started = api.ok(api.post("/v1/checkout/subscription", body), 201)
    sub_id = started["subscription"]["id"]
    assert started["subscription"]["status"] == "incomplete"
    assert "invoice" not in started  # nothing is owed before the trial ends
    assert started["provider_call"]["state"] == "succeeded"

    assert _press(api, started["url"]) == BACK["success_url"]
    _settle(api)

    sub = api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
    trial_end = START + timedelta(days=14)
    assert sub["status"] == "trialing"
    assert sub["trial_end"] == rfc3339(trial_end)
    assert _invoices(api, sub_id) == []
    methods = api.ok(api.get("/v1/payment_methods", customer_id=buyer))
    assert methods["default"] == payment_method_for(SUCCEEDS)

    to = (trial_end + timedelta(hours=1)).isoformat()
    advanced = api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"to": to}))
    assert advanced["steps"]["trial_ended"] == 1
    (first,) = _invoices(api, sub_id)
    assert (first["status"], first["amount_paid"], first["total"]) == ("paid", 2900, 2900)
    charges = api.ok(api.get("/v1/provider_calls", subject=f"invoice:{first['id']}:1:0"))["data"]
    assert [c["state"] for c in charges] == ["succeeded"]
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["status"] == "active"


def test_a_checkout_without_the_default_trial_still_asks_for_the_first_payment(
    sandbox: Client,
) -> None:
    api = sandbox
    buyer = customer(api, "ada")
    plan(api, "PRO", 2900, trial_days=14)
    body = {"customer_id": buyer, "plan": "PRO", "trial_days": 0, **BACK}
    started = api.ok(api.post("/v1/checkout/subscription", body), 201)
    assert started["subscription"]["status"] == "incomplete"
    assert started["subscription"].get("trial_end") is None
    assert started["invoice"]["total"] == 2900


def test_a_trial_subscription_waiting_for_its_card_is_not_activated_by_hand(
    sandbox: Client,
) -> None:
    api = sandbox
    buyer = customer(api, "ada")
    plan(api, "PRO", 2900, trial_days=14)
    body = {"customer_id": buyer, "plan": "PRO", **BACK}
    started = api.ok(api.post("/v1/checkout/subscription", body), 201)
    sub_id = started["subscription"]["id"]
    # /activate says "its first payment arrived"; this one waits for a card, and the
    # same command starts its trial instead.
    started_trial = api.ok(api.post(f"/v1/subscriptions/{sub_id}/activate"))
    assert started_trial["subscription"]["status"] == "trialing"


def test_the_api_still_refuses_an_incomplete_subscription_with_a_trial(
    sandbox: Client,
) -> None:
    api = sandbox
    buyer = customer(api, "ada")
    price_id = plan(api, "PRO", 2900, trial_days=14)
    body = {"customer_id": buyer, "items": [{"price_id": price_id}], "incomplete": True}
    with nothing_written(api.tally):
        problem(api.post("/v1/subscriptions", body), 422, "invalid_combination")
