"""Holds: place, capture (partial), void, expiry by the clock and by the sweeper."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from adapters.clock import FixedClock
from api.bootstrap import Tally
from api.settings import Settings
from tests.e2e.conftest import Client, nothing_written, serve


def _place(
    api: Client, account_id: str, amount: int, expires_at: str, **extra: object
) -> dict[str, Any]:
    body = {"amount": amount, "currency": "EUR", "expires_at": expires_at, **extra}
    return api.ok(api.post(f"/v1/accounts/{account_id}/holds", body), 201)


def _in(clock: FixedClock, seconds: int) -> str:
    return (clock.now() + timedelta(seconds=seconds)).isoformat()


def test_partial_capture_pays_destination_and_releases_the_rest(
    api: Client, clock: FixedClock
) -> None:
    payer = api.open_account("payer")
    shop = api.open_account("shop")
    api.deposit(payer, 1000)
    placed = _place(api, payer, 800, _in(clock, 600), destination_account_id=shop)
    hold_id = placed["id"]
    assert placed["account"]["held_balance"] == 800
    assert placed["account"]["available_balance"] == 200

    captured = api.ok(
        api.post(f"/v1/accounts/{payer}/holds/{hold_id}/capture", {"amount": 500}), 201
    )
    assert captured["hold"]["status"] == "captured"
    assert captured["hold"]["captured_amount"] == 500
    assert captured["transaction"]["kind"] == "capture"

    payer_now = api.account(payer)
    assert (payer_now["ledger_balance"], payer_now["held_balance"]) == (500, 0)
    assert api.account(shop)["ledger_balance"] == 500
    hold = api.ok(api.get(f"/v1/accounts/{payer}/holds/{hold_id}"))
    assert hold["status"] == "captured"
    assert hold["captured_amount"] == 500


def test_void_releases_the_hold_and_lists_filter_by_status(api: Client, clock: FixedClock) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 1000)
    voided_id = _place(api, account_id, 300, _in(clock, 600))["id"]
    active_id = _place(api, account_id, 200, _in(clock, 600))["id"]
    voided = api.ok(api.post(f"/v1/accounts/{account_id}/holds/{voided_id}/void"))
    assert voided["hold"]["status"] == "voided"
    assert voided["account"]["held_balance"] == 200

    active = api.ok(api.get(f"/v1/accounts/{account_id}/holds", status="active"))["data"]
    assert [h["id"] for h in active] == [active_id]
    every = api.ok(api.get(f"/v1/accounts/{account_id}/holds"))["data"]
    assert {h["id"] for h in every} == {voided_id, active_id}

    again = api.post(f"/v1/accounts/{account_id}/holds/{voided_id}/void")
    assert again.status_code == 409
    assert again.json()["code"] == "hold_not_active"


def test_capture_above_the_hold_is_refused_and_writes_nothing(
    api: Client, clock: FixedClock, app_tally: Tally
) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 1000)
    hold_id = _place(api, account_id, 300, _in(clock, 600))["id"]
    with nothing_written(app_tally):
        response = api.post(f"/v1/accounts/{account_id}/holds/{hold_id}/capture", {"amount": 301})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "capture_exceeds_hold"
    assert (problem["hold_amount"], problem["requested"]) == (300, 301)
    assert api.account(account_id)["held_balance"] == 300


def test_expired_hold_cannot_be_captured_and_the_sweeper_releases_it(
    api: Client, clock: FixedClock, app_tally: Tally
) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 1000)
    hold_id = _place(api, account_id, 400, _in(clock, 60))["id"]
    before = head = app_tally.store.recorder.max_notification_id()
    clock.advance(timedelta(seconds=61))

    # The sweeper (every 0.2 s in tests) may release the hold at any moment from now on,
    # so the capture is refused either as expired or, once swept, as no longer active.
    response = api.post(f"/v1/accounts/{account_id}/holds/{hold_id}/capture")
    assert response.status_code == 409
    assert response.json()["code"] in ("hold_expired", "hold_not_active")

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        head = app_tally.store.recorder.max_notification_id()
        if head != before:
            break
        time.sleep(0.05)
    api.position = max(api.position, head or 0)
    hold = api.ok(api.get(f"/v1/accounts/{account_id}/holds/{hold_id}"))
    assert hold["status"] == "expired"
    account = api.account(account_id)
    assert (account["held_balance"], account["available_balance"]) == (0, 1000)
    # Capture after the sweep: the hold is settled, and nothing is written.
    with nothing_written(app_tally):
        late = api.post(f"/v1/accounts/{account_id}/holds/{hold_id}/capture")
    assert late.json()["code"] == "hold_not_active"


def test_capture_of_an_expired_hold_is_refused_and_writes_nothing(
    settings: Settings, clock: FixedClock
) -> None:
    # Without the sweeper, so that the hold is still active (and past due) when captured.
    with serve(settings.model_copy(update={"run_sweeper": False}), clock) as api:
        account_id = api.open_account()
        api.deposit(account_id, 1000)
        hold_id = _place(api, account_id, 400, _in(clock, 60))["id"]
        clock.advance(timedelta(seconds=60))
        with nothing_written(api.tally):
            response = api.post(f"/v1/accounts/{account_id}/holds/{hold_id}/capture")
        assert response.status_code == 409
        assert response.json()["code"] == "hold_expired"
        hold = api.ok(api.get(f"/v1/accounts/{account_id}/holds/{hold_id}"))
        assert hold["status"] == "active"
        assert api.account(account_id)["ledger_balance"] == 1000


def test_hold_with_past_expiry_is_refused(api: Client, clock: FixedClock) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 1000)
    response = api.post(
        f"/v1/accounts/{account_id}/holds",
        {"amount": 1, "currency": "EUR", "expires_at": _in(clock, -1)},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "time_not_in_future"


def test_hold_expiry_without_a_timezone_is_a_validation_error(
    api: Client, clock: FixedClock, app_tally: Tally
) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 1000)
    naive = (clock.now() + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    with nothing_written(app_tally):
        response = api.post(
            f"/v1/accounts/{account_id}/holds",
            {"amount": 1, "currency": "EUR", "expires_at": naive},
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expires_at"
