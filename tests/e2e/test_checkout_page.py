"""The stub's hosted checkout page as a customer sees it (issue 11): it names the
merchant (the project), the product and, for a subscription, the period the first
payment covers; its test-card labels hold no parentheses inside parentheses; it loads
nothing from elsewhere."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from adapters.providers.stub import DECLINED
from tests.e2e.billing import customer, plan
from tests.e2e.conftest import Client

BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


def _subscription_page(api: Client) -> str:
    body = {"customer_id": customer(api, "ada"), "items": [{"price_id": plan(api, "PRO", 2900)}]}
    started = api.ok(api.post("/v1/checkout/subscription", {**body, **BACK}), 201)
    page = api.http.get(urlsplit(started["url"]).path)
    assert page.status_code == 200, page.text
    invoice = started["invoice"]
    start, end = (datetime.fromisoformat(invoice[k]) for k in ("period_start", "period_end"))
    period = f"{start.day} {start:%b %Y} to {end.day} {end:%b %Y}"
    assert period in page.text, page.text
    return page.text


def test_the_page_names_merchant_product_and_period(api: Client) -> None:
    page = _subscription_page(api)
    assert '<p class="merchant">acme</p>' in page  # the project's name
    assert "Pro, monthly" in page
    assert "Subscribe" in page
    assert "29.00 EUR" in page


def test_the_page_loads_nothing_from_elsewhere_and_its_labels_read_plainly(api: Client) -> None:
    page = _subscription_page(api)
    # No address of another site (the success and cancel URLs stay in the token).
    assert re.search(r"https?:|//[a-z]|src=|url\(|@import", page) is None
    assert "<script" not in page
    visible = re.sub(r"<[^>]+>", " ", page)
    assert re.search(r"\([^()]*\(", visible) is None  # no parentheses inside parentheses


def test_a_declined_card_is_said_in_words_on_the_page(api: Client) -> None:
    body = {"customer_id": customer(api, "bob"), "items": [{"price_id": plan(api, "PRO", 2900)}]}
    started = api.ok(api.post("/v1/checkout/subscription", {**body, **BACK}), 201)
    pressed = api.http.post(
        urlsplit(started["url"]).path,
        content=f"button=pay&card_number={DECLINED}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    back = urlsplit(pressed.headers["location"])
    page = api.http.get(f"{back.path}?{back.query}").text
    assert "The card was declined. Try another card." in page
    assert "generic_decline" not in page
