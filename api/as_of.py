"""The ``as_of`` query parameter (issue 15, docs/audit.md "Point in time"): one value, a
log position (digits) or an RFC 3339 time, on the reads that take it.

The answer is what the read model showed once the log had reached that position, and
it names the position in two response headers, ``Tally-As-Of-Position`` and
``Tally-As-Of-Timestamp`` (when the event at or before that position was recorded),
the same on every route that takes ``as_of``. A position beyond the log's head is
refused with 422 ``position_not_issued`` (no write has answered it; its answer is not
known yet); a time maps to the last position recorded at or before it, so a time after
the last event answers the head, and the headers say which position that was.

The answers are computed from the log (``adapters.point_in_time``): an aggregate's row
from the aggregate rebuilt at that position (``aggregate_at``), which needs no read
model; append-only rows (the journal) from the read model's rows up to the position,
once the read models hold it (a bounded wait, else 503 ``read_model_behind``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import psycopg
from fastapi import Depends, Query, Response

from adapters.point_in_time import (
    Moment,
    aggregate_at,
    moment_at_position,
    moment_at_time,
    version_at,
)
from api.auth import TallyDep
from api.errors import PositionNotIssued, ReadModelBehind
from api.tally import Tally
from domain.errors import NotFound
from domain.limits import TIMESTAMP_PATTERN

POSITION_HEADER = "Tally-As-Of-Position"
TIMESTAMP_HEADER = "Tally-As-Of-Timestamp"
_MAX_DIGITS = 18  # every such number fits an int8 position
AS_OF_PATTERN = rf"^(?:[0-9]{{1,{_MAX_DIGITS}}}|{TIMESTAMP_PATTERN[1:-1]})$"
_DIGITS = re.compile(rf"[0-9]{{1,{_MAX_DIGITS}}}")

AS_OF_DESCRIPTION = (
    "Answer as the read model stood at a point in the past: a log position (an integer, "
    "e.g. a write's `Tally-Position`) or an RFC 3339 time with a timezone (the last "
    "position recorded at or before it). The answer names the position it was computed "
    "at in `Tally-As-Of-Position` and `Tally-As-Of-Timestamp`. A position beyond the "
    "log's head is refused (422 `position_not_issued`); a later time answers the head."
)

AS_OF_HEADERS: dict[str, Any] = {
    POSITION_HEADER: {
        "description": "With `as_of`: the log position this answer was computed at.",
        "schema": {"type": "integer"},
    },
    TIMESTAMP_HEADER: {
        "description": "With `as_of`: when the last event at or before that position was "
        "recorded (absent at position 0, before the first event).",
        "schema": {"type": "string", "format": "date-time"},
    },
}

AsOfParam = Annotated[
    str | None,
    Query(
        pattern=AS_OF_PATTERN,
        max_length=40,
        description=AS_OF_DESCRIPTION,
        examples=["1042", "2026-03-31T23:59:59Z"],
    ),
]


class PointInTime:
    """The point ``as_of`` names, resolved against the log when a read first needs it
    (in the connection it reads the aggregate's version with, so a rebuilt aggregate
    costs one connection of the pool), then kept for the rest of the request; resolving
    it puts its headers on the answer."""

    def __init__(self, tally: Tally, value: str, response: Response) -> None:
        self.tally = tally
        self.value = value
        self.response = response
        self._moment: Moment | None = None
        # Aggregates rebuilt for this request (``aggregate_as_of``): what its work was.
        self.rebuilds = 0

    def moment(self, conn: psycopg.Connection[Any] | None = None) -> Moment:
        if self._moment is None:
            if conn is None:
                with self.tally.views.connection() as own:
                    return self.moment(own)
            self._moment = _resolve(self.tally, conn, self.value)
            self.response.headers[POSITION_HEADER] = str(self._moment.position)
            if self._moment.timestamp is not None:
                self.response.headers[TIMESTAMP_HEADER] = self._moment.timestamp.isoformat()
        return self._moment

    @property
    def position(self) -> int:
        return self.moment().position

    def version_of(self, aggregate_id: UUID) -> int:
        """``aggregate_id``'s version at this point (0: it did not exist yet)."""
        tally = self.tally
        with tally.views.connection() as conn:
            position = self.moment(conn).position
            return version_at(conn, tally.schema, tally.store.events_table, aggregate_id, position)


async def point_in_time(
    tally: TallyDep, response: Response, as_of: AsOfParam = None
) -> PointInTime | None:
    """The point ``as_of`` names (None without it); its form is checked by the pattern."""
    return None if as_of is None else PointInTime(tally, as_of, response)


AsOf = Annotated[PointInTime | None, Depends(point_in_time)]


def _resolve(tally: Tally, conn: psycopg.Connection[Any], as_of: str) -> Moment:
    table = tally.store.events_table
    if _DIGITS.fullmatch(as_of):
        found = moment_at_position(conn, tally.schema, table, int(as_of))
        if found is None:
            raise PositionNotIssued(
                f"as_of position {as_of} is beyond the log's head: no write has answered it yet",
                position=int(as_of),
            )
        return found
    when = datetime.fromisoformat(as_of.upper().replace("Z", "+00:00"))
    return moment_at_time(conn, tally.schema, table, when)


A = TypeVar("A")


def aggregate_as_of(
    tally: Tally, at: PointInTime, cls: type[A], aggregate_id: UUID, project_id: UUID
) -> A | None:
    """The aggregate ``aggregate_id`` of class ``cls`` as it was at ``at``, or None if it
    did not exist yet, is of another class, or belongs to another project (an id from a
    URL is never trusted)."""
    at.rebuilds += 1
    with tally.views.connection() as conn:
        position = at.moment(conn).position
        aggregate = aggregate_at(conn, tally.store, tally.schema, aggregate_id, position)
    if not isinstance(aggregate, cls) or getattr(aggregate, "project_id", None) != project_id:
        return None
    return aggregate


def require_existed(at: PointInTime, aggregate_id: UUID, what: str) -> None:
    """404 unless ``aggregate_id`` had an event at or before ``at`` (the caller has
    checked that it is the caller's project's)."""
    if at.version_of(aggregate_id) == 0:
        raise NotFound(f"{what} {aggregate_id} not found at position {at.position}")


def require_projected(tally: Tally, at: PointInTime) -> None:
    """Wait (bounded by ``read_wait_max_ms``) until the read models hold ``at``, for an
    answer read from their rows up to it; 503 ``read_model_behind`` if they do not."""
    from projections.runner import wait_for_position

    moment = at.moment()
    timeout_s = tally.settings.read_wait_max_ms / 1000
    if not wait_for_position(tally.views, tally.schema, moment.position, timeout_s):
        raise ReadModelBehind(
            f"the read models have not reached position {moment.position} within "
            f"{tally.settings.read_wait_max_ms} ms; retry shortly",
            headers={"Retry-After": "1"},
            position=moment.position,
        )
