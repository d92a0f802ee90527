"""Events the usage store did not write because a renewal fenced their period off
after the door admitted them (``adapters/usage_fences.py``): answered as the door
would answer them now, ``usage_period_closed``, or ``existed`` for a resend of a
stored transaction id (what is stored stands, as at the door)."""

from __future__ import annotations

from uuid import UUID

from api.tally import Tally
from api.usage_door import Sorted, stored_among
from domain.usage import Accepted, UsagePeriodClosed


def fenced_refusal(event: Accepted) -> UsagePeriodClosed:
    return UsagePeriodClosed(
        f"timestamp {event.timestamp.isoformat()} is in a period a renewal has just billed "
        "for good (it renewed after this event was checked); no later invoice would bill "
        "it (docs/usage.md, late events)"
    )


def answer_fenced(tally: Tally, project_id: UUID, batch: Sorted, closed: frozenset[str]) -> None:
    """Move the batch's ``closed`` events from accepted to refused (or repeated)."""
    if not closed:
        return
    stored = stored_among(tally, project_id, sorted(closed))
    kept = []
    for index, event in batch.accepted:
        tx = event.transaction_id
        if tx not in closed:
            kept.append((index, event))
        elif tx in stored:
            batch.repeated.append((index, tx))
        else:
            batch.refused.append((index, tx, fenced_refusal(event)))
    batch.accepted = kept
