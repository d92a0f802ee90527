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

from dataclasses import replace
from uuid import UUID

from api.auth import Caller
from api.bootstrap import Tally
from commands.bus import Outcome
from commands.messages import Command


def make_calls(tally: Tally, project_id: UUID, call_ids: list[str]) -> int:
    """Make the provider calls a command of ``project_id`` asked for; how many."""
    for call_id in call_ids:
        tally.outbox.attempt(project_id, UUID(str(call_id)))
    if call_ids:
        tally.outbox.kick()  # one still pending (the provider is down) is retried there
    return len(call_ids)


def execute_and_call(tally: Tally, caller: Caller, command: Command, key: str | None) -> Outcome:
    """Execute ``command`` for the caller, then make the provider calls it asked for (its
    answer's ``provider_calls``). The answer is the command's; its position is the
    calls' outcomes' when there were any, so a read that waits for it sees what the
    charges changed."""
    outcome = tally.execute(command, caller.context(key))
    calls = list(outcome.body.get("provider_calls") or [])
    if outcome.replayed or not make_calls(tally, caller.project_id, calls):
        return outcome
    head = tally.store.recorder.max_notification_id()
    return replace(outcome, position=max(outcome.position or 0, int(head or 0)))
