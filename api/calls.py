"""Making, right after a write, the provider calls it asked for.

A command never talks to a provider: it records a ``ProviderCall`` and the outbox makes
it after the commit. A route whose command may ask for one (a subscription whose first
invoice is charged at once, a finalized invoice, a credit note's refund) makes those
calls (the ids its handler answers in ``provider_calls``) itself before it answers, so
the client sees how the charge went rather than "pending", and the outbox worker is only
the safety net (a provider that is down, a
crash between commit and call). Replayed answers make no calls: the first request did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from api.auth import Caller
from api.tally import Tally
from commands.bus import Outcome
from commands.messages import Command


def make_calls(tally: Tally, project_id: UUID, call_ids: Sequence[object]) -> list[dict[str, Any]]:
    """Make the provider calls a command of ``project_id`` asked for, now: each call's
    state after its attempt (empty when there is no such call of the project)."""
    made: list[dict[str, Any]] = [
        tally.outbox.attempt(project_id, UUID(str(call_id))) for call_id in call_ids
    ]
    if made:
        tally.outbox.kick()  # one still pending (the provider is down) is retried there
    return made


def at_head(tally: Tally, outcome: Outcome) -> Outcome:
    """``outcome`` with its position (``Tally-Position``) moved to the log's head: the
    calls just made recorded their outcomes after the command, so a read that waits for
    the position sees what the charges changed."""
    head = tally.store.recorder.max_notification_id()
    if head is None:
        return outcome
    return replace(outcome, position=max(outcome.position or 0, int(head)))


def call_now(
    tally: Tally, project_id: UUID, outcome: Outcome, call_ids: Sequence[object]
) -> tuple[Outcome, list[dict[str, Any]]]:
    """Make the calls ``call_ids`` of the command that answered ``outcome`` now
    (``make_calls``), and move the answer's position past their outcomes (``at_head``)
    when there were any: the one way a route makes its calls before it answers. Also the
    calls' states after their attempts."""
    made = make_calls(tally, project_id, call_ids)
    return (at_head(tally, outcome) if made else outcome), made


def execute_and_call(tally: Tally, caller: Caller, command: Command, key: str | None) -> Outcome:
    """Execute ``command`` for the caller, then make the provider calls it asked for (its
    answer's ``provider_calls``). The answer is the command's; its position is the
    calls' outcomes' when there were any."""
    outcome = tally.execute(command, caller.context(key))
    calls = list(outcome.body.get("provider_calls") or [])
    if outcome.replayed:
        return outcome
    return call_now(tally, caller.project_id, outcome, calls)[0]
