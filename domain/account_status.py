"""An account's status as a transition table, and the refusals the API answers for it.

    open --freeze--> frozen --unfreeze--> open
    open, frozen --close--> closed

The table also says where money may move, as steps that leave the status as it is
(``"="``): ``move`` (deposits, withdrawals, transfers, holds, captures) only while open;
``receive_confirmed`` (a pending deposit whose money arrived) and ``reverse`` (one side
of a reversal) and ``set_threshold`` (the low-balance threshold) while open or frozen.
Nothing leaves ``closed``.

Which refusal a step gets is kept as the API has always answered it: unfreezing an
account that is not frozen (closed included) is ``invalid_transition``; any other step
on a closed account is ``account_closed``; a movement on a frozen one is
``account_frozen``, and freezing it again ``invalid_transition``. Each names the
account, its state and the trigger.
"""

from __future__ import annotations

from uuid import UUID

from domain.errors import AccountClosed, AccountFrozen, DomainError, InvalidTransition
from domain.state_machine import step_table, transition_table

OPEN, FROZEN, CLOSED = "open", "frozen", "closed"

MACHINE = transition_table(
    states=[OPEN, FROZEN, CLOSED],
    transitions=[
        ("freeze", OPEN, FROZEN),
        ("unfreeze", FROZEN, OPEN),
        ("close", [OPEN, FROZEN], CLOSED),
        ("move", OPEN, "="),
        ("receive_confirmed", [OPEN, FROZEN], "="),
        ("reverse", [OPEN, FROZEN], "="),
        ("set_threshold", [OPEN, FROZEN], "="),
    ],
    initial=OPEN,
)

# Every deposit asks the table, so it is read once into a dict: (state, trigger) -> dest.
STEPS = step_table(MACHINE)


def next_status(account_id: UUID, status: str, trigger: str) -> str:
    """The status ``trigger`` leads to from ``status``, or raise the refusal for it."""
    dest = STEPS.get((status, trigger))
    if dest is None:
        raise refusal(account_id, status, trigger)
    return dest


def refusal(account_id: UUID, status: str, trigger: str) -> DomainError:
    context = {"account_id": str(account_id), "state": status, "trigger": trigger}
    if trigger == "unfreeze":
        detail = f"cannot unfreeze account {account_id}: it is {status}, not frozen"
        return InvalidTransition(detail, **context)
    if status == CLOSED:
        already = "already " if trigger == "close" else ""
        return AccountClosed(f"account {account_id} is {already}closed", **context)
    if status == FROZEN and trigger != "freeze":
        return AccountFrozen(f"account {account_id} is frozen", **context)
    already = "already " if trigger == "freeze" else ""
    return InvalidTransition(
        f"cannot {trigger} account {account_id}: it is {already}{status}", **context
    )
