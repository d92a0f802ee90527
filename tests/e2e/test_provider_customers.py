"""Provider customers over HTTP, for a project on Stripe (the real adapter and SDK against
a fake Stripe API on 127.0.0.1): a checkout, a saved-card top-up or a payment method
for a Tally customer with no Stripe customer yet first creates one, once, under a key
derived from the Tally customer; the reference is linked to the customer; the checkout
waits while Stripe is unavailable and proceeds once the customer exists."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

from adapters.clock import FixedClock
from api.settings import Settings
from commands import provider_messages as pm
from commands.bus import Context
from tests.e2e.billing import customer, plan
from tests.e2e.provider_shop import (
    BACK,
    LINE,
    FakeStripe,
    Shop,
    outage,
    post_stripe,
    provider_project,
    resource,
    settle,
    shop,
)
from tests.integration.provider_fake import Reply, Seen

__all__ = ["shop"]  # the fixture, used by name


def test_a_first_checkout_creates_the_customer_then_checks_out_with_it(shop: Shop) -> None:
    api = shop.api
    ada = customer(api, "ada", email="ada@example.com", name="Ada")
    sold = api.ok(api.post("/v1/checkout/item", {"customer_id": ada, "line": LINE, **BACK}), 201)
    assert sold["url"].startswith("https://pay.example/")
    [made] = shop.customers_made()
    assert FakeStripe.form(made)["email"] == "ada@example.com"
    assert FakeStripe.form(made)["metadata[tally_customer]"] == ada
    [session] = shop.stripe.sent("POST", "/v1/checkout/sessions")
    assert FakeStripe.form(session)["customer"] == "cus_fake1"
    # The customer was linked by an event, and the checkout's call says which it used.
    assert api.ok(api.get(f"/v1/customers/{ada}"))["provider_refs"] == {"stripe": "cus_fake1"}
    assert sold["provider_call"]["customer_ref"] == "cus_fake1"
    created = shop.calls(state="succeeded")
    by_operation = {c["operation"]: c for c in created}
    assert sorted(by_operation) == ["checkout", "create_customer"]
    assert by_operation["checkout"]["waits_for"] == by_operation["create_customer"]["id"]
    assert by_operation["create_customer"]["customer_ref"] == "cus_fake1"

    # The next checkout uses the linked customer: no second customer, no waiting.
    again = api.ok(api.post("/v1/checkout/item", {"customer_id": ada, "line": LINE, **BACK}), 201)
    assert again["provider_call"].get("waits_for") is None
    assert len(shop.customers_made()) == 1
    second = shop.stripe.sent("POST", "/v1/checkout/sessions")[1]
    assert FakeStripe.form(second)["customer"] == "cus_fake1"


def test_racing_checkouts_share_one_customer_call_and_one_stripe_customer(
    shop: Shop, clock: FixedClock
) -> None:
    api = shop.api
    provider = outage(shop, down=1)  # the first try fails, so both checkouts wait
    bo = customer(api, "bo", email="bo@example.com")
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def check_out(n: int) -> None:
        command = pm.CheckoutItem(
            provider="stripe",
            customer_id=UUID(bo),
            line=pm.LineInput(name=f"Item {n}", unit_amount=1000 + n, currency="EUR"),
            **BACK,
        )
        try:
            outcome = api.tally.execute(command, Context(api.project_id, "race"))
            results.append(outcome.body)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=check_out, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    waits = {r["provider_call"]["waits_for"] for r in results}
    assert len(waits) == 1  # every checkout waits for the same call
    assert None not in waits
    settle(api)  # the customer call fails once (backoff); the checkouts are deferred
    assert provider.tries == 1
    pending = shop.calls(state="pending")
    assert len(pending) == 5
    checkouts = [c for c in pending if c["operation"] == "checkout"]
    assert {c["attempts"] for c in checkouts} == {0}  # waiting is not an attempt
    assert all("waiting for create_customer" in c["last_error"] for c in checkouts)
    clock.advance(timedelta(seconds=1))
    settle(api)
    assert shop.calls(state="pending") == []
    assert len(shop.customers_made()) == 1
    sessions = shop.stripe.sent("POST", "/v1/checkout/sessions")
    assert len(sessions) == 4
    assert {FakeStripe.form(s)["customer"] for s in sessions} == {"cus_fake1"}
    assert api.ok(api.get(f"/v1/customers/{bo}"))["provider_refs"] == {"stripe": "cus_fake1"}


def test_an_outage_while_creating_the_customer_delays_the_checkout_without_costing_it_attempts(
    shop: Shop, clock: FixedClock
) -> None:
    api = shop.api
    provider = outage(shop, down=3)
    cy = customer(api, "cy", email="cy@example.com")
    sold = api.ok(api.post("/v1/checkout/item", {"customer_id": cy, "line": LINE, **BACK}), 201)
    assert sold.get("url") is None
    checkout = sold["provider_call"]
    assert (checkout["state"], checkout["attempts"]) == ("pending", 0)
    customer_call = api.ok(api.get(f"/v1/provider_calls/{checkout['waits_for']}"))
    assert customer_call["operation"] == "create_customer"
    assert (customer_call["state"], customer_call["attempts"]) == ("pending", 1)
    assert customer_call["error_code"] == "provider_unavailable"
    # The checkout waits exactly as long as the customer call's backoff: 1 s, then 2 s.
    assert checkout["next_attempt_at"] == customer_call["next_attempt_at"]
    settle(api)
    assert provider.tries == 1  # nothing is due yet
    clock.advance(timedelta(seconds=1))
    settle(api)
    assert provider.tries == 2
    clock.advance(timedelta(seconds=2))
    settle(api)
    assert provider.tries == 3
    waiting = api.ok(api.get(f"/v1/provider_calls/{checkout['id']}"))
    assert (waiting["state"], waiting["attempts"]) == ("pending", 0)
    assert shop.stripe.sent("POST", "/v1/checkout/sessions") == []
    clock.advance(timedelta(seconds=4))
    settle(api)  # Stripe is back: the customer, then the checkout
    done = api.ok(api.get(f"/v1/provider_calls/{checkout['id']}"))
    assert (done["state"], done["attempts"], done["customer_ref"]) == ("succeeded", 1, "cus_fake1")
    assert done["url"].startswith("https://pay.example/")
    made = api.ok(api.get(f"/v1/provider_calls/{checkout['waits_for']}"))
    assert (made["state"], made["attempts"]) == ("succeeded", 4)
    # Every try of the customer call sent the one key, derived from the Tally customer.
    keys = {seen.headers["idempotency-key"] for seen in shop.customers_made()}
    assert keys == {made["idempotency_key"]}
    assert len(shop.customers_made()) == 1


def test_a_customer_stripe_refuses_fails_the_waiting_checkout_and_its_payment(
    shop: Shop,
) -> None:
    api = shop.api
    shop.fake.refuse_customers = True
    di = customer(api, "di", email="di@example.com")
    sold = api.ok(api.post("/v1/checkout/item", {"customer_id": di, "line": LINE, **BACK}), 201)
    call = sold["provider_call"]
    assert (call["state"], call["error_code"]) == ("failed", "customer_not_created")
    settle(api)
    txn = api.ok(api.get(f"/v1/transactions/{sold['transaction']['id']}"))
    assert txn["state"] == "failed"
    assert shop.stripe.sent("POST", "/v1/checkout/sessions") == []
    # Once Stripe accepts the customer, the next checkout asks again (a new call).
    shop.fake.refuse_customers = False
    again = api.ok(api.post("/v1/checkout/item", {"customer_id": di, "line": LINE, **BACK}), 201)
    assert again["provider_call"]["state"] == "succeeded"
    assert again["provider_call"]["waits_for"] != call["waits_for"]
    assert api.ok(api.get(f"/v1/customers/{di}"))["provider_refs"] == {"stripe": "cus_fake1"}


def test_a_saved_card_top_up_charges_the_customer_created_for_it(shop: Shop) -> None:
    api = shop.api
    ed = customer(api, "ed", email="ed@example.com")
    wallet = api.open_account(ed)
    body = {"amount": 700, "currency": "EUR", "payment_method": "pm_card_visa"}
    topped = api.ok(api.post(f"/v1/accounts/{wallet}/top_ups", body), 201)
    assert topped["provider_call"]["state"] == "succeeded"
    [charge] = shop.stripe.sent("POST", "/v1/payment_intents")
    sent = FakeStripe.form(charge)
    assert (sent["customer"], sent["payment_method"]) == ("cus_fake1", "pm_card_visa")
    settle(api)
    assert api.account(wallet)["ledger_balance"] == 700
    # The second top-up finds the customer made: it charges cus_fake1 by reference, and
    # its payment still names ed.
    again = api.ok(api.post(f"/v1/accounts/{wallet}/top_ups", body), 201)
    assert again["provider_call"]["customer_ref"] == "cus_fake1"
    settle(api)
    listed = api.ok(api.get("/v1/payments", customer_id=ed))["data"]
    ids = [topped["provider_call"]["id"], again["provider_call"]["id"]]
    assert sorted(p["id"] for p in listed) == sorted(ids)


def test_attaching_a_payment_method_makes_the_customer_once(shop: Shop) -> None:
    api = shop.api
    flo = customer(api, "flo", email="flo@example.com")
    for method in ("pm_one", "pm_two"):
        body = {"customer_id": flo, "payment_method": method}
        api.ok(api.post("/v1/payment_methods", body))
    settle(api)
    [made] = shop.customers_made()
    assert FakeStripe.form(made)["metadata[tally_customer]"] == flo
    assert api.ok(api.get(f"/v1/customers/{flo}"))["provider_refs"] == {"stripe": "cus_fake1"}
    # The other calls attach the methods to that customer (issue 18: they are synced).
    [call] = [c for c in shop.calls() if c["operation"] == "create_customer"]
    assert call["state"] == "succeeded"


def deliver_customer_created(shop: Shop, event_id: str, customer_ref: str, tally_id: str) -> None:
    obj = resource("customer", id=customer_ref, metadata={"tally_customer": tally_id})
    event = resource("event", id=event_id, type="customer.created", data={"object": obj})
    response = post_stripe(shop.api, event)
    assert response.status_code == 200, response.text
    settle(shop.api)


def test_a_customer_created_webhook_links_first_and_never_moves_a_link(shop: Shop) -> None:
    api = shop.api
    gil = customer(api, "gil", email="gil@example.com")
    # Linked by the webhook first (the customer was made in Stripe's dashboard with the
    # Tally id in its metadata): the checkout uses it and creates no customer.
    deliver_customer_created(shop, "evt_c1", "cus_dashboard", gil)
    sold = api.ok(api.post("/v1/checkout/item", {"customer_id": gil, "line": LINE, **BACK}), 201)
    assert sold["provider_call"]["customer_ref"] == "cus_dashboard"
    assert shop.customers_made() == []
    # A second Stripe customer naming the same Tally customer does not replace the link.
    deliver_customer_created(shop, "evt_c2", "cus_other", gil)
    assert api.ok(api.get(f"/v1/customers/{gil}"))["provider_refs"] == {"stripe": "cus_dashboard"}


def test_a_subscription_checkout_creates_the_customer_first(shop: Shop) -> None:
    api = shop.api
    hal = customer(api, "hal", email="hal@example.com")
    body = {"customer_id": hal, "items": [{"price_id": plan(api, "PRO", 1200)}], **BACK}
    started = api.ok(api.post("/v1/checkout/subscription", body), 201)
    assert started["url"].startswith("https://pay.example/")
    [session] = shop.stripe.sent("POST", "/v1/checkout/sessions")
    sent = FakeStripe.form(session)
    assert (sent["customer"], sent["metadata[tally_customer]"]) == ("cus_fake1", hal)
    assert len(shop.customers_made()) == 1


class FakePaddle:
    """Paddle's customers (one per email) and transactions (checkouts)."""

    def __init__(self) -> None:
        self.customers: list[dict[str, Any]] = []

    def __call__(self, seen: Seen) -> Reply:
        if seen.method == "POST" and seen.path == "/customers":
            made = {"id": f"ctm_{len(self.customers) + 1}", **seen.json()}
            self.customers.append(made)
            return Reply(201, {"data": made})
        if seen.method == "POST" and seen.path == "/transactions":
            checkout = {"url": "https://pay.example/?_ptxn=txn_1"}
            return Reply(201, {"data": {"id": "txn_1", "checkout": checkout}})
        return Reply(404, {"error": {"type": "request_error", "code": "not_found"}})


def test_paddle_creates_customers_with_an_email_and_leaves_the_others_to_its_checkout(
    settings: Settings, clock: FixedClock
) -> None:
    paddle = FakePaddle()
    secrets = {"api_key": "pdl_key", "webhook_secret": "pdl_hook"}
    with provider_project(settings, clock, paddle, "paddle", secrets) as (api, api_server):
        ivy = customer(api, "ivy", email="ivy@example.com")
        sold = api.ok(
            api.post("/v1/checkout/item", {"customer_id": ivy, "line": LINE, **BACK}), 201
        )
        assert sold["provider_call"]["customer_ref"] == "ctm_1"
        [made] = api_server.sent("POST", "/customers")
        assert made.json()["custom_data"]["tally_customer"] == ivy
        [transaction] = api_server.sent("POST", "/transactions")
        assert transaction.json()["customer_id"] == "ctm_1"
        # No email: Paddle cannot make the customer; its checkout will ask for one.
        jo = customer(api, "jo")
        plain = api.ok(
            api.post("/v1/checkout/item", {"customer_id": jo, "line": LINE, **BACK}), 201
        )
        assert plain["provider_call"]["state"] == "succeeded"
        assert plain["provider_call"].get("waits_for") is None
        assert "customer_id" not in api_server.sent("POST", "/transactions")[1].json()
        # Nor for a saved-method charge (Paddle charges the subscription): the wallet's id
        # stands in for the customer, as before, and nothing waits.
        wallet = api.open_account(jo)
        body = {"amount": 700, "currency": "EUR", "payment_method": "sub_01"}
        charged = api.ok(api.post(f"/v1/accounts/{wallet}/top_ups", body), 201)
        assert charged["provider_call"]["customer_ref"] == wallet
        assert charged["provider_call"].get("waits_for") is None
        assert len(paddle.customers) == 1
