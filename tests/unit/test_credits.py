"""Prepaid credits (issue 13): a customer's grants are consumed highest priority first,
then soonest expiry, then oldest; never below zero; and every minor unit granted is
remaining, consumed, expired or voided. Pure domain: the ``CreditBalance`` aggregate
driven by hypothesis over random grants, consumptions, invoice applications, voids and
expiries at increasing times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credit_balance import CreditBalance
from domain.credits import order_key, usable
from domain.errors import (
    CreditsAlreadySpent,
    InsufficientCredits,
    InvalidCombination,
    InvalidTransition,
)

PROJECT = UUID("00000000-0000-0000-0000-0000000000cc")
CUSTOMER = UUID("00000000-0000-0000-0000-0000000000dd")
START = datetime(2030, 1, 1, tzinfo=UTC)
PRICES = ["price_a", "price_b"]


def fresh() -> CreditBalance:
    return CreditBalance.open(PROJECT, CUSTOMER, "EUR")


def events(balance: CreditBalance, name: str) -> list[Any]:
    return [e for e in balance.collect_events() if type(e).__name__ == name]


def test_consumption_takes_priority_then_soonest_expiry_then_oldest() -> None:
    balance = fresh()
    balance.grant(grant_id="old", kind="paid", amount=100, now=START)
    balance.grant(
        grant_id="late",
        kind="promotional",
        amount=100,
        now=START,
        expires_at=START + timedelta(days=60),
    )
    balance.grant(
        grant_id="soon",
        kind="promotional",
        amount=100,
        now=START,
        expires_at=START + timedelta(days=30),
    )
    balance.grant(grant_id="high", kind="paid", amount=100, now=START, priority=5)
    taken = balance.consume("c1", 350, START + timedelta(days=1))
    assert taken == [("high", 100), ("soon", 100), ("late", 100), ("old", 50)]
    assert balance.total == 50


def test_a_consumption_the_credits_cannot_cover_is_refused_and_records_nothing() -> None:
    balance = fresh()
    balance.grant(grant_id="g", kind="paid", amount=100, now=START)
    balance.collect_events()
    with pytest.raises(InsufficientCredits) as refused:
        balance.consume("c1", 101, START)
    assert refused.value.context["available"] == 100
    assert balance.collect_events() == []
    assert balance.total == 100


def test_a_grant_limited_to_prices_pays_only_for_them() -> None:
    balance = fresh()
    balance.grant(grant_id="a", kind="promotional", amount=100, now=START, prices=["price_a"])
    with pytest.raises(InsufficientCredits):
        balance.consume("c1", 10, START)  # a direct consumption: only grants for all
    applied = balance.apply("inv", [("price_b", 50), ("price_a", 70)], START)
    assert applied == [("price_b", 0), ("price_a", 70)]
    assert balance.total == 30


def test_expired_credit_is_recorded_as_breakage_when_the_clock_passes_it() -> None:
    balance = fresh()
    balance.grant(
        grant_id="g",
        kind="promotional",
        amount=100,
        now=START,
        expires_at=START + timedelta(days=30),
    )
    balance.consume("c1", 40, START + timedelta(days=1))
    balance.collect_events()
    assert balance.expire_due(START + timedelta(days=29)) == 0
    assert balance.expire_due(START + timedelta(days=30)) == 60
    (expired,) = events(balance, "Expired")
    assert expired.entry == [
        {"account": f"credits:{CUSTOMER}", "amount": -60},
        {"account": "breakage", "amount": 60},
    ]
    assert balance.expire_due(START + timedelta(days=31)) == 0  # once


def test_an_expiry_must_be_ahead_of_the_clock() -> None:
    with pytest.raises(InvalidCombination):
        fresh().grant(grant_id="g", kind="paid", amount=1, now=START, expires_at=START)


def test_a_void_takes_back_what_remains_once() -> None:
    balance = fresh()
    balance.grant(grant_id="g", kind="paid", amount=100, now=START, source="stripe")
    balance.consume("c1", 30, START)
    balance.collect_events()
    assert balance.void("g", START) == 70
    (voided,) = events(balance, "Voided")
    assert voided.entry == [
        {"account": f"credits:{CUSTOMER}", "amount": -70},
        {"account": "clearing:stripe", "amount": 70},
    ]
    with pytest.raises(InvalidTransition):
        balance.void("g", START)


def test_low_and_depleted_fire_once_per_crossing_and_rearm_above() -> None:
    balance = fresh()
    balance.set_threshold(50, None)  # an empty balance below its threshold is low at once
    assert len(events(balance, "Low")) == 1
    balance.grant(grant_id="g1", kind="paid", amount=100, now=START)  # re-arms
    balance.collect_events()
    balance.consume("c1", 40, START)
    assert events(balance, "Low") == []
    balance.consume("c2", 20, START)  # 40 < 50
    balance.consume("c3", 10, START)  # still low: nothing new
    balance.consume("c4", 30, START)  # 0: depleted
    recorded = [type(e).__name__ for e in balance.collect_events()]
    assert recorded.count("Low") == 1
    assert recorded.count("Depleted") == 1
    balance.grant(grant_id="g2", kind="paid", amount=60, now=START)  # re-arms both
    balance.consume("c5", 20, START)
    recorded = [type(e).__name__ for e in balance.collect_events()]
    assert recorded.count("Low") == 1
    assert recorded.count("Depleted") == 0


def test_a_top_up_is_requested_once_per_crossing_with_its_number() -> None:
    balance = fresh()
    balance.grant(grant_id="g1", kind="paid", amount=100, now=START)
    balance.set_threshold(50, 500)  # 100: not low yet
    balance.consume("c1", 60, START)
    balance.consume("c2", 10, START)
    balance.grant(grant_id="g2", kind="paid", amount=500, now=START)
    balance.consume("c3", 520, START)
    asked = [e for e in balance.collect_events() if type(e).__name__ == "TopUpRequested"]
    assert [(e.crossing, e.amount) for e in asked] == [(1, 500), (2, 500)]


# -- properties ---------------------------------------------------------------------------

grants_st = st.fixed_dictionaries(
    {
        "amount": st.integers(1, 1000),
        "priority": st.integers(0, 3),
        "expires_in_days": st.one_of(st.none(), st.integers(1, 90)),
        "prices": st.one_of(st.none(), st.lists(st.sampled_from(PRICES), min_size=1, max_size=2)),
        "kind": st.sampled_from(["paid", "promotional"]),
    }
)
step_st = st.one_of(
    st.tuples(st.just("grant"), grants_st),
    st.tuples(st.just("consume"), st.integers(1, 1500), st.sampled_from([None, *PRICES])),
    st.tuples(
        st.just("apply"),
        st.lists(st.tuples(st.sampled_from(PRICES), st.integers(0, 800)), max_size=3),
    ),
    st.tuples(st.just("void"), st.integers(0, 20)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("restore"), st.integers(0, 20)),
    st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 1500)),
)


def _run(balance: CreditBalance, step: tuple[Any, ...], now: datetime, n: int) -> None:
    kind = step[0]
    if kind == "grant":
        g = step[1]
        days = g["expires_in_days"]
        balance.grant(
            grant_id=f"g{n}",
            kind=g["kind"],
            amount=g["amount"],
            now=now,
            priority=g["priority"],
            prices=g["prices"],
            expires_at=None if days is None else now + timedelta(days=days),
        )
    elif kind == "consume":
        before = [dict(g) for g in usable(balance.grants.values(), now, step[2])]
        try:
            taken = balance.consume(f"c{n}", step[1], now, price_id=step[2])
        except InsufficientCredits:
            assert sum(g["remaining"] for g in before) < step[1]
            return
        _check_order(before, taken)
    elif kind == "apply":
        balance.apply(f"inv{n}", step[1], now)
    elif kind == "restore":
        # A voided invoice gives back what its credits took, once (review finding 2).
        invoices = sorted(balance.invoice_uses)
        if invoices:
            invoice_id = invoices[step[1] % len(invoices)]
            taken = sum(use[1] for use in balance.invoice_uses[invoice_id])
            assert balance.restore(invoice_id, now) == taken
            assert balance.restore(invoice_id, now) == 0
    elif kind == "refund" and balance.grants:
        _refund(balance, sorted(balance.grants)[step[1] % len(balance.grants)], step[2], now)
    elif kind == "void" and balance.grants:
        grant_id = sorted(balance.grants)[step[1] % len(balance.grants)]
        if balance.grants[grant_id]["voided_at"] is None:
            balance.void(grant_id, now)
    else:
        balance.expire_due(now)


def _refund(balance: CreditBalance, grant_id: str, amount: int, now: datetime) -> None:
    """A refund takes back at most what the grant holds; more is refused, unrecorded."""
    holds = balance.unspent(grant_id, now)
    pending = len(balance.pending_events)
    if amount > holds:
        with pytest.raises(CreditsAlreadySpent):
            balance.refund_grant(grant_id, amount, now, reference="r", posted=False)
        assert len(balance.pending_events) == pending
        return
    balance.refund_grant(grant_id, amount, now, reference="r", posted=False)
    assert balance.unspent(grant_id, now) == holds - amount


def _check_order(before: list[dict[str, Any]], taken: list[tuple[str, int]]) -> None:
    """Taken in the order, each grant emptied before the next one is touched."""
    ordered = sorted(before, key=order_key)
    assert [g for g, _ in taken] == [g["id"] for g in ordered[: len(taken)]]
    for grant, (_, part) in zip(ordered[: len(taken) - 1], taken[:-1], strict=True):
        assert part == grant["remaining"]


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.tuples(step_st, st.integers(0, 40)), max_size=30))
def test_credits_never_go_negative_and_every_unit_is_accounted_for(
    steps: list[tuple[tuple[Any, ...], int]],
) -> None:
    balance = fresh()
    now = START
    granted = 0
    for n, (step, days) in enumerate(steps):
        now += timedelta(days=days)
        if step[0] == "grant":
            granted += step[1]["amount"]
        _run(balance, step, now, n)
        for grant in balance.grants.values():
            assert grant["remaining"] >= 0
            parts = grant["remaining"] + grant["consumed"] + grant["expired"] + grant["voided"]
            assert parts == grant["amount"]
            assert grant["voided_at"] is None or grant["remaining"] == 0
            if step[0] == "expire" and grant["expires_at"] is not None:
                # Past its expiry a grant holds nothing once expiry is recorded.
                past = datetime.fromisoformat(grant["expires_at"]) <= now
                assert not past or grant["remaining"] == 0
        # Retired grants (finished: domain/credit_retirement.py) count in the totals.
        sums = {
            k: sum(g[k] for g in balance.grants.values()) + balance.retired.get(k, 0)
            for k in ("remaining", "consumed", "expired", "voided")
        }
        assert sum(sums.values()) == granted
        assert balance.retired["amount"] + sum(g["amount"] for g in balance.grants.values()) == (
            granted
        )
    # Every journal entry balances, and the credits account is what remains.
    entries = [e.entry for e in balance.collect_events() if hasattr(e, "entry")]
    assert all(sum(p["amount"] for p in entry) == 0 for entry in entries)
    ref = f"credits:{CUSTOMER}"
    assert sum(p["amount"] for e in entries for p in e if p["account"] == ref) == balance.total


def test_only_live_grants_count_toward_the_cap() -> None:
    """Review finding 3: every grant ever made counted, so a customer topped up 1,000
    times could never be granted credits again (and its next top-up was charged but
    not granted)."""
    from domain.errors import LimitReached
    from domain.limits import MAX_CREDIT_GRANTS

    balance = fresh()
    for n in range(MAX_CREDIT_GRANTS):
        balance.grant(grant_id=f"g{n}", kind="promotional", amount=1, now=START)
    with pytest.raises(LimitReached):
        balance.grant(grant_id="over", kind="promotional", amount=1, now=START)
    assert balance.top_up_refusal(10, START) == "limit_reached"
    balance.consume("c", 1, START)  # one grant spent: it no longer counts
    assert balance.top_up_refusal(10, START) is None
    balance.grant(grant_id="next", kind="promotional", amount=1, now=START)


def test_a_declined_top_up_rearms_the_watch_and_one_not_charged_does_not() -> None:
    balance = fresh()
    balance.grant(grant_id="g", kind="promotional", amount=300, now=START)
    balance.set_threshold(100, 1000)
    balance.consume("c1", 250, START)  # 50: low, top-up 1 requested
    balance.top_up_failed(1, "no_payment_method")
    balance.consume("c2", 10, START)
    assert [t["crossing"] for t in balance.top_ups] == [1]  # the watch stayed off
    balance.grant(grant_id="g2", kind="promotional", amount=100, now=START)  # 140: re-armed
    balance.consume("c3", 50, START)  # 90: low, top-up 2
    balance.top_up_failed(2, "card_declined")
    balance.top_up_failed(2, "card_declined")  # once
    balance.consume("c4", 10, START)  # 80: asks again
    assert [(t["crossing"], t["status"]) for t in balance.top_ups] == [
        (1, "failed"), (2, "failed"), (3, "requested"),
    ]  # fmt: skip
    assert len(events(balance, "TopUpFailed")) == 2
