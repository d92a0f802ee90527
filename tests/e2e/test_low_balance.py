"""Low balance over HTTP (issue 12): the threshold is set at open and by its route, shown by
GET and list, and ``billing.wallet.balance_low`` is published once per fall below it,
carrying the account as GET answers it."""

from __future__ import annotations

from typing import Any

from api.integration_events import envelope, event_model
from domain.limits import MAX_AMOUNT_MINOR
from projections.integration_events import events_after
from projections.runner import wait_for_position
from tests.e2e.conftest import Client


def lows(api: Client) -> list[dict[str, Any]]:
    assert wait_for_position(api.tally.views, api.tally.schema, api.position, 10)
    rows = events_after(api.tally.views, api.tally.schema, api.project_id, 0, 1000)
    events = [envelope(r, api.tally) for r in rows]
    return [e for e in events if e["type"] == "billing.wallet.balance_low"]


def withdraw(api: Client, account_id: str, amount: int) -> None:
    body = {"amount": amount, "currency": "EUR"}
    api.ok(api.post(f"/v1/accounts/{account_id}/withdrawals", body), 201)


def set_threshold(api: Client, account_id: str, threshold: int | None) -> Any:
    body = {"low_balance_threshold": threshold}
    return api.post(f"/v1/accounts/{account_id}/low_balance_threshold", body)


def test_balance_low_is_published_once_per_fall_with_the_account_as_get_answers_it(
    api: Client,
) -> None:
    account_id = api.open_account("ada")
    assert api.account(account_id)["low_balance_threshold"] is None
    api.deposit(account_id, 1000)
    answer = api.ok(set_threshold(api, account_id, 500))
    assert answer["account"]["low_balance_threshold"] == 500
    withdraw(api, account_id, 400)  # 600: above
    assert lows(api) == []
    withdraw(api, account_id, 200)  # 400: below, once
    events = lows(api)
    account = api.account(account_id)
    assert [e["data"]["object"] for e in events] == [account]
    assert (account["available_balance"], account["low_balance_threshold"]) == (400, 500)
    withdraw(api, account_id, 100)  # still below
    assert lows(api) == events
    event_model("billing.wallet.balance_low").model_validate(events[0])
    api.deposit(account_id, 200)  # 500: at the threshold re-arms
    withdraw(api, account_id, 1)
    assert len(lows(api)) == 2
    # Same threshold again: nothing changes; null clears and re-arms; raising it fires.
    again = set_threshold(api, account_id, 500)
    assert again.status_code == 200, again.text
    api.ok(set_threshold(api, account_id, None))
    assert api.account(account_id)["low_balance_threshold"] is None
    api.ok(set_threshold(api, account_id, 10_000))
    assert len(lows(api)) == 3


def test_a_threshold_set_at_open_is_listed_and_fires_for_an_empty_account(api: Client) -> None:
    account_id = api.open_account("bob", low_balance_threshold=100)
    listed = api.ok(api.get("/v1/accounts"))["data"]
    assert [a["low_balance_threshold"] for a in listed if a["id"] == account_id] == [100]
    assert [e["data"]["object"]["id"] for e in lows(api)] == [account_id]


def test_a_threshold_outside_the_money_limits_or_on_a_closed_account_is_refused(
    api: Client, other: Client
) -> None:
    for bad in (-1, MAX_AMOUNT_MINOR + 1, "5", 1.5):
        opened = api.post(
            "/v1/accounts", {"owner_ref": "c", "currency": "EUR", "low_balance_threshold": bad}
        )
        assert opened.status_code == 422, (bad, opened.text)
    account_id = api.open_account("carol")
    assert set_threshold(api, account_id, -1).status_code == 422
    assert (
        other.post(
            f"/v1/accounts/{account_id}/low_balance_threshold", {"low_balance_threshold": 1}
        ).json()["code"]
        == "not_found"
    )
    api.ok(api.post(f"/v1/accounts/{account_id}/close", None))
    assert set_threshold(api, account_id, 1).json()["code"] == "account_closed"
    assert api.account(account_id)["low_balance_threshold"] is None


def test_the_openapi_document_states_the_threshold_limits(api: Client) -> None:
    spec = api.ok(api.get("/openapi.json"))
    request = spec["components"]["schemas"]["LowBalanceThresholdRequest"]
    field = request["properties"]["low_balance_threshold"]
    bounds = [s for s in field["anyOf"] if s.get("type") == "integer"]
    assert bounds == [{"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT_MINOR}]
    assert "/v1/accounts/{account_id}/low_balance_threshold" in spec["paths"]
