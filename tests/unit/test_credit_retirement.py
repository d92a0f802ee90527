"""Finished credit grants leave the balance's state (issue 13,
``domain/credit_retirement.py``): a long-lived customer's state, and so the cost of
each consumption, stays as large as what is live; the history keeps every grant, and
the balance rebuilt from its events is the balance the commands left."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.credit_balance import CreditBalance
from domain.errors import InvalidTransition
from projections.aggregates import encode_state

PROJECT = UUID("00000000-0000-0000-0000-0000000000cc")
CUSTOMER = UUID("00000000-0000-0000-0000-0000000000dd")
START = datetime(2030, 1, 1, tzinfo=UTC)


def _size(balance: CreditBalance) -> int:
    return len(encode_state(balance).obj)


def _cycle(balance: CreditBalance, n: int, log: list[Any]) -> None:
    """A month: a grant that expires, one spent whole, and one spent in part."""
    now = START + timedelta(days=n)
    expires = now + timedelta(hours=12)
    balance.grant(grant_id=f"e{n}", kind="promotional", amount=50, now=now, expires_at=expires)
    balance.grant(grant_id=f"p{n}", kind="paid", amount=100, now=now, priority=5)
    balance.consume(f"c{n}", 100, now)
    balance.grant(grant_id=f"v{n}", kind="paid", amount=10, now=now)
    balance.void(f"v{n}", now)
    balance.expire_due(now + timedelta(days=1))
    log.extend(balance.collect_events())


def test_a_long_lived_customers_state_stays_flat() -> None:
    balance = CreditBalance.open(PROJECT, CUSTOMER, "EUR")
    log: list[Any] = []
    for n in range(20):
        _cycle(balance, n, log)
    early = _size(balance)
    for n in range(20, 400):
        _cycle(balance, n, log)
    # 1,200 grants made; none kept (before: all of them, 160 kB and growing).
    assert balance.grants == {} or len(balance.grants) <= 1
    assert _size(balance) <= early + 16  # the totals' digits
    assert balance.retired == {
        "count": 1200, "amount": 400 * 160, "consumed": 400 * 100,
        "expired": 400 * 50, "voided": 400 * 10,
    }  # fmt: skip
    assert balance.grants_made == 1200


def test_the_balance_rebuilt_from_its_events_equals_the_live_one() -> None:
    balance = CreditBalance.open(PROJECT, CUSTOMER, "EUR")
    log: list[Any] = []
    for n in range(30):
        _cycle(balance, n, log)
    rebuilt: Any = None
    for event in log:
        rebuilt = event.mutate(rebuilt)
    assert json.loads(encode_state(rebuilt).obj) == json.loads(encode_state(balance).obj)
    retired = [g for e in log if type(e).__name__ == "Retired" for g in e.grants]
    assert len(retired) == 90  # the history keeps every grant as it ended
    assert sorted(g["seq"] for g in retired) == list(range(90))


def test_a_grant_an_invoices_credits_took_is_kept_until_that_invoice_no_longer_needs_it() -> None:
    balance = CreditBalance.open(PROJECT, CUSTOMER, "EUR")
    balance.grant(grant_id="g", kind="paid", amount=100, now=START)
    balance.apply("inv", [("price_a", 100)], START)
    assert balance.grants["g"]["remaining"] == 0  # a void of inv would give back to it
    balance.restore("inv", START)
    balance.consume("c", 100, START)
    assert "g" not in balance.grants
    with pytest.raises(InvalidTransition):
        balance.void("g", START)  # finished: nothing to void


def test_a_refund_or_a_void_that_empties_a_grant_retires_it_at_once() -> None:
    """Every command that empties grants ends by retiring them: a refund's and a void's
    too, not only the next consumption (before: kept until then)."""
    balance = CreditBalance.open(PROJECT, CUSTOMER, "EUR")
    balance.grant(grant_id="r", kind="paid", amount=100, now=START)
    balance.grant(grant_id="v", kind="paid", amount=40, now=START)
    balance.grant(grant_id="s", kind="paid", amount=30, now=START, priority=9)
    balance.grant(grant_id="live", kind="paid", amount=10, now=START)
    early = _size(balance)
    balance.consume("c", 20, START)  # 20 of "s", which keeps 10
    balance.refund_grant("r", 100, START, reference="txn", posted=True)
    balance.void("v", START)
    balance.reported_refund("s", 30, START, reference="txn2")  # 10 held, 20 short
    assert sorted(balance.grants) == ["live"]
    assert balance.retired["count"] == 3
    assert _size(balance) < early
