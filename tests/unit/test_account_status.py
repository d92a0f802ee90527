"""An account's status by its transition table, and the refusals the API answers."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from domain.account_status import CLOSED, FROZEN, MACHINE, OPEN, STEPS, next_status
from domain.accounts import Account
from domain.errors import DomainError
from domain.money import Money

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")
TRIGGERS = (
    "freeze",
    "unfreeze",
    "close",
    "move",
    "receive_confirmed",
    "reverse",
    "set_threshold",
)

# (state, trigger) -> the status it leads to, or (code, message) as the API answers it
# (the messages are those the ``if``s gave before the table; ``{id}`` is the account).
EXPECTED: dict[tuple[str, str], str | tuple[str, str]] = {
    (OPEN, "freeze"): FROZEN,
    (OPEN, "unfreeze"): (
        "invalid_transition",
        "cannot unfreeze account {id}: it is open, not frozen",
    ),
    (OPEN, "close"): CLOSED,
    (OPEN, "move"): OPEN,
    (OPEN, "receive_confirmed"): OPEN,
    (OPEN, "reverse"): OPEN,
    (OPEN, "set_threshold"): OPEN,
    (FROZEN, "freeze"): (
        "invalid_transition",
        "cannot freeze account {id}: it is already frozen",
    ),
    (FROZEN, "unfreeze"): OPEN,
    (FROZEN, "close"): CLOSED,
    (FROZEN, "move"): ("account_frozen", "account {id} is frozen"),
    (FROZEN, "receive_confirmed"): FROZEN,
    (FROZEN, "reverse"): FROZEN,
    (FROZEN, "set_threshold"): FROZEN,
    (CLOSED, "freeze"): ("account_closed", "account {id} is closed"),
    (CLOSED, "unfreeze"): (
        "invalid_transition",
        "cannot unfreeze account {id}: it is closed, not frozen",
    ),
    (CLOSED, "close"): ("account_closed", "account {id} is already closed"),
    (CLOSED, "move"): ("account_closed", "account {id} is closed"),
    (CLOSED, "receive_confirmed"): ("account_closed", "account {id} is closed"),
    (CLOSED, "reverse"): ("account_closed", "account {id} is closed"),
    (CLOSED, "set_threshold"): ("account_closed", "account {id} is closed"),
}


def _account_in(status: str) -> Account:
    account = Account.open(PROJECT, "cust-1", "EUR")
    if status == FROZEN:
        account.freeze("review")
    elif status == CLOSED:
        account.close()
    assert account.status == status
    return account


def _act(account: Account, trigger: str) -> Callable[[], object]:
    """The aggregate's command method that asks the table for ``trigger``."""
    one = Money(1, "EUR")
    actions: dict[str, Callable[[], object]] = {
        "freeze": lambda: account.freeze("again"),
        "unfreeze": account.unfreeze,
        "close": account.close,
        "move": lambda: account.deposit(one, uuid4()),
        "receive_confirmed": lambda: account.credit_confirmed_deposit(one, uuid4()),
        "reverse": lambda: account.post_reversal(one, uuid4()),
        "set_threshold": lambda: account.set_low_balance_threshold(1),
    }
    return actions[trigger]


def test_the_table_covers_every_state_and_trigger() -> None:
    assert set(EXPECTED) == {(s, t) for s in (OPEN, FROZEN, CLOSED) for t in TRIGGERS}
    assert MACHINE.models == []
    allowed = {key: dest for key, dest in EXPECTED.items() if isinstance(dest, str)}
    assert allowed == STEPS


@pytest.mark.parametrize(("state", "trigger"), sorted(EXPECTED))
def test_each_step_is_taken_or_refused_as_the_api_answers(state: str, trigger: str) -> None:
    account = _account_in(state)
    expected = EXPECTED[(state, trigger)]
    pending = len(account._pending_events)
    if isinstance(expected, str):
        assert next_status(account.id, state, trigger) == expected
        _act(account, trigger)()
        assert account.status == expected
        return
    code, message = expected
    with pytest.raises(DomainError) as refused:
        _act(account, trigger)()
    assert (refused.value.code, refused.value.detail) == (code, message.format(id=account.id))
    # The refusal names the account, its state and the trigger; nothing was recorded.
    assert refused.value.context == {
        "account_id": str(account.id),
        "state": state,
        "trigger": trigger,
    }
    assert (account.status, len(account._pending_events)) == (state, pending)
