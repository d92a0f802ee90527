"""``as_of`` on an account (docs/audit.md "Point in time"): for random histories of
deposits, withdrawals, transfers, holds, freezes and thresholds, the account asked
``as_of`` a position afterwards equals what ``GET /v1/accounts/{id}`` answered live when
the log's head was at that position; the same by the time the answer names; and the
refusals (a malformed value, a position beyond the head, another project's account)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Client, head

# One step of a history: (operation, amount).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "deposit",
                "withdraw",
                "transfer",
                "hold",
                "capture",
                "void",
                "freeze",
                "unfreeze",
                "threshold",
            ]
        ),
        st.integers(min_value=1, max_value=5_000),
    ),
    min_size=1,
    max_size=12,
)


def _step(api: Client, account: str, other: str, holds: list[str], op: str, amount: int) -> Any:
    base = f"/v1/accounts/{account}"
    if op == "deposit":
        return api.post(f"{base}/deposits", {"amount": amount, "currency": "EUR"})
    if op == "withdraw":
        return api.post(f"{base}/withdrawals", {"amount": amount, "currency": "EUR"})
    if op == "transfer":
        body = {
            "from_account_id": account,
            "to_account_id": other,
            "amount": amount,
            "currency": "EUR",
        }
        return api.post("/v1/transfers", body)
    if op == "hold":
        body = {"amount": amount, "currency": "EUR", "expires_at": "2099-01-01T00:00:00Z"}
        response = api.post(f"{base}/holds", body)
        if response.status_code == 201:
            holds.append(response.json()["id"])
        return response
    if op in ("capture", "void"):
        if not holds:
            return None
        return api.post(f"{base}/holds/{holds.pop()}/{op}", {} if op == "capture" else None)
    if op == "threshold":
        return api.post(f"{base}/low_balance_threshold", {"threshold": amount})
    return api.post(f"{base}/{op}")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_as_of_a_position_equals_the_live_answer_at_that_position(
    api: Client, steps: list[tuple[str, int]]
) -> None:
    owner = f"hypo-{uuid4()}"  # each example its own accounts (the app is shared)
    account = api.open_account(owner)
    other = api.open_account(f"{owner}-other")
    seen: dict[int, dict[str, Any]] = {api.position: api.account(account)}
    holds: list[str] = []
    for op, amount in steps:
        response = _step(api, account, other, holds, op, amount)
        if response is not None and response.status_code < 300:
            seen[api.position] = api.account(account)
    for position, live in seen.items():
        past = api.get(f"/v1/accounts/{account}", as_of=str(position))
        assert past.status_code == 200, past.text
        assert past.json() == live, position
        assert past.headers["Tally-As-Of-Position"] == str(position)
        # The time the answer names maps back to the same state.
        at = past.headers["Tally-As-Of-Timestamp"]
        again = api.get(f"/v1/accounts/{account}", as_of=at)
        assert again.status_code == 200, again.text
        assert again.json() == live
        assert again.headers["Tally-As-Of-Position"] == str(position)


def test_as_of_refusals_and_bounds(api: Client, other: Client) -> None:
    account = api.open_account("bounds")
    opened_at = head(api.tally)
    api.deposit(account, 700)
    path = f"/v1/accounts/{account}"
    for bad in (
        "yesterday",
        "-1",
        "12.5",
        "2026-13-01T00:00:00Z",
        "2026-03-01T00:00:00",
        "1234567890123456789",
    ):
        refused = api.get(path, as_of=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["code"] == "validation_error"
    beyond = api.get(path, as_of=str(head(api.tally) + 1))
    assert beyond.status_code == 422
    assert beyond.json()["code"] == "position_not_issued"
    # Before it was opened it did not exist; after, it did.
    assert api.get(path, as_of=str(opened_at - 1)).status_code == 404
    assert api.ok(api.get(path, as_of=str(opened_at)))["ledger_balance"] == 0
    # A time before the first event is position 0; a time far ahead is the head.
    assert api.get(path, as_of="1971-01-01T00:00:00Z").status_code == 404
    late = api.get(path, as_of="9000-01-01T00:00:00+02:00")
    assert api.ok(late)["ledger_balance"] == 700
    assert late.headers["Tally-As-Of-Position"] == str(head(api.tally))
    # Another project's account is not found at any position.
    foreign = other.get(path, as_of=str(head(api.tally)))
    assert foreign.status_code == 404
    # Not an account: an id of another kind of aggregate is not found either.
    assert api.get(f"/v1/accounts/{api.project_id}", as_of="1").status_code == 404
