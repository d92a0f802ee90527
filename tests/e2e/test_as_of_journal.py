"""``as_of`` on an account's statement (its journal entries), its transactions and the
trial balance (docs/audit.md "Point in time"): what each answered live at every
position of a history of deposits (one pending, then confirmed), withdrawals, transfers
and a reversal equals what it answers ``as_of`` that position afterwards; before the
account existed its statement is 404."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Client


def _live(api: Client, account: str) -> tuple[Any, Any, Any]:
    entries = api.ok(api.get(f"/v1/accounts/{account}/entries", limit=100))
    moves = api.ok(api.get(f"/v1/accounts/{account}/transactions", limit=100))
    return entries, api.ok(api.get("/v1/reports/trial_balance")), moves


def test_statement_and_trial_balance_as_of_equal_their_live_answers(
    api: Client, other: Client
) -> None:
    alice = api.open_account("alice")
    bob = api.open_account("bob")
    before_carol = api.position
    carol = api.open_account("carol", "USD")
    seen: dict[int, tuple[Any, Any, Any]] = {api.position: _live(api, alice)}
    writes = [
        ("/v1/accounts/{a}/deposits", {"amount": 5_000, "currency": "EUR"}),
        (
            "/v1/transfers",
            {"from_account_id": alice, "to_account_id": bob, "amount": 1_200, "currency": "EUR"},
        ),
        ("/v1/accounts/{a}/withdrawals", {"amount": 300, "currency": "EUR"}),
        ("/v1/accounts/{c}/deposits", {"amount": 70, "currency": "USD"}),
        ("/v1/accounts/{a}/deposits", {"amount": 9, "currency": "EUR"}),
    ]
    for path, body in writes:
        api.ok(api.post(path.format(a=alice, c=carol), body), 201)
        seen[api.position] = _live(api, alice)
    pending = api.deposit(alice, 40, pending=True)["transaction"]["id"]
    seen[api.position] = _live(api, alice)
    api.ok(api.post(f"/v1/transactions/{pending}/confirm"))
    seen[api.position] = _live(api, alice)
    api.ok(api.post(f"/v1/transactions/{pending}/reverse", {"amount": 15}))
    seen[api.position] = _live(api, alice)
    assert len({str(v) for v in seen.values()}) == len(seen)  # every write changed them
    for position, (entries, trial, moves) in seen.items():
        listed = api.get(f"/v1/accounts/{alice}/transactions", limit=100, as_of=str(position))
        assert api.ok(listed) == moves, position
        paged = api.ok(api.get(f"/v1/accounts/{alice}/transactions", limit=2, as_of=str(position)))
        assert paged["data"] == moves["data"][:2]
        assert paged["has_more"] == (len(moves["data"]) > 2)
        past = api.get(f"/v1/accounts/{alice}/entries", limit=100, as_of=str(position))
        assert api.ok(past) == entries, position
        assert past.headers["Tally-As-Of-Position"] == str(position)
        book = api.get("/v1/reports/trial_balance", as_of=str(position))
        assert api.ok(book) == trial, position
        assert book.headers["Tally-As-Of-Position"] == str(position)
    # Before carol's account was opened its statement did not exist.
    early = api.get(f"/v1/accounts/{carol}/entries", as_of=str(before_carol))
    assert early.status_code == 404
    # Another project sees neither the account nor any of these postings.
    assert other.get(f"/v1/accounts/{alice}/entries", as_of="1").status_code == 404
    theirs = other.ok(other.get("/v1/reports/trial_balance", as_of=str(api.position)))
    assert theirs["currencies"] == {}
