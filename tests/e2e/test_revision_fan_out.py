"""A product revision's fan-out is bounded before it is recorded (issue 12 follow-up):
a revision of a product's name or features that would change the entitlements of more
customers than ``max_revision_fan_out`` answers 409 ``limit_reached`` and writes
nothing, through the API and through a catalog file; a definition that revises nothing
is not refused, and a revision within the bound is recorded and fanned out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from api.catalog_file import load
from api.settings import Settings
from domain.errors import LimitReached
from tests.e2e.billing import customer, price, product, subscribe
from tests.e2e.conftest import Client, head, nothing_written, serve


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"max_revision_fan_out": 2}), clock) as client:
        yield client


def define(api: Client, name: str, features: list[str]) -> int:
    body = {"code": "TEAM", "name": name, "features": features}
    return api.post("/v1/products", body).status_code


def test_a_revision_reaching_more_customers_than_the_bound_is_refused(shop: Client) -> None:
    team = product(shop, "TEAM", ["audit"])
    monthly = price(shop, team, "team_monthly", unit_amount=2000)
    subscriptions = [subscribe(shop, customer(shop, f"user_{i}"), monthly) for i in range(3)]
    with nothing_written(shop.tally):
        response = shop.post("/v1/products", {"code": "TEAM", "name": "Team", "features": ["sso"]})
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "limit_reached"
        # Defining it again as it is revises nothing: not refused.
        assert define(shop, "Team", ["audit"]) == 200
    assert shop.ok(shop.get(f"/v1/products/{team}"))["features"] == ["audit"]
    # One customer fewer is within the bound: the revision is recorded.
    shop.ok(shop.post(f"/v1/subscriptions/{subscriptions[2]['id']}/cancel", {}))
    before = head(shop.tally)
    assert define(shop, "Team", ["audit", "sso"]) == 200
    assert head(shop.tally) > before
    assert shop.ok(shop.get(f"/v1/products/{team}"))["features"] == ["audit", "sso"]


def test_a_catalog_file_with_a_revision_past_the_bound_writes_nothing(
    shop: Client, tmp_path: Path
) -> None:
    team = product(shop, "TEAM", ["audit"])
    monthly = price(shop, team, "team_monthly", unit_amount=2000)
    for i in range(3):
        subscribe(shop, customer(shop, f"user_{i}"), monthly)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "products:\n"
        "  - code: SOLO\n    name: Solo\n    features: [solo]\n"
        "  - code: TEAM\n    name: Team\n    features: [audit, sso]\n",
        encoding="utf-8",
    )
    with nothing_written(shop.tally), pytest.raises(LimitReached):
        load(shop.tally, shop.project_id, catalog)
