"""Every bad request is refused with its problem code, and nothing is written.

Each test records the log's head before the request and checks it after: a refusal
must leave the event store exactly as it was (and the balances with it).
"""

from __future__ import annotations

from typing import Any

import pytest

from api.bootstrap import Tally
from tests.e2e.conftest import Client, nothing_written


def _refused(
    api: Client, tally: Tally, path: str, body: Any, status: int, code: str
) -> dict[str, Any]:
    with nothing_written(tally):
        response = api.post(path, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["type"] == f"urn:tally:problem:{code}"
    assert problem["title"]
    assert problem["detail"]
    return problem


@pytest.fixture
def funded(api: Client) -> str:
    account_id = api.open_account("funded")
    api.deposit(account_id, 1000)
    return account_id


@pytest.mark.parametrize(
    ("amount", "why"),
    [(0, "zero"), (-5, "negative"), (12.5, "float"), ("1250", "string"), (True, "bool")],
)
def test_bad_amounts_are_validation_errors_and_write_nothing(
    api: Client, app_tally: Tally, funded: str, amount: Any, why: str
) -> None:
    problem = _refused(
        api,
        app_tally,
        f"/v1/accounts/{funded}/deposits",
        {"amount": amount, "currency": "EUR"},
        422,
        "validation_error",
    )
    assert [e["field"] for e in problem["errors"]] == ["amount"], why
    assert api.account(funded)["ledger_balance"] == 1000


def test_float_amount_in_a_transfer_is_refused(api: Client, app_tally: Tally, funded: str) -> None:
    other = api.open_account("other")
    body = {"from_account_id": funded, "to_account_id": other, "amount": 1.0, "currency": "EUR"}
    _refused(api, app_tally, "/v1/transfers", body, 422, "validation_error")
    assert api.account(other)["ledger_balance"] == 0


def test_unknown_currency_is_refused_when_opening_and_depositing(
    api: Client, app_tally: Tally, funded: str
) -> None:
    _refused(
        api,
        app_tally,
        "/v1/accounts",
        {"owner_ref": "x", "currency": "EUX"},
        422,
        "unknown_currency",
    )
    problem = _refused(
        api,
        app_tally,
        f"/v1/accounts/{funded}/deposits",
        {"amount": 1, "currency": "XAU"},
        422,
        "unknown_currency",
    )
    assert problem["currency"] == "XAU"


def test_currency_mismatch_is_refused(api: Client, app_tally: Tally, funded: str) -> None:
    problem = _refused(
        api,
        app_tally,
        f"/v1/accounts/{funded}/deposits",
        {"amount": 1, "currency": "USD"},
        422,
        "currency_mismatch",
    )
    assert (problem["account_currency"], problem["currency"]) == ("EUR", "USD")
    assert api.account(funded)["ledger_balance"] == 1000


def test_unknown_account_is_not_found(api: Client, app_tally: Tally) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    _refused(
        api,
        app_tally,
        f"/v1/accounts/{missing}/deposits",
        {"amount": 1, "currency": "EUR"},
        404,
        "not_found",
    )
    assert api.get(f"/v1/accounts/{missing}").json()["code"] == "not_found"


def test_frozen_account_refuses_withdrawals(api: Client, app_tally: Tally, funded: str) -> None:
    api.ok(api.post(f"/v1/accounts/{funded}/freeze"))
    _refused(
        api,
        app_tally,
        f"/v1/accounts/{funded}/withdrawals",
        {"amount": 1, "currency": "EUR"},
        409,
        "account_frozen",
    )
    assert api.account(funded)["ledger_balance"] == 1000


def test_closed_account_refuses_deposits(api: Client, app_tally: Tally) -> None:
    account_id = api.open_account("closing")
    api.ok(api.post(f"/v1/accounts/{account_id}/close"))
    _refused(
        api,
        app_tally,
        f"/v1/accounts/{account_id}/deposits",
        {"amount": 1, "currency": "EUR"},
        409,
        "account_closed",
    )
    assert api.account(account_id)["ledger_balance"] == 0


def test_insufficient_funds_names_the_amounts(api: Client, app_tally: Tally, funded: str) -> None:
    problem = _refused(
        api,
        app_tally,
        f"/v1/accounts/{funded}/withdrawals",
        {"amount": 1001, "currency": "EUR"},
        422,
        "insufficient_funds",
    )
    assert (problem["available"], problem["requested"]) == (1000, 1001)
    assert api.account(funded)["ledger_balance"] == 1000


def test_transfer_to_self_is_refused(api: Client, app_tally: Tally, funded: str) -> None:
    body = {"from_account_id": funded, "to_account_id": funded, "amount": 1, "currency": "EUR"}
    _refused(api, app_tally, "/v1/transfers", body, 422, "invalid_combination")


def test_second_account_for_same_owner_and_currency_already_exists(
    api: Client, app_tally: Tally, funded: str
) -> None:
    problem = _refused(
        api,
        app_tally,
        "/v1/accounts",
        {"owner_ref": "funded", "currency": "EUR"},
        409,
        "already_exists",
    )
    assert problem["account_id"] == funded


def test_unknown_fields_and_missing_fields_are_listed(
    api: Client, app_tally: Tally, funded: str
) -> None:
    problem = _refused(
        api,
        app_tally,
        f"/v1/accounts/{funded}/deposits",
        {"amuont": 5, "currency": "EUR"},
        422,
        "validation_error",
    )
    assert sorted(e["field"] for e in problem["errors"]) == ["amount", "amuont"]
