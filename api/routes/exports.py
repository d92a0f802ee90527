"""A project's own data as files (docs/audit.md): its events with positions and chain
hashes, and its journal, as streamed responses. Each reads in chunks (keyset on the log
position), checking a pooled connection out for one chunk's statement and giving it back
before sending that chunk: the views pool is shared by every read, webhook delivery and
the publisher, and a client reading slowly must not hold one of its connections. A
response stops after ``MAX_EXPORT_ITEMS`` items: a client that gets that many asks again
from the last position + 1."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.auth import TallyDep
from api.routes.common import Reader, read_problems
from domain.limits import MAX_EXPORT_ITEMS

router = APIRouter(prefix="/v1/exports", tags=["exports"])

_POSITION = r"^\d{1,18}$"
# A day of the years 1000-8999, a time of day and an offset, each field in its range (a
# day past its month's end is refused by the route: invalid_window).
_DAY = r"[1-8]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
_OFFSET = r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
_BOUND = rf"^(\d{{1,18}}|{_DAY}|{_DAY}T{_TIME}{_OFFSET})$"
_LIMIT_TEXT = (
    f"At most {MAX_EXPORT_ITEMS:,} items per response (limits.md): when a response holds "
    "that many, ask again from the last one's position + 1."
)
JSONL = "application/x-ndjson"


@router.get(
    "/events",
    summary="Export the project's events with positions and chain hashes",
    description="JSON lines, in log order: each of the project's stored events with its "
    "`position`, `aggregate_id`, `version`, `topic`, `state` (the stored bytes as text), "
    "`previous_hash` and `hash`. The chain spans every project: `previous_hash` is the "
    "hash of the event just before this one in the whole log (null: none), so "
    "`hash = SHA-256(previous_hash || canonical bytes)` can be checked line by line, "
    "and the last hash against `GET /v1/audit/head` or a signed checkpoint once the log "
    "has not moved (docs/audit.md). Secrets are not exported: API-key hashes and sealed "
    "provider and webhook-endpoint secrets are null in `state` and named in the line's "
    "`redacted` (a list of field names); such a line keeps its stored `previous_hash` "
    "and `hash`, which its redacted `state` no longer recomputes. " + _LIMIT_TEXT,
    response_class=StreamingResponse,
    responses={200: {"content": {JSONL: {"schema": {"type": "string"}}}}, **read_problems()},
)
def export_events(
    tally: TallyDep,
    caller: Reader,
    start: Annotated[
        int, Query(alias="from", ge=1, le=2**63 - 1, description="First position")
    ] = 1,
    stop: Annotated[
        int, Query(alias="to", ge=1, le=2**63 - 1, description="Last position (inclusive)")
    ] = 2**63 - 1,
) -> StreamingResponse:
    from adapters.audit_export import project_event_lines

    bounds = (start, stop, MAX_EXPORT_ITEMS)
    lines = project_event_lines(
        tally.views.connection, tally.schema, tally.store.events_table, caller.project_id, bounds
    )
    return StreamingResponse(lines, media_type=JSONL)


_BOUND_TEXT = (
    "A log position (digits), a date (2026-03-31: as `to`, the whole day, UTC) or a "
    "timestamp with its offset (years 1000-8999); inclusive. A day past its month's end "
    "is refused with 422 `invalid_window`"
)
From = Annotated[str | None, Query(alias="from", pattern=_BOUND, description=_BOUND_TEXT)]
To = Annotated[str | None, Query(alias="to", pattern=_BOUND, description=_BOUND_TEXT)]


@router.get(
    "/journal",
    summary="Export the project's journal entries and postings",
    description="In log order. `format=csv`: one row per posting, the entry's columns "
    "repeated (entry_id, position, created_at, kind, source_id, currency, seq, account, "
    "account_owner, amount, project_id); `format=jsonl`: one line per entry with its "
    "postings. `account_owner` is a wallet's `owner_ref` (empty for system accounts). "
    + _LIMIT_TEXT,
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}, JSONL: {}}},
        **read_problems("invalid_window"),
    },
)
def export_journal(
    tally: TallyDep,
    caller: Reader,
    form: Annotated[Literal["csv", "jsonl"], Query(alias="format")] = "csv",
    start: From = None,
    stop: To = None,
) -> StreamingResponse:
    from adapters.journal_export import chunked_posting_rows, lines_of, window

    bounds = window(start, stop)  # a date that does not exist is refused here, with 422
    media_type = "text/csv" if form == "csv" else JSONL
    rows = chunked_posting_rows(
        tally.views.connection, tally.schema, caller.project_id, bounds, MAX_EXPORT_ITEMS
    )
    return StreamingResponse(lines_of(rows, form), media_type=media_type)
