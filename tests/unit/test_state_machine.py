"""Transition tables: asked for destinations, never bound to a model. No I/O."""

from __future__ import annotations

import pytest

from domain.errors import InvalidTransition
from domain.state_machine import destination, transition_table, walk

DOOR = transition_table(
    states=["closed", "open", "locked"],
    transitions=[
        ("open", "closed", "open"),
        ("close", "open", "closed"),
        ("lock", "closed", "locked"),
        ("unlock", "locked", "closed"),
        ("kick", ["closed", "locked"], "open"),
    ],
    initial="closed",
)


def test_destination_follows_the_table() -> None:
    assert destination(DOOR, "closed", "open", what="door") == "open"
    assert destination(DOOR, "locked", "kick", what="door") == "open"
    assert destination(DOOR, "closed", "kick", what="door") == "open"


def test_unknown_trigger_or_wrong_source_raises_invalid_transition() -> None:
    with pytest.raises(InvalidTransition, match="cannot lock a door that is open") as refused:
        destination(DOOR, "open", "lock", what="door")
    assert refused.value.context == {"state": "open", "trigger": "lock"}
    with pytest.raises(InvalidTransition):
        destination(DOOR, "closed", "fly", what="door")


def test_there_are_no_automatic_to_state_transitions() -> None:
    with pytest.raises(InvalidTransition):
        destination(DOOR, "closed", "to_locked", what="door")


def test_walk_applies_triggers_in_order_and_stops_at_the_first_illegal_one() -> None:
    assert walk(DOOR, "open", ["close", "lock", "unlock"], what="door") == "closed"
    assert walk(DOOR, "open", [], what="door") == "open"
    with pytest.raises(InvalidTransition) as refused:
        walk(DOOR, "open", ["close", "close"], what="door")
    assert refused.value.context == {"state": "closed", "trigger": "close"}


def test_table_has_no_models() -> None:
    assert DOOR.models == []
