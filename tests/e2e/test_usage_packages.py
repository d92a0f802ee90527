"""Package prices of usage (issue 13) over HTTP and the catalog file: a
``metered_package`` price bills a period's usage per package of units past its free
units, on the renewal's invoice (the line's quantity is the packages) and in the
upcoming invoice's preview before it, driven by a test clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from api.bootstrap import Tally
from tests.e2e.billing import clock, customer, price, problem, product, sandbox, subscribe
from tests.e2e.conftest import Client
from tests.e2e.test_catalog_load import env, head, load, project
from tests.e2e.test_meters_cli import CATALOG
from tests.e2e.test_usage_rating import TOKENS, advance, invoices, send, settle, usage_of, used

__all__ = ["env", "project", "sandbox"]  # fixtures used by name

PACKAGE = {"size": 1000, "round": "up", "free_units": 100}


def package_subscription(api: Client, package: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    api.ok(api.post("/v1/meters", TOKENS), 201)
    clock_id = clock(api)
    customer_id = customer(api, "user_1", test_clock_id=clock_id)
    api_product = product(api, "API")
    plan = price(api, api_product, "base", unit_amount=1000)
    tokens = price(api, api_product, "tokens", scheme="metered_package", meter="tokens",
                   unit_amount=50, package=package)  # fmt: skip
    sub = subscribe(api, customer_id, plan, tokens)
    settle(api)
    return clock_id, sub


def test_a_package_price_bills_started_packages_past_the_free_units(sandbox: Client) -> None:
    api = sandbox
    clock_id, sub = package_subscription(api, PACKAGE)
    advance(api, clock_id, 3)
    assert send(api, used("t1", 1, tokens="2000", model="large"),
                used("t2", 2, tokens="150", model="large"),
                used("t3", 2, tokens="80", model="small")) == ["created"] * 3  # fmt: skip
    path = f"/v1/subscriptions/{sub['id']}/upcoming_invoice"
    preview = usage_of(api.ok(api.get(path))["upcoming_invoice"])
    # 2,150 tokens: 2,050 past the free 100, 3 started packages of 1,000 at 50 cents;
    # 80 tokens are all free: a line of nothing.
    expected = [("tokens", "2150", {"model": "large"}, 3, 50, 150),
                ("tokens", "80", {"model": "small"}, 1, 0, 0)]  # fmt: skip
    assert preview == expected
    advance(api, clock_id, 29)  # the first period ends on 28 Feb: the renewal bills it
    renewal = invoices(api, sub)[1]
    assert usage_of(renewal) == expected  # as the preview showed
    assert renewal["total"] == 1000 + 150


def test_a_package_price_rounding_down_charges_only_full_packages(sandbox: Client) -> None:
    api = sandbox
    clock_id, sub = package_subscription(api, {**PACKAGE, "round": "down"})
    advance(api, clock_id, 3)
    assert send(api, used("t1", 1, tokens="2150", model="large")) == ["created"]
    advance(api, clock_id, 29)
    assert usage_of(invoices(api, sub)[1]) == [("tokens", "2150", {"model": "large"}, 2, 50, 100)]
    stored = api.ok(api.get(f"/v1/prices/{sub['items'][1]['price_id']}"))
    assert stored["package"] == {**PACKAGE, "round": "down"}


def test_a_package_price_without_its_package_or_another_price_with_one_is_refused(
    sandbox: Client,
) -> None:
    api = sandbox
    api.ok(api.post("/v1/meters", TOKENS), 201)
    api_product = product(api, "API")
    body = {"product_id": api_product, "currency": "EUR", "interval": "month",
            "meter": "tokens", "unit_amount": 5}  # fmt: skip
    missing = {**body, "lookup_key": "a", "scheme": "metered_package"}
    problem(api.post("/v1/prices", missing), 422, "invalid_combination")
    stray = {**body, "lookup_key": "b", "scheme": "metered", "package": PACKAGE}
    problem(api.post("/v1/prices", stray), 422, "invalid_combination")
    zero = {**missing, "package": {"size": 0}}
    problem(api.post("/v1/prices", zero), 422, "validation_error")


def test_a_catalog_file_publishes_a_package_price_once(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.replace("scheme: metered", "scheme: metered_package\n"
                                    "        package: {size: 500, free_units: 10}"))  # fmt: skip
    first = load(env, project, path)
    assert first["prices_created"] == 1
    written = head(tally)
    assert load(env, project, path)["prices_unchanged"] == 1
    assert head(tally) == written
    stored: Any = tally.store.repository.get(UUID(first["prices"]["API/api_tokens_eur"]))
    assert stored.package == {"size": 500, "round": "up", "free_units": 10}
