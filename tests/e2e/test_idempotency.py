"""Idempotency-Key: same key and body replays the first answer; another body is a 409."""

from __future__ import annotations

from api.bootstrap import Tally
from tests.e2e.conftest import Client, nothing_written


def test_same_key_same_body_replays_the_first_response_and_writes_once(
    api: Client, app_tally: Tally
) -> None:
    account_id = api.open_account()
    path = f"/v1/accounts/{account_id}/deposits"
    body = {"amount": 700, "currency": "EUR"}
    first = api.post(path, body, key="dep-1")
    assert first.status_code == 201
    assert "Idempotency-Replayed" not in first.headers
    with nothing_written(app_tally):
        again = api.post(path, body, key="dep-1")
    assert again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    assert "Tally-Position" in again.headers
    assert api.account(account_id)["ledger_balance"] == 700


def test_same_key_other_body_is_409_and_writes_nothing(api: Client, app_tally: Tally) -> None:
    account_id = api.open_account()
    path = f"/v1/accounts/{account_id}/deposits"
    api.ok(api.post(path, {"amount": 700, "currency": "EUR"}, key="dep-2"), 201)
    with nothing_written(app_tally):
        response = api.post(path, {"amount": 701, "currency": "EUR"}, key="dep-2")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert api.account(account_id)["ledger_balance"] == 700


def test_same_key_on_another_route_is_409(api: Client, app_tally: Tally) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 100)
    api.ok(
        api.post(f"/v1/accounts/{account_id}/deposits", {"amount": 5, "currency": "EUR"}, key="k"),
        201,
    )
    with nothing_written(app_tally):
        response = api.post(
            f"/v1/accounts/{account_id}/withdrawals", {"amount": 5, "currency": "EUR"}, key="k"
        )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"


def test_keys_are_scoped_to_the_project(api: Client, other: Client) -> None:
    body = {"owner_ref": "same", "currency": "EUR"}
    mine = api.ok(api.post("/v1/accounts", body, key="open-1"), 201)
    theirs = other.post("/v1/accounts", body, key="open-1")
    assert theirs.status_code == 201
    assert "Idempotency-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine["id"]


def test_replayed_refusal_is_refused_again_without_writing(api: Client, app_tally: Tally) -> None:
    account_id = api.open_account()
    path = f"/v1/accounts/{account_id}/withdrawals"
    first = api.post(path, {"amount": 5, "currency": "EUR"}, key="w-1")
    assert first.json()["code"] == "insufficient_funds"
    api.deposit(account_id, 100)
    # A refused command records no idempotency record, so the same key can be retried
    # once the refusal no longer holds.
    retried = api.post(path, {"amount": 5, "currency": "EUR"}, key="w-1")
    assert retried.status_code == 201
    assert api.account(account_id)["ledger_balance"] == 95


def test_invalid_idempotency_key_header_is_a_validation_error(api: Client) -> None:
    response = api.post("/v1/accounts", {"owner_ref": "x", "currency": "EUR"}, key="x" * 256)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
