"""``usage.recorded`` from the broker (issue 13): one usage event or a batch, ingested
through the same door and store as ``POST /v1/usage_events`` and ``/batch``
(``api/usage_ingest.py``).

Usage events are not commands: they skip the command bus and the message-id key, and
``transaction_id`` is what deduplicates, so a redelivered message (or the same events in
another message) stores nothing twice. Each event is judged on its own by the door: the
accepted ones are stored, and when any is refused (an unknown customer, a closed period,
an event name no meter counts...) the message is then refused as a whole, so it is
dead-lettered with every refusal listed and ``billing.command.rejected`` is published,
as for the other messages. Sending it again once fixed stores only what was refused
before. A failure of the moment (``read_model_behind``) stores nothing and is retried.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.inbound import messages as im
from api.tally import Tally
from api.usage_door import Sorted
from api.usage_ingest import ingest
from domain.errors import DomainError

# How many refusals a dead letter lists (its detail names the first few).
MAX_LISTED = 20
MAX_IN_DETAIL = 3


class UsageRefused(DomainError):
    """Events of a ``usage.recorded`` message the door refused (the others were stored).
    Its code is the first refusal's, as the HTTP route would answer that event."""

    def __init__(self, code: str, detail: str, **context: Any) -> None:
        super().__init__(detail, **context)
        self.code = code


def record_usage(tally: Tally, project_id: UUID, data: im.UsageRecorded) -> list[Any]:
    """Store the message's events; ``[["usage", happened, replayed]]`` like a command's
    steps, or ``UsageRefused`` once the accepted ones are stored."""
    raw = [event.model_dump(mode="json") for event in data.events]
    batch, created = ingest(tally, project_id, raw)
    if batch.refused:
        raise refused(batch, len(raw))
    return [["usage", "created" if created else "existed", not created]]


def refused(batch: Sorted, total: int) -> UsageRefused:
    """The refusal of a message whose ``batch.refused`` is not empty."""
    listed = [
        {"index": i, "transaction_id": tx, "code": error.code, "detail": error.detail}
        for i, tx, error in sorted(batch.refused, key=lambda r: r[0])
    ]
    named = "; ".join(
        f"#{r['index']} {r['transaction_id']!r}: {r['code']}: {r['detail']}"
        for r in listed[:MAX_IN_DETAIL]
    )
    kept = total - len(listed)
    detail = (
        f"{len(listed)} of {total} usage events refused ({kept} stored or already there): " + named
    )
    return UsageRefused(
        str(listed[0]["code"]), detail, refused=listed[:MAX_LISTED], refused_count=len(listed)
    )
