"""Making, right after a write, the provider calls it asked for.

A command never talks to a provider: it records a ``ProviderCall`` and the outbox makes
it after the commit. A route whose command may ask for one (a subscription whose first
invoice is charged at once, a finalized invoice, a credit note's refund) makes those
calls itself before it answers, so the client sees how the charge went rather than
"pending", and the outbox worker is only the safety net (a provider that is down, a
crash between commit and call). Replayed answers make no calls: the first request did.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from api.auth import Caller
from api.bootstrap import Tally
from commands.bus import Outcome
from commands.messages import Command

REQUESTED = "tally:ProviderCall.Requested"


def head(tally: Tally) -> int:
    return int(tally.store.recorder.max_notification_id() or 0)


def make_calls_between(tally: Tally, project_id: UUID, after: int, until: int) -> int:
    """Make the project's provider calls requested in ``(after, until]``; how many."""
    made = 0
    notifications = tally.store.recorder.select_notifications(
        start=after + 1, limit=10_000, stop=until, topics=[REQUESTED]
    )
    for n in notifications:
        # Another project's write may fall in between; Outbox.attempt ignores its calls.
        tally.outbox.attempt(project_id, UUID(str(n.originator_id)))
        made += 1
    if made:
        tally.outbox.kick()  # one still pending (the provider is down) is retried there
    return made


def execute_and_call(tally: Tally, caller: Caller, command: Command, key: str | None) -> Outcome:
    """Execute ``command`` for the caller, then make the provider calls it asked for. The
    answer is the command's; its position is the calls' outcomes' when there were any,
    so a read that waits for it sees what the charges changed."""
    before = head(tally)
    outcome = tally.execute(command, caller.context(key))
    if outcome.replayed or outcome.position is None or outcome.position <= before:
        return outcome
    if make_calls_between(tally, caller.project_id, before, outcome.position):
        return replace(outcome, position=max(outcome.position, head(tally)))
    return outcome
