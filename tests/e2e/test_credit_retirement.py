"""Finished credit grants, over HTTP (issue 13): the balance retires them from its state
(``domain/credit_retirement.py``) and ``GET /v1/credit_grants`` still lists every grant,
oldest first, from ``credit_grants_retired``; the read models replay equal."""

from __future__ import annotations

from typing import Any

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


def _page(api: Client, cid: str, limit: int, after: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"customer": cid, "limit": limit}
    if after is not None:
        params["starting_after"] = after
    return api.ok(api.get("/v1/credit_grants", **params))


def test_pages_walk_retired_and_kept_grants_in_order_by_keyset(api: Client) -> None:
    """Pages of two (``(currency, seq)`` keyset: the retired grants in SQL, merged with
    the kept ones) add up to the whole list, a retired grant's or a kept grant's id
    continues it, and an unknown id answers an empty page as every list does."""
    cid = customer(api, "bea")
    for currency, amount, priority in [
        ("USD", 10, 0),
        ("EUR", 30, 0),
        ("EUR", 40, 9),
        ("EUR", 50, 0),
        ("USD", 60, 9),
        ("EUR", 70, 0),
    ]:
        body = {
            "customer_id": cid,
            "kind": "paid",
            "amount": amount,
            "currency": currency,
            "priority": priority,
        }
        api.ok(api.post("/v1/credit_grants", body), 201)  # fmt: skip
    for currency, spent in (("EUR", 50), ("USD", 60)):  # the later, high-priority ones
        use = {"customer_id": cid, "amount": spent, "currency": currency}
        api.ok(api.post("/v1/credits/consume", use), 201)
    whole = _page(api, cid, 100, None)
    assert not whole["has_more"]
    walked: list[dict[str, Any]] = []
    after = None
    while True:
        found = _page(api, cid, 2, after)
        walked += found["data"]
        if not found["has_more"]:
            break
        after = found["data"][-1]["id"]
    assert walked == whole["data"]
    assert [(g["currency"], g["remaining"]) for g in walked] == [
        ("EUR", 20), ("EUR", 0), ("EUR", 50), ("EUR", 70), ("USD", 10), ("USD", 0),
    ]  # fmt: skip
    assert _page(api, cid, 2, f"cg_{'0' * 32}_x") == {"object": "list", "data": [],
                                                       "has_more": False}  # fmt: skip
    assert _page(api, cid, 2, "nonsense")["data"] == []


def test_voiding_an_id_the_balance_never_had_is_not_found_even_after_it_retired_some(
    api: Client,
) -> None:
    """Before: 409 ``invalid_transition`` for any unknown id once a grant had retired."""
    cid = customer(api, "cal")
    grant = {"customer_id": cid, "kind": "paid", "amount": 100}
    made = api.ok(api.post("/v1/credit_grants", grant), 201)
    api.ok(api.post("/v1/credits/consume", {"customer_id": cid, "amount": 100}), 201)
    balance_hex = made["id"].split("_")[1]
    never = f"cg_{balance_hex}_{'f' * 16}"
    problem(api.post(f"/v1/credit_grants/{never}/void", {}), 404, "not_found")
    problem(api.post(f"/v1/credit_grants/{made['id']}/void", {}), 409, "invalid_transition")
