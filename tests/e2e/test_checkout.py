"""Checkouts other than subscriptions over HTTP: one item (ad hoc or from a catalog price),
a cart (create, add, remove, get, check out), the portal, saved payment methods, the
project's provider settings, and tenancy of all of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from adapters.clock import FixedClock
from adapters.providers.stub import SUCCEEDS
from api.settings import Settings
from tests.e2e.billing import customer, price, problem, product
from tests.e2e.conftest import Client, head, make_client, nothing_written, serve

BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def pay(api: Client, url: str) -> None:
    pressed = api.http.post(
        urlsplit(url).path,
        content=f"button=pay&card_number={SUCCEEDS}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    api.tally.outbox.drain()
    api.position = head(api.tally)


def system_balance(api: Client, account: str) -> int:
    rows: list[dict[str, Any]] = api.ok(api.get("/v1/system_accounts"))["data"]
    return sum(int(r["balance"]) for r in rows if r["account"] == account)


def test_an_item_from_the_catalog_is_sold_through_a_hosted_checkout(shop: Client) -> None:
    one_time = price(
        shop, product(shop, "EBOOK"), "ebook", unit_amount=1500, interval=None, scheme="per_unit"
    )
    ada = customer(shop, "ada")
    body = {"customer_id": ada, "line": {"price_id": one_time, "quantity": 2}, **BACK}
    sold = shop.ok(shop.post("/v1/checkout/item", body, key="item-1"), 201)
    assert sold["transaction"]["amount"] == 3000
    assert sold["transaction"]["state"] == "processing"
    again = shop.post("/v1/checkout/item", body, key="item-1")
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["url"] == sold["url"]
    page = shop.http.get(urlsplit(sold["url"]).path)
    assert "Ebook x 2" in page.text
    assert "30.00 EUR" in page.text
    pay(shop, sold["url"])
    txn = shop.ok(shop.get(f"/v1/transactions/{sold['transaction']['id']}"))
    assert txn["state"] == "completed"
    assert system_balance(shop, "revenue:checkout") == 3000
    assert system_balance(shop, "clearing:stub") == -3000


def test_a_cart_is_filled_emptied_and_checked_out_once(shop: Client) -> None:
    cart = shop.ok(shop.post("/v1/carts", {"currency": "EUR"}), 201)["cart"]
    line = {"name": "Sticker", "unit_amount": 250, "currency": "EUR", "quantity": 4}
    filled = shop.ok(shop.post(f"/v1/carts/{cart['id']}/items", {"line": line}))["cart"]
    mug = {"name": "Mug", "unit_amount": 1200, "currency": "EUR"}
    filled = shop.ok(shop.post(f"/v1/carts/{cart['id']}/items", {"line": mug}))["cart"]
    assert filled["total"] == 2200
    removed = shop.post(f"/v1/carts/{cart['id']}/items/{filled['lines'][0]['id']}/remove")
    assert shop.ok(removed)["cart"]["total"] == 1200
    usd = {"name": "Hat", "unit_amount": 900, "currency": "USD"}
    problem(shop.post(f"/v1/carts/{cart['id']}/items", {"line": usd}), 422, "currency_mismatch")
    assert shop.ok(shop.get(f"/v1/carts/{cart['id']}"))["total"] == 1200

    sold = shop.ok(shop.post("/v1/checkout/cart", {"cart_id": cart["id"], **BACK}), 201)
    assert sold["cart"]["status"] == "checked_out"
    assert sold["transaction"]["amount"] == 1200
    with nothing_written(shop.tally):
        problem(
            shop.post("/v1/checkout/cart", {"cart_id": cart["id"], **BACK}),
            409,
            "invalid_transition",
        )
    pay(shop, sold["url"])
    txn = shop.ok(shop.get(f"/v1/transactions/{sold['transaction']['id']}"))
    assert txn["state"] == "completed"


def test_payment_methods_are_attached_by_reference_detached_and_defaulted(
    shop: Client,
) -> None:
    ada = customer(shop, "ada")
    first = {"customer_id": ada, "payment_method": "stub_pm_4242424242424242"}
    shop.ok(shop.post("/v1/payment_methods", first))
    second = {"customer_id": ada, "payment_method": "stub_pm_4000000000009995", "label": "b"}
    listed = shop.ok(shop.post("/v1/payment_methods", second))["payment_methods"]
    assert listed["default"] == first["payment_method"]
    made = shop.post(
        f"/v1/payment_methods/{second['payment_method']}/default", {"customer_id": ada}
    )
    assert shop.ok(made)["payment_methods"]["default"] == second["payment_method"]
    gone = shop.post(f"/v1/payment_methods/{second['payment_method']}/detach", {"customer_id": ada})
    assert shop.ok(gone)["payment_methods"]["default"] == first["payment_method"]
    read = shop.ok(shop.get("/v1/payment_methods", customer_id=ada))
    assert [m["id"] for m in read["data"]] == [first["payment_method"]]
    card = {"customer_id": ada, "payment_method": "4242424242424242"}
    with nothing_written(shop.tally):
        problem(shop.post("/v1/payment_methods", card), 422, "validation_error")


def test_the_read_model_keeps_the_order_the_methods_were_attached_in(shop: Client) -> None:
    """The read model rebuilds the aggregate from its stored jsonb state, and jsonb orders
    an object's keys by length and bytes, not as they were added. The methods are named
    so that those two orders differ: after the default is detached, the read model must
    show the default and the order the domain answered."""
    ada = customer(shop, "ada")
    names = ["stub_pm_attached_first_and_longest", "stub_pm_b", "stub_pm_a"]
    for name in names:
        shop.ok(shop.post("/v1/payment_methods", {"customer_id": ada, "payment_method": name}))
    gone = shop.post(f"/v1/payment_methods/{names[0]}/detach", {"customer_id": ada})
    answered = shop.ok(gone)["payment_methods"]
    assert answered["default"] == names[1]
    read = shop.ok(shop.get("/v1/payment_methods", customer_id=ada))
    assert read["default"] == names[1]
    assert [m["id"] for m in read["data"]] == names[1:]
    assert [m["id"] for m in answered["data"]] == names[1:]


def test_the_portal_url_is_the_providers_and_another_projects_customer_is_404(
    shop: Client,
) -> None:
    ada = customer(shop, "ada")
    body = {"customer_id": ada, "return_url": "https://shop.example/account"}
    portal = shop.ok(shop.post("/v1/portal", body))
    assert portal["provider"] == "stub"
    page = shop.http.get(urlsplit(portal["url"]).path)
    assert ada in page.text
    other = make_client(shop.http, shop.tally, "globex")
    problem(other.post("/v1/portal", body), 404, "not_found")


def test_provider_calls_and_events_of_another_project_are_404(shop: Client) -> None:
    account = shop.open_account("ada")
    topped = shop.ok(
        shop.post(f"/v1/accounts/{account}/top_ups", {"amount": 500, "currency": "EUR", **BACK}),
        201,
    )
    other = make_client(shop.http, shop.tally, "globex")
    other.position = head(shop.tally)
    problem(other.get(f"/v1/provider_calls/{topped['provider_call']['id']}"), 404, "not_found")
    assert other.ok(other.get("/v1/provider_calls"))["data"] == []
    refund = other.post(f"/v1/transactions/{topped['transaction']['id']}/refunds")
    problem(refund, 404, "not_found")


def test_a_project_names_its_credentials_by_variable_and_never_sees_them(
    shop: Client,
) -> None:
    shown = shop.ok(shop.get("/v1/payment_provider"))["payment_provider"]
    assert (shown["provider"], shown["project_specific"]) == ("stub", False)
    pasted = {"provider": "stripe", "credential_env": {"api_key": "sk_live_abc123"}}
    with nothing_written(shop.tally):
        refused = problem(shop.post("/v1/payment_provider", pasted), 422, "validation_error")
        assert "sk_live_abc123" not in refused["detail"]
        missing = {
            "provider": "stripe",
            "credential_env": {"api_key": "ACME_NO_SUCH_KEY", "webhook_secret": "ACME_NO_HOOK"},
        }
        refused = problem(shop.post("/v1/payment_provider", missing), 422, "credential_not_set")
        assert "ACME_NO_SUCH_KEY" in refused["detail"] or "ACME_NO_HOOK" in refused["detail"]
    own = {"provider": "stub", "credential_env": {"webhook_secret": "TALLY_TEST_STUB_SECRET_X"}}
    shop.tally.providers.environ = {"TALLY_TEST_STUB_SECRET_X": "a-project-secret"}
    configured = shop.ok(shop.post("/v1/payment_provider", own))["payment_provider"]
    assert configured["credential_env"] == own["credential_env"]
    shown = shop.ok(shop.get("/v1/payment_provider"))["payment_provider"]
    assert shown["project_specific"] is True
    assert shown["credential_env"] == {
        "webhook_secret": {"env": "TALLY_TEST_STUB_SECRET_X", "set": True}
    }
    assert "a-project-secret" not in str(shown)
