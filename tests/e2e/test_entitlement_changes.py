"""``billing.entitlements.changed`` (issue 12), end to end: an auth-service style receiver,
subscribed to that type only, sees a customer's whole set after each change of it, once
per change and in order; nothing when a change leaves the set as it was; a product's
revision reaches every customer it grants to. A replay of the log gives the same rows."""

from __future__ import annotations

from typing import Any

from projections.replay import replay
from tests.e2e.billing import customer, price, product, subscribe
from tests.e2e.conftest import Client
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import endpoint, hooks_http, hooks_tally, sandbox

# A test-mode project whose webhooks the test delivers itself (drain).
__all__ = ["hooks_http", "hooks_tally", "sandbox"]  # the fixtures, used by name

CHANGED = "billing.entitlements.changed"


class AuthService:
    """What an auth service keeps: each customer's set, replaced by every event."""

    def __init__(self, api: Client, receiver: Receiver) -> None:
        self.api, self.receiver, self.seen = api, receiver, 0
        self.sets: dict[str, dict[str, Any]] = {}

    def new_events(self) -> list[dict[str, Any]]:
        """The events that arrived since the last call (after delivering what is due)."""
        self.api.tally.webhooks.drain()
        fresh = self.receiver.received[self.seen :]
        self.seen = len(self.receiver.received)
        for event in fresh:
            assert event["type"] == CHANGED
            self.sets[event["data"]["object"]["customer_id"]] = event["data"]["object"]
        return fresh

    def granted(self, customer_id: str) -> tuple[list[str], dict[str, int]]:
        found = self.sets[customer_id]
        return found["features"], found["seats"]


def entitlements(api: Client, customer_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(api.get(f"/v1/customers/{customer_id}/entitlements"))
    return found


def revise(api: Client, code: str, name: str, features: list[str]) -> None:
    body = {"code": code, "name": name, "features": features}
    api.ok(api.post("/v1/products", body))


def change_items(api: Client, subscription_id: str, *price_ids: str, quantity: int = 1) -> None:
    items = [{"price_id": p, "quantity": quantity} for p in price_ids]
    api.ok(api.post(f"/v1/subscriptions/{subscription_id}/items", {"items": items}))


def test_an_auth_service_sees_each_change_of_the_set_once_in_order(
    sandbox: Client, receiver: Receiver
) -> None:
    endpoint(sandbox, receiver, enabled_events=[CHANGED])
    auth = AuthService(sandbox, receiver)
    pro = product(sandbox, "PRO", ["api", "sso"])
    pro_monthly = price(sandbox, pro, "pro_monthly", unit_amount=900)
    pro_discounted = price(sandbox, pro, "pro_discounted", unit_amount=700)
    team = product(sandbox, "TEAM", ["audit"])
    team_monthly = price(sandbox, team, "team_monthly", unit_amount=2000)
    ada = customer(sandbox, "ada")
    assert auth.new_events() == []  # no subscription: the empty set, unchanged

    subscription = subscribe(sandbox, ada, pro_monthly)
    created = auth.new_events()
    assert len(created) == 1
    assert created[0]["data"]["object"] == entitlements(sandbox, ada)
    assert auth.granted(ada) == (["api", "sso"], {"PRO": 1})

    change_items(sandbox, subscription["id"], team_monthly, quantity=3)
    assert [e["data"]["object"]["seats"] for e in auth.new_events()] == [{"TEAM": 3}]
    assert auth.granted(ada) == (["audit"], {"TEAM": 3})

    # Another price of the same plan, same quantity: the items changed, the set did not.
    change_items(sandbox, subscription["id"], team_monthly, quantity=3)
    change_items(sandbox, subscription["id"], pro_monthly)
    change_items(sandbox, subscription["id"], pro_discounted)
    assert [e["data"]["object"]["features"] for e in auth.new_events()] == [["api", "sso"]]

    sandbox.ok(sandbox.post(f"/v1/subscriptions/{subscription['id']}/cancel", {}))
    ended = auth.new_events()
    assert [e["data"]["object"] for e in ended] == [entitlements(sandbox, ada)]
    assert auth.granted(ada) == ([], {})
    # Every event once, in (position, ordinal) order, each with its own id.
    keys = [(e["position"], e["ordinal"]) for e in receiver.received]
    assert keys == sorted(keys)
    assert all(ordinal >= 1 for _, ordinal in keys)
    assert len(set(receiver.ids())) == len(receiver.received) == 4


def test_a_product_revision_fans_out_to_every_customer_it_grants_to(
    sandbox: Client, receiver: Receiver
) -> None:
    endpoint(sandbox, receiver, enabled_events=[CHANGED])
    auth = AuthService(sandbox, receiver)
    team = product(sandbox, "TEAM", ["audit"])
    team_monthly = price(sandbox, team, "team_monthly", unit_amount=2000)
    unused = product(sandbox, "SOLO", ["solo"])
    price(sandbox, unused, "solo_monthly", unit_amount=100)
    customers = [customer(sandbox, f"user_{i}") for i in range(3)]
    subscriptions = [subscribe(sandbox, c, team_monthly) for c in customers]
    assert len(auth.new_events()) == 3
    sandbox.ok(sandbox.post(f"/v1/subscriptions/{subscriptions[2]['id']}/cancel", {}))
    assert len(auth.new_events()) == 1

    revise(sandbox, "TEAM", "Team", ["audit", "sso"])
    fanned = auth.new_events()
    # One event per customer it still grants to (not the canceled one), at one position.
    assert sorted(e["data"]["object"]["customer_id"] for e in fanned) == sorted(customers[:2])
    assert len({e["position"] for e in fanned}) == 1
    assert [e["ordinal"] for e in fanned] == [1, 2]
    for c in customers[:2]:
        assert auth.sets[c] == entitlements(sandbox, c)
        assert auth.granted(c) == (["audit", "sso"], {"TEAM": 1})

    revise(sandbox, "TEAM", "Team", ["audit", "sso"])  # the same: nothing recorded
    revise(sandbox, "SOLO", "Solo", ["solo", "more"])  # no subscriber
    assert auth.new_events() == []
    revise(sandbox, "TEAM", "Team plan", ["audit", "sso"])  # the plan's name is in the set
    assert [e["data"]["object"]["plans"][0]["name"] for e in auth.new_events()] == [
        "Team plan",
        "Team plan",
    ]

    report = replay(sandbox.tally.store, sandbox.tally.views, sandbox.tally.schema, progress=False)
    assert report.ok, report.summary()
