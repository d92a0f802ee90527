"""Playing the outbox's part in tests that drive the command bus directly, as the API's
routes do: the provider calls a command asked for are made right after it committed,
and a test clock advances through the charges it asks for (``api.advance``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adapters.providers.stub import payment_method_for
from api.advance import advance_through_calls
from api.bootstrap import Tally
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import Context, Outcome

REQUESTED = "tally:ProviderCall.Requested"


def head(tally: Tally) -> int:
    return int(tally.store.recorder.max_notification_id() or 0)


def make_requested_calls(tally: Tally, project_id: UUID, after: int) -> int:
    """Make every provider call of ``project_id`` requested after position ``after``,
    and those their answers asked for (a refund of a charge that came too late)."""
    made = 0
    while after < head(tally):
        start, after = after, head(tally)
        for n in tally.store.recorder.select_notifications(
            start=start + 1, limit=1_000_000, stop=after, topics=[REQUESTED]
        ):
            tally.outbox.attempt(project_id, UUID(str(n.originator_id)))
            made += 1
    return made


def execute_and_call(tally: Tally, command: m.Command, ctx: Context) -> Outcome:
    """Execute ``command``, then make the provider calls it asked for."""
    if isinstance(command, m.AdvanceTestClock):
        later = Context(ctx.project_id, ctx.actor, None, ctx.now)
        return advance_through_calls(
            lambda cmd, first: tally.execute(cmd, ctx if first else later),
            lambda call_id: tally.outbox.attempt(ctx.project_id, call_id),
            command,
        )
    before = head(tally)
    outcome = tally.execute(command, ctx)
    make_requested_calls(tally, ctx.project_id, before)
    return outcome


def card_command(customer_id: UUID, number: str, provider: str = "stub") -> Any:
    """Make the stub test card ``number`` the customer's default payment method."""
    return pm.AttachPaymentMethod(
        provider=provider,
        customer_id=customer_id,
        payment_method=payment_method_for(number),
        make_default=True,
    )
