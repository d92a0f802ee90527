"""The happy path over HTTP: open, deposit, withdraw, transfer, and read it all back."""

from __future__ import annotations

from tests.e2e.conftest import Client


def test_open_deposit_withdraw_updates_balances_and_read_model(api: Client) -> None:
    account_id = api.open_account("alice")
    deposited = api.deposit(account_id, 1250, source="stripe", external_ref="pi_1")
    assert deposited["account"]["ledger_balance"] == 1250
    assert deposited["transaction"]["state"] == "completed"
    assert deposited["transaction"]["from"] == "clearing:stripe"

    withdrawn = api.ok(
        api.post(
            f"/v1/accounts/{account_id}/withdrawals",
            {"amount": 300, "currency": "EUR", "destination": "bank"},
        ),
        201,
    )
    assert withdrawn["account"]["available_balance"] == 950

    account = api.account(account_id)
    assert account["ledger_balance"] == 950
    assert account["available_balance"] == 950
    assert account["status"] == "open"
    assert "position" not in account  # read-model bookkeeping stays inside


def test_write_responses_carry_their_log_position(api: Client) -> None:
    response = api.post("/v1/accounts", {"owner_ref": "pos", "currency": "EUR"})
    first = int(response.headers["Tally-Position"])
    account_id = response.json()["id"]
    second = api.post(f"/v1/accounts/{account_id}/deposits", {"amount": 1, "currency": "EUR"})
    assert int(second.headers["Tally-Position"]) > first
    assert "Idempotency-Replayed" not in second.headers


def test_transfer_moves_money_between_accounts_and_posts_balanced_entries(api: Client) -> None:
    alice = api.open_account("alice")
    bob = api.open_account("bob")
    api.deposit(alice, 1000)
    result = api.ok(
        api.post(
            "/v1/transfers",
            {"from_account_id": alice, "to_account_id": bob, "amount": 400, "currency": "EUR"},
        ),
        201,
    )
    assert result["from_account"]["ledger_balance"] == 600
    assert result["to_account"]["ledger_balance"] == 400
    transaction_id = result["transaction"]["id"]

    assert api.account(alice)["ledger_balance"] == 600
    assert api.account(bob)["ledger_balance"] == 400
    entries = api.ok(api.get(f"/v1/accounts/{bob}/entries"))["data"]
    assert [e["amount"] for e in entries] == [400]
    assert entries[0]["transaction_id"] == transaction_id
    assert sum(p["amount"] for p in entries[0]["postings"]) == 0

    alice_entries = api.ok(api.get(f"/v1/accounts/{alice}/entries"))["data"]
    assert [e["amount"] for e in alice_entries] == [1000, -400]

    txn = api.ok(api.get(f"/v1/transactions/{transaction_id}"))
    assert txn["kind"] == "transfer"
    assert txn["from"] == f"wallet:{alice}"
    assert txn["to"] == f"wallet:{bob}"

    listed = api.ok(api.get(f"/v1/accounts/{alice}/transactions"))["data"]
    assert [t["kind"] for t in listed] == ["deposit", "transfer"]


def test_system_accounts_mirror_the_money_that_came_in(api: Client) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 700, source="stripe")
    rows = api.ok(api.get("/v1/system_accounts"))["data"]
    assert {"account": "clearing:stripe", "currency": "EUR", "balance": -700} in rows


def test_accounts_list_pages_with_cursor_and_filters_by_owner(api: Client) -> None:
    ids = [api.open_account(f"owner-{i}") for i in range(5)]
    api.open_account("owner-0", currency="USD")

    first = api.ok(api.get("/v1/accounts", limit=2))
    assert first["has_more"] is True
    assert len(first["data"]) == 2
    seen = [a["id"] for a in first["data"]]
    cursor = seen[-1]
    while True:
        page = api.ok(api.get("/v1/accounts", limit=2, starting_after=cursor))
        seen += [a["id"] for a in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    assert len(seen) == 6
    assert len(set(seen)) == 6
    assert set(ids) <= set(seen)

    owned = api.ok(api.get("/v1/accounts", owner_ref="owner-0"))["data"]
    assert sorted(a["currency"] for a in owned) == ["EUR", "USD"]


def test_entries_and_transactions_lists_paginate(api: Client) -> None:
    account_id = api.open_account()
    for amount in (1, 2, 3):
        api.deposit(account_id, amount)
    page = api.ok(api.get(f"/v1/accounts/{account_id}/entries", limit=2))
    assert [e["amount"] for e in page["data"]] == [1, 2]
    assert page["has_more"] is True
    rest = api.ok(
        api.get(
            f"/v1/accounts/{account_id}/entries", limit=2, starting_after=page["data"][-1]["id"]
        )
    )
    assert [e["amount"] for e in rest["data"]] == [3]
    assert rest["has_more"] is False

    txns = api.ok(api.get(f"/v1/accounts/{account_id}/transactions", limit=3))
    assert [t["amount"] for t in txns["data"]] == [1, 2, 3]
    assert txns["has_more"] is False


def test_list_limit_outside_1_to_100_is_a_validation_error(api: Client) -> None:
    for limit in (0, 101):
        response = api.get("/v1/accounts", limit=limit)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"
        assert response.json()["errors"][0]["field"] == "limit"
