"""Copies of an aggregate's plain data (dicts, lists, sets of scalars) for answers.

A command's answer is serialised only after its batch commits, while later commands
(the rest of the batch, the next batch built during the commit, a retry run again before
its conflict is found) change the same cached aggregates in place: an answer that holds
an aggregate's own list or dict would show changes made after it was given, and an
idempotency record built from it would store them. So a summary copies every mutable
value it hands out; scalars (str, int, datetime, Decimal, UUID) are shared as they are.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def plain_copy(value: T) -> T:
    """``value`` with every dict, list and set in it copied (tuples and scalars, which
    cannot change, are kept): what ``copy.deepcopy`` gives for plain data, for a few
    times less work (no memo, no per-type dispatch)."""
    copied: Any = value
    if isinstance(value, dict):
        copied = {k: plain_copy(v) for k, v in value.items()}
    elif isinstance(value, list):
        copied = [plain_copy(v) for v in value]
    elif isinstance(value, set):
        copied = set(value)
    result: T = copied
    return result
