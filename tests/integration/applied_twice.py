"""The worker's contained retry, on the whole log: a first attempt at one batch (without
savepoints) rolled back, then the same decoded events applied again and committed. A
read model that folds events it (or another one) changed the first time builds other rows
than one pass does, which replay (the log decoded afresh, applied once) then finds."""

from __future__ import annotations

import psycopg

from api.bootstrap import Tally
from projections.applying import project_batch
from projections.decoding import FastDecoder
from projections.reading import decode, fetch_notifications
from projections.registry import make_models, read_positions


def apply_twice(tally: Tally) -> None:
    """Project ``tally``'s whole log as one batch applied twice, the first time undone."""
    head = tally.store.recorder.max_notification_id() or 0
    events = decode(FastDecoder(tally.store), fetch_notifications(tally.store, 1, head))
    models = make_models(tally.views, tally.schema)
    with tally.views.connection() as conn, conn.cursor() as cur:
        positions = read_positions(cur, tally.schema, models)
        with conn.transaction() as first:
            project_batch(cur, tally.schema, models, positions, events, head, contained=False)
            raise psycopg.Rollback(first)  # as if it had failed
        project_batch(cur, tally.schema, models, positions, events, head)
