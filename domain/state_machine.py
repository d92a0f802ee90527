"""State machines as transition tables.

A ``transitions.Machine`` is built once per module with ``model=None`` and is only asked
where a trigger leads from a state. It is never bound to an aggregate: a bound machine
adds attributes to the instance, which breaks snapshots and keeps instances alive.
"""

from __future__ import annotations

from collections.abc import Sequence

from transitions import Machine

from domain.errors import InvalidTransition


def transition_table(
    states: Sequence[str], transitions: Sequence[tuple[str, str | Sequence[str], str]], initial: str
) -> Machine:
    return Machine(
        model=None,
        states=list(states),
        transitions=[
            {"trigger": trigger, "source": source, "dest": dest}
            for trigger, source, dest in transitions
        ],
        initial=initial,
        auto_transitions=False,
    )


def destination(machine: Machine, state: str, trigger: str, *, what: str) -> str:
    """Return the state that ``trigger`` leads to from ``state``, or raise InvalidTransition."""
    for transition in machine.get_transitions(trigger=trigger, source=state):
        return str(transition.dest)
    raise InvalidTransition(
        f"cannot {trigger} a {what} that is {state}", state=state, trigger=trigger
    )


def walk(machine: Machine, state: str, triggers: Sequence[str], *, what: str) -> str:
    for trigger in triggers:
        state = destination(machine, state, trigger, what=what)
    return state


def step_table(machine: Machine) -> dict[tuple[str, str], str]:
    """The table as a dict ``(state, trigger) -> destination``, for a lifecycle that is
    asked on every command and cannot afford a search of the machine each time. A
    reflexive step (``"="``) maps a state to itself."""
    return {
        (str(transition.source), str(trigger)): str(transition.dest)
        for trigger, ev in machine.events.items()
        for transitions in ev.transitions.values()
        for transition in transitions
    }
