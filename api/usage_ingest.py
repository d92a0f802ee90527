"""Usage ingestion's one way in (issue 13), shared by the HTTP routes
(``api/routes/usage.py``) and the broker's ``usage.recorded`` messages
(``api/inbound/usage.py``): the door sorts a batch (``api/usage_door.py``), and the
accepted events are written in one transaction (``adapters/usage_store.py``), where a
``transaction_id`` already stored is not written again."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.tally import Tally
from api.usage_door import Sorted, sort_batch
from api.usage_fenced import answer_fenced
from api.usage_thresholds import bill_thresholds_after


def ingest(tally: Tally, project_id: UUID, raw: list[Any]) -> tuple[Sorted, frozenset[str]]:
    """The batch as the door sorted it, and the transaction ids this write created."""
    from adapters.usage_store import write

    batch = sort_batch(tally, project_id, raw)
    events = [event for _, event in batch.accepted]
    written = write(tally.views, tally.schema, project_id, events, tally.clock.now())
    # Events a renewal fenced off after the door admitted them: refused as it would now.
    answer_fenced(tally, project_id, batch, written.closed)
    # Progressive billing: a subscription whose usage charges reached a threshold.
    bill_thresholds_after(tally, project_id, events, written.created)
    return batch, written.created
