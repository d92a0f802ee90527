"""The Transaction aggregate and its transition table. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidAmount, InvalidTransition, ReversalExceedsAmount
from domain.money import Money
from domain.state_machine import destination
from domain.transactions import (
    COMPLETED,
    CREATED,
    FAILED,
    MACHINE,
    PROCESSING,
    REVERSED,
    Transaction,
    entry_postings,
)

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")
STATES = (CREATED, PROCESSING, COMPLETED, FAILED, REVERSED)
TRIGGERS = ("start", "complete", "fail", "reverse")
LEGAL = {
    (CREATED, "start"): PROCESSING,
    (PROCESSING, "complete"): COMPLETED,
    (CREATED, "fail"): FAILED,
    (PROCESSING, "fail"): FAILED,
    (COMPLETED, "reverse"): REVERSED,
    (REVERSED, "reverse"): REVERSED,
}


def _txn(*, complete_now: bool, amount: int = 1000) -> Transaction:
    return Transaction.begin(
        id=uuid4(),
        project_id=PROJECT,
        kind="deposit",
        amount=Money(amount, "EUR"),
        from_ref="clearing:stripe",
        to_ref="wallet:abc",
        complete_now=complete_now,
    )


def _in_state(state: str) -> Transaction:
    """A transaction brought to ``state`` through the aggregate's own methods."""
    if state == PROCESSING:
        return _txn(complete_now=False)
    if state == COMPLETED:
        return _txn(complete_now=True)
    if state == FAILED:
        txn = _txn(complete_now=False)
        txn.fail("declined")
        return txn
    assert state == REVERSED
    txn = _txn(complete_now=True)
    txn.reverse(400, "refund")
    return txn


def _sums_per_currency(txn: Transaction) -> list[int]:
    return [sum(p["amount"] for p in entry) for entry in txn.entries]


# -- the table -----------------------------------------------------------------------


@pytest.mark.parametrize(("state", "trigger"), sorted(LEGAL))
def test_table_allows_each_legal_transition(state: str, trigger: str) -> None:
    assert destination(MACHINE, state, trigger, what="transaction") == LEGAL[(state, trigger)]


@pytest.mark.parametrize(
    ("state", "trigger"),
    [pair for pair in product(STATES, TRIGGERS) if pair not in LEGAL],
)
def test_table_refuses_each_illegal_transition_naming_state_and_trigger(
    state: str, trigger: str
) -> None:
    with pytest.raises(InvalidTransition) as refused:
        destination(MACHINE, state, trigger, what="transaction")
    assert refused.value.context == {"state": state, "trigger": trigger}
    assert state in str(refused.value)
    assert trigger in str(refused.value)
    assert refused.value.code == "invalid_transition"


def test_table_is_not_bound_to_any_model() -> None:
    # A bound machine would add attributes to aggregates; the table has no models at all.
    assert MACHINE.models == []
    txn = _txn(complete_now=True)
    assert not hasattr(txn, "trigger")
    assert not hasattr(txn, "to_completed")


# -- the aggregate through the table -------------------------------------------------

ACTIONS: dict[str, Callable[[Transaction], None]] = {
    "complete": lambda t: t.complete(),
    "fail": lambda t: t.fail("declined"),
    "reverse": lambda t: t.reverse(1, "refund"),
}
AGGREGATE_STATES = (PROCESSING, COMPLETED, FAILED, REVERSED)


@pytest.mark.parametrize(
    ("state", "trigger"),
    [pair for pair in product(AGGREGATE_STATES, ACTIONS) if pair in LEGAL],
)
def test_aggregate_follows_each_legal_transition(state: str, trigger: str) -> None:
    txn = _in_state(state)
    version = txn.version
    ACTIONS[trigger](txn)
    assert txn.state == LEGAL[(state, trigger)]
    assert txn.version == version + 1


@pytest.mark.parametrize(
    ("state", "trigger"),
    [pair for pair in product(AGGREGATE_STATES, ACTIONS) if pair not in LEGAL],
)
def test_aggregate_refuses_each_illegal_transition_and_records_nothing(
    state: str, trigger: str
) -> None:
    txn = _in_state(state)
    before = (txn.version, txn.state, txn.reversed_amount, list(txn.entries))
    pending = len(txn._pending_events)
    with pytest.raises(InvalidTransition) as refused:
        ACTIONS[trigger](txn)
    assert refused.value.context == {"state": state, "trigger": trigger}
    assert (txn.version, txn.state, txn.reversed_amount, list(txn.entries)) == before
    assert len(txn._pending_events) == pending


def test_completed_at_once_records_one_event_with_one_balanced_entry() -> None:
    txn = _txn(complete_now=True, amount=250)
    assert txn.state == COMPLETED
    assert [type(e).__qualname__ for e in txn._pending_events] == ["Transaction.Initiated"]
    assert txn.entries == [
        [{"account": "wallet:abc", "amount": 250}, {"account": "clearing:stripe", "amount": -250}]
    ]


def test_pending_transaction_has_no_entry_until_completed() -> None:
    txn = _txn(complete_now=False)
    assert (txn.state, txn.entries, txn.reversible_amount) == (PROCESSING, [], 0)
    txn.complete()
    assert txn.state == COMPLETED
    assert _sums_per_currency(txn) == [0]
    assert txn.reversible_amount == txn.amount


def test_failed_transaction_keeps_its_reason_and_posts_nothing() -> None:
    txn = _txn(complete_now=False)
    txn.fail("card declined")
    assert (txn.state, txn.failure_reason, txn.entries) == (FAILED, "card declined", [])


def test_partial_then_full_reversal() -> None:
    txn = _txn(complete_now=True, amount=1000)
    txn.reverse(300, "partial refund")
    assert (txn.state, txn.reversed_amount, txn.reversible_amount) == (REVERSED, 300, 700)
    txn.reverse(700, "rest")
    assert (txn.reversed_amount, txn.reversible_amount) == (1000, 0)
    assert txn.entries[1] == entry_postings("wallet:abc", "clearing:stripe", 300)
    assert txn.entries[2] == [
        {"account": "clearing:stripe", "amount": 700},
        {"account": "wallet:abc", "amount": -700},
    ]
    assert _sums_per_currency(txn) == [0, 0, 0]


def test_reversal_above_what_remains_is_refused_and_records_nothing() -> None:
    txn = _txn(complete_now=True, amount=1000)
    txn.reverse(600, "partial")
    version = txn.version
    with pytest.raises(ReversalExceedsAmount) as refused:
        txn.reverse(401, "too much")
    assert refused.value.context == {"reversible": 400, "requested": 401}
    assert (txn.version, txn.reversed_amount) == (version, 600)


@pytest.mark.parametrize("amount", [0, -1, 1.5])
def test_reversal_amount_must_be_a_positive_int(amount: object) -> None:
    txn = _txn(complete_now=True)
    with pytest.raises(InvalidAmount):
        txn.reverse(amount, "x")  # type: ignore[arg-type]
    assert txn.state == COMPLETED


def test_begin_refuses_bad_amounts() -> None:
    # An unknown currency cannot reach begin: the Money it takes refuses it when it is
    # made (tests/unit/test_money.py).
    with pytest.raises(InvalidAmount):
        _txn(complete_now=True, amount=0)
    with pytest.raises(InvalidAmount):
        _txn(complete_now=True, amount=-1)


def test_begin_records_the_amount_and_currency_of_its_money_apart() -> None:
    txn = Transaction.begin(
        id=uuid4(),
        project_id=PROJECT,
        kind="deposit",
        amount=Money(1250, "JPY"),
        from_ref="clearing:manual",
        to_ref="wallet:x",
        complete_now=True,
    )
    initiated = txn.collect_events()[0]
    assert (initiated.amount, initiated.currency) == (1250, "JPY")  # type: ignore[attr-defined]
    assert txn.money(5) == Money(5, "JPY")


def test_transaction_id_for_a_key_is_deterministic_per_project() -> None:
    assert Transaction.id_for(PROJECT, "k1") == Transaction.id_for(PROJECT, "k1")
    assert Transaction.id_for(PROJECT, "k1") != Transaction.id_for(PROJECT, "k2")
    assert Transaction.id_for(PROJECT, "k1") != Transaction.id_for(uuid4(), "k1")


@given(
    amount=st.integers(1, 10**9),
    parts=st.lists(st.integers(1, 10**9), min_size=1, max_size=8),
)
def test_reversals_never_exceed_the_amount_and_every_entry_balances(
    amount: int, parts: list[int]
) -> None:
    txn = _txn(complete_now=True, amount=amount)
    for part in parts:
        remaining = txn.reversible_amount
        if part > remaining:
            with pytest.raises(ReversalExceedsAmount):
                txn.reverse(part, "r")
            assert txn.reversible_amount == remaining
        else:
            txn.reverse(part, "r")
    assert 0 <= txn.reversed_amount <= amount
    assert all(total == 0 for total in _sums_per_currency(txn))
    # The wallet's net over all entries is what is left unreversed.
    net = sum(p["amount"] for e in txn.entries for p in e if p["account"] == "wallet:abc")
    assert net == amount - txn.reversed_amount


@pytest.mark.parametrize("amount", [0, 1, 10**9])
@pytest.mark.parametrize("state", [PROCESSING, FAILED])
def test_reversing_an_unsettled_transaction_is_invalid_whatever_the_amount(
    state: str, amount: int
) -> None:
    txn = _in_state(state)
    with pytest.raises(InvalidTransition) as refused:
        txn.check_reversal(amount)
    assert refused.value.context == {"state": state, "trigger": "reverse"}
