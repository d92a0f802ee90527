"""``collection`` and ``collection_reason`` on the API's subscriptions and invoices, and
the start-up warning for projects that bill without a way to collect
(``projections/collection.py`` says what they mean).

The route's own query is wrapped (``collected_one``, ``collected_page``), so a route
keeps its one line and the fields come from one place."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from api.tally import Tally
from commands.bus import Outcome
from projections.collection import billing_without_collection, collection_of

log = logging.getLogger("tally.collection")

Row = dict[str, Any]


def with_collection(tally: Tally, project_id: UUID, rows: Sequence[Row]) -> list[Row]:
    """``rows`` (each with a ``customer_id``) with their customer's collection added."""
    found = collection_of(
        tally.views, tally.schema, project_id, {UUID(str(r["customer_id"])) for r in rows}
    )
    collected = []
    for row in rows:
        collection, reason = found[UUID(str(row["customer_id"]))]
        collected.append({**row, "collection": collection, "collection_reason": reason})
    return collected


def collected_one(query: Callable[..., Row | None], tally: Tally) -> Callable[..., Row | None]:
    """``query`` (a read model's get) answering its row with the collection fields."""

    def collected(pool: Any, schema: str, project_id: UUID, *keys: Any) -> Row | None:
        row = query(pool, schema, project_id, *keys)
        return None if row is None else with_collection(tally, project_id, [row])[0]

    return collected


def collected_page(
    query: Callable[..., tuple[Sequence[Row], bool]], tally: Tally
) -> Callable[..., tuple[Sequence[Row], bool]]:
    """``query`` (a read model's list) answering its rows with the collection fields."""

    def collected(
        pool: Any, schema: str, project_id: UUID, *keys: Any, **filters: Any
    ) -> tuple[Sequence[Row], bool]:
        rows, has_more = query(pool, schema, project_id, *keys, **filters)
        return with_collection(tally, project_id, rows), has_more

    return collected


def collected_answer(tally: Tally, project_id: UUID, outcome: Outcome, key: str) -> Outcome:
    """A write's answer with the collection fields on its ``key`` object (a copy: the
    outcome may be the one an idempotent retry answers again)."""
    found = outcome.body.get(key)
    if not isinstance(found, dict) or "customer_id" not in found:
        return outcome
    body = {**outcome.body, key: with_collection(tally, project_id, [found])[0]}
    return replace(outcome, body=body)


def warn_uncollectable(tally: Tally) -> None:
    """One warning per project whose subscriptions or open invoices nothing collects."""
    for project in billing_without_collection(tally.views, tally.schema):
        log.warning(
            "project %s (%s) bills %d subscription(s) and has %d open invoice(s) but no "
            "auto_charge_provider: Tally charges none of its invoices; set one "
            "(POST /v1/billing_settings) or record payments (POST /v1/invoices/{id}/pay)",
            project["id"],
            project["name"],
            project["subscriptions"],
            project["open_invoices"],
        )
