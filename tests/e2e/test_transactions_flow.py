"""Pending deposits (confirm, fail), reversals (partial, full) and account lifecycle."""

from __future__ import annotations

from tests.e2e.conftest import Client


def test_pending_deposit_credits_only_when_confirmed(api: Client) -> None:
    account_id = api.open_account()
    pending = api.deposit(account_id, 5000, source="stripe", pending=True)
    transaction_id = pending["transaction"]["id"]
    assert pending["transaction"]["state"] == "processing"
    assert api.account(account_id)["ledger_balance"] == 0

    confirmed = api.ok(api.post(f"/v1/transactions/{transaction_id}/confirm"))
    assert confirmed["transaction"]["state"] == "completed"
    assert api.account(account_id)["ledger_balance"] == 5000
    assert api.ok(api.get(f"/v1/transactions/{transaction_id}"))["state"] == "completed"

    again = api.post(f"/v1/transactions/{transaction_id}/confirm")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_failed_pending_deposit_never_credits(api: Client) -> None:
    account_id = api.open_account()
    pending = api.deposit(account_id, 5000, pending=True)
    transaction_id = pending["transaction"]["id"]
    failed = api.ok(
        api.post(f"/v1/transactions/{transaction_id}/fail", {"reason": "card declined"})
    )
    assert failed["transaction"]["state"] == "failed"
    txn = api.ok(api.get(f"/v1/transactions/{transaction_id}"))
    assert txn["state"] == "failed"
    assert txn["failure_reason"] == "card declined"
    assert api.account(account_id)["ledger_balance"] == 0
    confirm = api.post(f"/v1/transactions/{transaction_id}/confirm")
    assert confirm.status_code == 409
    assert confirm.json()["code"] == "invalid_transition"


def test_partial_then_full_reversal_returns_money_and_stops_at_the_amount(api: Client) -> None:
    alice = api.open_account("alice")
    bob = api.open_account("bob")
    api.deposit(alice, 1000)
    transfer = api.ok(
        api.post(
            "/v1/transfers",
            {"from_account_id": alice, "to_account_id": bob, "amount": 600, "currency": "EUR"},
        ),
        201,
    )
    transaction_id = transfer["transaction"]["id"]

    partial = api.ok(
        api.post(f"/v1/transactions/{transaction_id}/reverse", {"amount": 200, "reason": "x"})
    )
    assert partial["transaction"]["reversed_amount"] == 200
    assert api.account(alice)["ledger_balance"] == 600
    assert api.account(bob)["ledger_balance"] == 400

    rest = api.ok(api.post(f"/v1/transactions/{transaction_id}/reverse"))
    assert rest["transaction"]["reversed_amount"] == 600
    assert rest["transaction"]["state"] == "reversed"
    assert api.account(alice)["ledger_balance"] == 1000
    assert api.account(bob)["ledger_balance"] == 0

    over = api.post(f"/v1/transactions/{transaction_id}/reverse", {"amount": 1})
    assert over.status_code == 422
    assert over.json()["code"] == "reversal_exceeds_amount"
    entries = api.ok(api.get(f"/v1/accounts/{bob}/entries"))["data"]
    assert [e["amount"] for e in entries] == [600, -200, -400]


def test_freeze_blocks_movements_until_unfreeze_and_close_needs_zero(api: Client) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 100)
    frozen = api.ok(api.post(f"/v1/accounts/{account_id}/freeze", {"reason": "review"}))
    assert frozen["account"]["status"] == "frozen"
    refused = api.post(f"/v1/accounts/{account_id}/deposits", {"amount": 1, "currency": "EUR"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "account_frozen"

    assert api.ok(api.post(f"/v1/accounts/{account_id}/unfreeze"))["account"]["status"] == "open"
    not_empty = api.post(f"/v1/accounts/{account_id}/close")
    assert not_empty.status_code == 409
    assert not_empty.json()["code"] == "account_not_empty"

    api.ok(
        api.post(f"/v1/accounts/{account_id}/withdrawals", {"amount": 100, "currency": "EUR"}),
        201,
    )
    closed = api.ok(api.post(f"/v1/accounts/{account_id}/close"))
    assert closed["account"]["status"] == "closed"
    assert api.account(account_id)["status"] == "closed"
