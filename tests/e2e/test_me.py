"""/v1/me end to end (issue 14): a customer, with a customer session token, sees and acts
on its own subscriptions, invoices, payment methods, wallets and usage; another
customer's objects answer 404 and nothing is written; a plan change shows its proration
before it is applied, and applies exactly that."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.clock import FixedClock
from api.bootstrap import Tally
from tests.e2e.billing import card, client_in_mode, customer, plan, subscribe
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import wallet
from tests.e2e.sealed import sealed_tally, web

__all__ = ["sealed_tally", "web"]  # the fixtures, used by name


@dataclass
class Me:
    """A customer's browser: its session token, and the newest position it saw."""

    http: TestClient
    token: str
    customer_id: str
    position: int = 0

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def get(self, path: str, **params: Any) -> httpx.Response:
        params.setdefault("wait_for_position", self.position)
        return self.http.get("/v1/me" + path, params=params, headers=self.headers())

    def post(self, path: str, body: Any = None, key: str | None = None) -> httpx.Response:
        response = self.http.post("/v1/me" + path, json=body, headers=self.headers(key))
        if "Tally-Position" in response.headers:
            self.position = max(self.position, int(response.headers["Tally-Position"]))
        return response


@dataclass
class World:
    shop: Client
    alice: Me
    bob: Me
    basic: str
    pro: str
    alice_sub: dict[str, Any]
    bob_sub: dict[str, Any]
    bob_wallet: str


def browser(web: TestClient, shop: Client, customer_id: str) -> Me:
    body = {"customer_id": customer_id}
    session = shop.ok(shop.post("/v1/customer_sessions", body), 201)
    return Me(web, session["token"], customer_id, shop.position)


@pytest.fixture
def world(web: TestClient, sealed_tally: Tally) -> World:
    shop = client_in_mode(web, sealed_tally, "shop", "test")
    basic, pro = plan(shop, "BASIC", 1000), plan(shop, "PRO", 3000)
    alice_id, bob_id = customer(shop, "alice"), customer(shop, "bob")
    card(shop, alice_id, "4242424242424242")
    card(shop, bob_id, "4000000000000002")  # another reference than Alice's
    alice_sub = subscribe(shop, alice_id, basic)
    bob_sub = subscribe(shop, bob_id, basic)
    wallet(shop, alice_id, 700)
    bob_wallet = wallet(shop, bob_id, 900)
    alice, bob = browser(web, shop, alice_id), browser(web, shop, bob_id)
    return World(shop, alice, bob, basic, pro, alice_sub, bob_sub, bob_wallet)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_customer_sees_its_own_things(world: World) -> None:
    alice = world.alice
    assert ok(alice.get(""))["id"] == alice.customer_id
    subs = ok(alice.get("/subscriptions"))["data"]
    assert [s["id"] for s in subs] == [world.alice_sub["id"]]
    assert ok(alice.get(f"/subscriptions/{world.alice_sub['id']}"))["status"] == "active"
    codes = {p["code"] for p in ok(alice.get("/plans"))["data"]}
    assert codes == {"BASIC", "PRO"}
    assert "basic" in str(ok(alice.get("/entitlements")))
    invoices = ok(alice.get("/invoices"))["data"]
    assert invoices
    assert {i["customer_id"] for i in invoices} == {alice.customer_id}
    one = invoices[0]["id"]
    assert ok(alice.get(f"/invoices/{one}"))["id"] == one
    pdf = alice.get(f"/invoices/{one}/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    methods = ok(alice.get("/payment_methods"))
    assert methods["customer_id"] == alice.customer_id
    assert len(methods["data"]) == 1
    wallets = ok(alice.get("/wallets"))["data"]
    assert [(w["owner_ref"], w["available_balance"]) for w in wallets] == [(alice.customer_id, 700)]
    entries = ok(alice.get(f"/wallets/{wallets[0]['id']}/entries"))["data"]
    assert len(entries) == 1
    assert ok(alice.get("/usage"))["customer_id"] == alice.customer_id
    upcoming = ok(alice.get(f"/subscriptions/{world.alice_sub['id']}/upcoming_invoice"))
    assert upcoming["upcoming_invoice"]["customer_id"] == alice.customer_id


def test_another_customers_objects_answer_404_and_nothing_is_written(
    world: World, sealed_tally: Tally
) -> None:
    alice, bob = world.alice, world.bob
    bob_sub = world.bob_sub["id"]
    bob_invoice = ok(bob.get("/invoices"))["data"][0]["id"]
    bob_method = ok(bob.get("/payment_methods"))["default"]
    change = {"items": [{"price_id": world.pro}]}
    with nothing_written(sealed_tally):
        for path in (
            f"/subscriptions/{bob_sub}",
            f"/subscriptions/{bob_sub}/upcoming_invoice",
            f"/invoices/{bob_invoice}",
            f"/invoices/{bob_invoice}/pdf",
            f"/wallets/{world.bob_wallet}/entries",
        ):
            response = alice.get(path)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == "not_found"
        for path, body in (
            (f"/subscriptions/{bob_sub}/preview_change", change),
            (f"/subscriptions/{bob_sub}/change", change),
            (f"/subscriptions/{bob_sub}/cancel", {"at_period_end": False}),
            (f"/subscriptions/{bob_sub}/undo_cancel", None),
            (f"/payment_methods/{bob_method}/detach", None),
            (f"/payment_methods/{bob_method}/default", None),
        ):
            response = alice.post(path, body)
            assert response.status_code == 404, (path, response.text)
    assert ok(bob.get(f"/subscriptions/{bob_sub}"))["status"] == "active"
    assert len(ok(bob.get("/payment_methods"))["data"]) == 1


def test_a_plan_change_applies_the_proration_its_preview_showed(
    world: World, clock: FixedClock
) -> None:
    sub = world.alice_sub["id"]
    clock.advance(timedelta(days=10))
    # A new session: the fixture's (an hour) has expired in those ten days.
    alice = browser(world.alice.http, world.shop, world.alice.customer_id)
    change = {"items": [{"price_id": world.pro}]}
    preview = ok(alice.post(f"/subscriptions/{sub}/preview_change", change))
    assert preview["period_amount"] == 3000
    assert len(preview["proration_lines"]) == 2
    assert 0 < preview["proration_total"] < 2000
    assert ok(alice.get(f"/subscriptions/{sub}"))["items"][0]["price_id"] == world.basic
    changed = ok(alice.post(f"/subscriptions/{sub}/change", change, key="up-1"))
    assert changed["subscription"]["items"][0]["price_id"] == world.pro
    recorded = changed["subscription"]["proration_lines"]
    shown = [(p["description"], p["amount"]) for p in preview["proration_lines"]]
    assert [(p["description"], p["amount"]) for p in recorded] == shown


def test_cancel_and_undo_with_idempotency_keys(world: World) -> None:
    alice, sub = world.alice, world.alice_sub["id"]
    first = alice.post(f"/subscriptions/{sub}/cancel", None, key="bye")
    assert ok(first)["subscription"]["cancel_at_period_end"] is True
    again = alice.post(f"/subscriptions/{sub}/cancel", None, key="bye")
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert again.json() == first.json()
    undone = ok(alice.post(f"/subscriptions/{sub}/undo_cancel", None, key="stay"))
    assert undone["subscription"]["cancel_at_period_end"] is False
    # Keys are the customer's own: Bob's "bye" is not Alice's.
    bob_first = world.bob.post(f"/subscriptions/{world.bob_sub['id']}/cancel", None, key="bye")
    assert "Idempotency-Replayed" not in bob_first.headers
    assert ok(bob_first)["subscription"]["id"] == world.bob_sub["id"]


def test_a_customer_cancels_a_paused_subscription_now(world: World) -> None:
    sub = world.alice_sub["id"]
    world.shop.ok(world.shop.post(f"/v1/subscriptions/{sub}/pause", {}))
    # The portal's default is the period end, which a paused subscription has not.
    later = world.alice.post(f"/subscriptions/{sub}/cancel", None)
    assert (later.status_code, later.json()["code"]) == (409, "invalid_transition")
    now = ok(world.alice.post(f"/subscriptions/{sub}/cancel", {"at_period_end": False}))
    assert now["subscription"]["status"] == "canceled"


def test_a_customer_starts_a_checkout_for_itself(world: World) -> None:
    body = {
        "plan": "PRO",
        "success_url": "https://example.com/ok",
        "cancel_url": "https://example.com/no",
    }
    started = ok(world.alice.post("/checkout", body, key="co-1"), 201)
    assert started["url"]
    assert started["provider_call"]["state"] in ("pending", "succeeded")


def test_a_customer_can_only_pick_a_price_on_offer(world: World, sealed_tally: Tally) -> None:
    # Security review finding 2: a price of an archived product is still active, and the
    # project-key routes take it, but it is not on offer to customers (GET /v1/me/plans).
    shop, alice, sub = world.shop, world.alice, world.alice_sub["id"]
    legacy = plan(shop, "LEGACY", 500)
    product_id = shop.ok(shop.get(f"/v1/prices/{legacy}"))["product_id"]
    shop.ok(shop.post(f"/v1/products/{product_id}/archive"))
    alice = browser(alice.http, shop, alice.customer_id)  # sees the archive
    assert "LEGACY" not in {p["code"] for p in ok(alice.get("/plans"))["data"]}
    change = {"items": [{"price_id": legacy}]}
    checkout = {
        "items": [{"price_id": legacy}],
        "success_url": "https://example.com/ok",
        "cancel_url": "https://example.com/no",
    }
    with nothing_written(sealed_tally):
        for path, body in (
            (f"/subscriptions/{sub}/preview_change", change),
            (f"/subscriptions/{sub}/change", change),
            ("/checkout", checkout),
            ("/checkout", {**checkout, "items": [{"lookup_key": "legacy_monthly"}]}),
        ):
            response = alice.post(path, body)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == "not_found"
    # A price on offer still goes through.
    assert ok(
        alice.post(f"/subscriptions/{sub}/preview_change", {"items": [{"price_id": world.pro}]})
    )


def test_a_wallet_named_by_external_id_is_not_the_customers(world: World) -> None:
    # Security review finding 10: an external id may be a claim users choose, so an
    # account whose owner_ref is "alice" is not Alice's wallet; only her Tally id counts.
    shop = world.shop
    stranger = shop.open_account(owner="alice", currency="EUR")
    shop.deposit(stranger, 300, "EUR")
    alice = browser(world.alice.http, shop, world.alice.customer_id)
    owners = [w["owner_ref"] for w in ok(alice.get("/wallets"))["data"]]
    assert owners == [alice.customer_id]
    assert alice.get(f"/wallets/{stranger}/entries").status_code == 404
