"""Rate limits per customer (issue 14): one bucket per customer of a project, whichever of
its tokens it shows, under the project's ``customer`` policy; other customers and the
project's own key are counted apart."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.bootstrap import Tally
from tests.e2e.billing import customer
from tests.e2e.conftest import Client
from tests.e2e.test_customer_access import as_customer, sealed_tally, shop, start_session, web
from tests.e2e.test_rate_limits import set_limit

__all__ = ["sealed_tally", "shop", "web"]  # fixtures used by name below


def test_a_customer_has_one_bucket_across_its_tokens(
    web: TestClient, sealed_tally: Tally, shop: Client
) -> None:
    alice, bob = customer(shop, "alice"), customer(shop, "bob")
    first, second = start_session(shop, alice), start_session(shop, alice)
    other = start_session(shop, bob)
    set_limit(sealed_tally, shop, "customer", 3, 60)

    def me(session: dict[str, str]) -> int:
        headers = as_customer(web, session["token"])
        params = {"wait_for_position": shop.position}
        return int(web.get("/v1/me", headers=headers, params=params).status_code)

    assert [me(first), me(second), me(first)] == [200, 200, 200]
    refused = web.get("/v1/me", headers=as_customer(web, second["token"]))
    assert refused.status_code == 429, refused.text
    assert refused.headers["RateLimit-Policy"] == '"customer";q=3;w=60'
    assert me(other) == 200  # bob's bucket is his own
    assert shop.get("/v1/customers").status_code == 200  # and the project key's
