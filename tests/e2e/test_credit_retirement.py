"""Finished credit grants, over HTTP (issue 13): the balance retires them from its state
(``domain/credit_retirement.py``) and ``GET /v1/credit_grants`` still lists every grant,
oldest first, from ``credit_grants_retired``; the read models replay equal."""

from __future__ import annotations

from tests.e2e.billing import customer, problem
from tests.e2e.conftest import Client
from tests.e2e.test_credit_purchases import books, credits_of
from tests.e2e.test_payments import replayed_equal


def test_spent_grants_are_still_listed_and_replay_equal(api: Client) -> None:
    cid = customer(api, "ada")
    made = [
        api.ok(api.post("/v1/credit_grants", {"customer_id": cid, "kind": "paid",
                                              "amount": amount}), 201)
        for amount in (100, 200, 300)
    ]  # fmt: skip
    consume = {"customer_id": cid, "amount": 250}
    api.ok(api.post("/v1/credits/consume", consume), 201)  # the first and half the second
    api.ok(api.post("/v1/credits/consume", consume), 201)  # the rest of the second, and 100
    listed = credits_of(api, cid)
    assert [g["id"] for g in listed] == [g["id"] for g in made]
    assert [(g["remaining"], g["consumed"]) for g in listed] == [(0, 100), (0, 200), (100, 200)]
    assert all(g["currency"] == "EUR" and g["customer_id"] == cid for g in listed)
    problem(api.post(f"/v1/credit_grants/{made[0]['id']}/void", {}), 409, "invalid_transition")
    later = api.ok(api.post("/v1/credit_grants", {"customer_id": cid, "kind": "paid",
                                                  "amount": 5}), 201)  # fmt: skip
    # After the retired ones (its order number follows theirs, never reuses one).
    assert [g["id"] for g in credits_of(api, cid)] == [*(g["id"] for g in made), later["id"]]
    assert books(api)["accounts"][f"credits:{cid}"] == 105
    replayed_equal(api)
