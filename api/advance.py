"""Advancing a test clock through the provider calls it asks for.

``AdvanceTestClock`` pauses where a step asked the provider for something (a charge, a
payment retry): the command commits there, and only then may the call be made (a
handler never talks to a provider). This drives the loop: advance, let the outbox make
the calls the pause lists, advance again to the same target, until it is reached. The
answer is the last advance's, with the steps of every pass added up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

from commands import messages as m
from commands.bus import Outcome

# Each pass moves the clock forward; this only bounds a provider that keeps asking.
MAX_PASSES = 10_000


def advance_through_calls(
    execute: Callable[[m.AdvanceTestClock, bool], Outcome],
    make_call: Callable[[UUID], Any],
    command: m.AdvanceTestClock,
) -> Outcome:
    """``execute(command, first)`` runs one advance (``first``: the caller's own request,
    with its idempotency key); ``make_call(id)`` makes one provider call now."""
    outcome = execute(command, True)
    steps: dict[str, int] = dict(outcome.body.get("steps") or {})
    for _ in range(MAX_PASSES):
        calls = outcome.body.get("provider_calls")
        if not calls:
            break
        for call_id in calls:
            make_call(UUID(str(call_id)))
        outcome = execute(command, False)
        for step, count in (outcome.body.get("steps") or {}).items():
            steps[step] = steps.get(step, 0) + int(count)
    return replace(outcome, body={**outcome.body, "steps": steps})
