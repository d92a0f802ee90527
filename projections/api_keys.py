"""Projects and their API keys, as authentication reads them.

Only the SHA-256 hash of a key is stored (the ``KeyIssued`` event never holds the
secret). Authentication looks up the key id parsed from the presented key (the API with
``lookup_keys``, the rest with ``lookup_key``), compares hashes itself, and refuses
revoked keys.

A revocation counts from its commit, not from its projection (issue 10): the lookup's
one statement also asks the event table whether a ``KeyRevoked`` for the key was
recorded after the position this read model has reached, so a revoked key is refused
even while the projection worker is stopped or stuck. Both are read in one snapshot,
so a revocation is seen either in the read model or in the log, never in neither. The
project's events are found through the event table's primary key (originator id,
version): a project has only its registration and its keys' events. A key issued
while the read model is behind is not found until it catches up (it fails closed):
finding it would mean scanning the log past the read model's position by a key id no
index holds, for every made-up key id anyone sends. (A project's events also hold the
webhook endpoints and meters it counts: the primary key still finds them by project.)

A rotated key's ``expires_at`` (issue 14, ``Project.KeyExpiring``) is read the same way:
the read model's, or one recorded past its position; authentication compares it with
the clock at each request.

Queries:

- ``lookup_key(pool, schema, key_id) -> {key_id, project_id, key_hash, revoked,
  expires_at, project_mode, rate_limits} | None`` (``project_id`` as a string; ``revoked``
  and ``expires_at`` also count revocations and rotations not yet projected, as above;
  ``rate_limits`` the project's own, or None)
- ``await lookup_keys(conn, schema, key_ids) -> {key_id: {...the same}}``: several keys
  in one query on an asynchronous connection (the API's authentication, from its event
  loop; keys not found are absent)
- ``refused_keys_query(schema)``: the append function's confirmation of the keys a
  server authenticated from its key cache (``adapters.event_writer``), by the same rule
- ``list_keys(pool, schema, project_id) -> list[{key_id, prefix, label, revoked,
  expires_at, created_at, updated_at}]``: never the hash; as for ``lookup_key``
- ``list_projects(pool, schema) -> list[{id, name, mode, default_currency, rate_limits,
  created_at}]`` (for the CLI); ``page_projects`` the same a page at a time, and
  ``get_project`` one
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg import AsyncConnection, Cursor, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from projections import events as ev
from projections.base import ReadModel, Tracked
from projections.paging import fetch_all, fetch_one, fetch_page, plain
from projections.schema import TRACKING_TABLE

# The event store's table (adapters.eventstore: the application "tally"), named here
# because projections do not import adapters; a test checks the two agree.
EVENTS_TABLE = "tally_events"


class ApiKeys(ReadModel):
    name = "api_keys"
    tables = ("projects", "api_keys")
    handles = frozenset(
        {
            ev.ProjectCreated,
            ev.KeyIssued,
            ev.KeyRevoked,
            ev.KeyExpiring,
            ev.ProjectUpdated,
            ev.ProjectRateLimitsSet,
        }
    )

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        # Projects and keys change rarely, so plain statements in log order are enough.
        for event, position in events:
            kind = type(event)
            if kind in _OPERATOR_CHANGES:
                self._apply_change(cur, event)
            elif kind is ev.ProjectCreated:
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (project_id, name, mode, created_at, position) "
                        "VALUES (%s, %s, %s, %s, %s)"
                    ).format(self.t("projects")),
                    (event.originator_id, event.name, event.mode, event.timestamp, position),
                )
            elif kind is ev.KeyIssued:
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (key_id, project_id, key_hash, prefix, label, revoked, "
                        "created_at, updated_at, position) "
                        "VALUES (%s, %s, %s, %s, %s, false, %s, %s, %s)"
                    ).format(self.t("api_keys")),
                    (
                        event.key_id,
                        event.originator_id,
                        event.key_hash,
                        event.prefix,
                        event.label,
                        event.timestamp,
                        event.timestamp,
                        position,
                    ),
                )
            elif kind is ev.KeyRevoked:
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET revoked = true, updated_at = %s "
                        "WHERE key_id = %s AND project_id = %s"
                    ).format(self.t("api_keys")),
                    (event.timestamp, event.key_id, event.originator_id),
                )

    def _apply_change(self, cur: Cursor[Any], event: Any) -> None:
        """The changes the operator makes (issue 14): a project's name, mode and default
        currency, its rate limits, a rotated key's expiry."""
        kind = type(event)
        if kind is ev.ProjectUpdated:
            cur.execute(
                sql.SQL(
                    "UPDATE {} SET name = %s, mode = %s, default_currency = %s "
                    "WHERE project_id = %s"
                ).format(self.t("projects")),
                (event.name, event.mode, event.default_currency, event.originator_id),
            )
        elif kind is ev.ProjectRateLimitsSet:
            cur.execute(
                sql.SQL("UPDATE {} SET rate_limits = %s WHERE project_id = %s").format(
                    self.t("projects")
                ),
                (Jsonb(event.rate_limits), event.originator_id),
            )
        else:
            cur.execute(
                sql.SQL(
                    "UPDATE {} SET expires_at = %s, updated_at = %s "
                    "WHERE key_id = %s AND project_id = %s"
                ).format(self.t("api_keys")),
                (event.expires_at, event.timestamp, event.key_id, event.originator_id),
            )


_OPERATOR_CHANGES = frozenset({ev.ProjectUpdated, ev.ProjectRateLimitsSet, ev.KeyExpiring})


def lookup_key(pool: ConnectionPool[Any], schema: str, key_id: str) -> dict[str, Any] | None:
    row = fetch_one(pool, _lookup_query(schema, "k.key_id = %s"), [key_id])
    return None if row is None else plain(row)


def _lookup_query(schema: str, where: str) -> sql.Composed:
    # Cost (bench/key_lookups.py, three runs: 10,000 rounds each, alternating blocks, an
    # event table of 400,000 rows, the shared two-core box at load 2.5 to 4.5, so ±20 %
    # between runs): a round of one key took 140-215 µs, against 140-200 µs for the
    # read-model-only statement on the same connection and 185-300 µs as it ran before
    # (re-planned every round; see api.key_lookups.connect_lookups). Each key reads its
    # project's events (by primary key), so the worst case, 16 keys of one project with
    # 60 key events, took 370-650 µs a round against 245-340 µs read-model-only.
    return sql.SQL(
        "SELECT k.key_id, k.project_id, k.key_hash, p.mode AS project_mode, "
        "p.rate_limits, {revoked} AS revoked, {expires_at} AS expires_at "
        "FROM {s}.api_keys k JOIN {s}.projects p ON p.project_id = k.project_id {late} "
        "WHERE " + where
    ).format(s=sql.Identifier(schema), revoked=REVOKED, expires_at=EXPIRES_AT, late=_late(schema))


# What the key ``k`` is as of the log's head: the read model's row, or a revocation or a
# rotation (``late``) recorded past the position the read model has reached.
REVOKED = sql.SQL("(k.revoked OR COALESCE(late.revoked, false))")
# LEAST ignores a null: a key without an expiry on either side has none.
EXPIRES_AT = sql.SQL("LEAST(k.expires_at, late.expires_at)")


def _late(schema: str) -> sql.Composed:
    """A lateral join naming, for the key ``k`` (a row of ``api_keys``), whether a
    KeyRevoked of it, and the expiry a KeyExpiring gives it, are among its project's
    events past the read model's tracked position (see the module's docstring)."""
    # Event state is the library's JSON (adapters/encoding.py; a datetime is
    # {"_type_": ..., "_data_": <ISO 8601>}). Its bytes are searched for
    # ``"key_id":"<id>"`` first, which is cheap, and only a match is parsed to confirm
    # it: parsing every late revocation of a project for each of its keys made a
    # stalled round of 16 keys of one project several times slower.
    state = sql.SQL("convert_from(e.state, 'UTF8')::jsonb")
    return sql.SQL(
        "LEFT JOIN LATERAL (SELECT bool_or(e.topic = {revoked}) AS revoked, "
        "min(CASE WHEN e.topic = {expiring} THEN ({state} -> 'expires_at' ->> '_data_')"
        "::timestamptz END) AS expires_at "
        "FROM {s}.{events} e "
        "WHERE e.originator_id = k.project_id AND e.topic IN ({revoked}, {expiring}) "
        "AND e.notification_id > COALESCE("
        "(SELECT t.position FROM {s}.{tracking} t WHERE t.name = {name}), 0) "
        "AND CASE WHEN position(convert_to('\"key_id\":' || to_jsonb(k.key_id)::text, "
        "'UTF8') IN e.state) > 0 "
        "THEN {state} ->> 'key_id' = k.key_id ELSE false END) late ON true"
    ).format(
        s=sql.Identifier(schema),
        events=sql.Identifier(EVENTS_TABLE),
        revoked=sql.Literal(get_topic(ev.KeyRevoked)),
        expiring=sql.Literal(get_topic(ev.KeyExpiring)),
        state=state,
        tracking=sql.Identifier(TRACKING_TABLE),
        name=sql.Literal(ApiKeys.name),
    )


def refused_keys_query(schema: str) -> sql.Composed:
    """The query an append runs to confirm the keys its batch's commands were
    authenticated with from a key cache (``commands.bus.key_check.KeyCheck``): a row for
    each of them that no longer holds: gone from the read model (or never reached it),
    revoked there or among the project's events past its position, or expired at the
    latest time a request through it was authenticated. The same rule as the lookup's,
    read under the event table's lock, so no revocation commits between this read and
    the batch's commit. It reads the PL/pgSQL function's arguments ``key_ids``,
    ``key_projects`` and ``key_valid_at`` (ISO 8601 text)."""
    return sql.SQL(
        "SELECT c.key_id FROM (SELECT c.key_id, c.project_id, "
        "max(c.valid_at::timestamptz) AS valid_at "
        "FROM unnest(key_ids, key_projects, key_valid_at) AS c(key_id, project_id, valid_at) "
        "GROUP BY c.key_id, c.project_id) c "
        "LEFT JOIN {s}.api_keys k ON k.key_id = c.key_id AND k.project_id = c.project_id "
        "{late} WHERE k.key_id IS NULL OR {revoked} OR {expires_at} <= c.valid_at"
    ).format(s=sql.Identifier(schema), revoked=REVOKED, expires_at=EXPIRES_AT, late=_late(schema))


@lru_cache(maxsize=64)
def _many_keys_query(schema: str) -> bytes:
    # Composed and rendered once per schema: every round of lookups runs the same
    # statement, and psycopg renders a ``Composed`` again at each execute and converts its
    # placeholders again (about a third of a round's Python time under bench (c)), where
    # bytes are converted once and the conversion is kept.
    return _lookup_query(schema, "k.key_id = ANY(%s)").as_string().encode()


async def lookup_keys(
    conn: AsyncConnection[Any], schema: str, key_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The rows of ``key_ids`` by key id, in one query (see ``api.key_lookups.KeyLookups``)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_many_keys_query(schema), [list(key_ids)])
        rows = await cur.fetchall()
    return {str(row["key_id"]): plain(row) for row in rows}


def list_keys(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> list[dict[str, Any]]:
    # ``revoked`` and ``expires_at`` by the same rule as authentication, so a listing made
    # while the read model is behind does not show a refused key as active.
    query = sql.SQL(
        "SELECT k.key_id, k.prefix, k.label, {revoked} AS revoked, {expires_at} AS expires_at, "
        "k.created_at, k.updated_at FROM {s}.api_keys k {late} "
        "WHERE k.project_id = %s ORDER BY k.position, k.key_id"
    ).format(s=sql.Identifier(schema), revoked=REVOKED, expires_at=EXPIRES_AT, late=_late(schema))
    return [plain(r) for r in fetch_all(pool, query, [project_id])]


def list_projects(pool: ConnectionPool[Any], schema: str) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT project_id AS id, name, mode, default_currency, "
        "COALESCE(rate_limits, '{{}}'::jsonb) AS rate_limits, created_at "
        "FROM {s}.projects ORDER BY position, project_id"
    ).format(s=sql.Identifier(schema))
    return [plain(r) for r in fetch_all(pool, query, [])]


def get_project(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> dict[str, Any] | None:
    """One project's name and mode (the seller on its invoice documents)."""
    query = sql.SQL(
        "SELECT project_id AS id, name, mode, default_currency, "
        "COALESCE(rate_limits, '{{}}'::jsonb) AS rate_limits, created_at "
        "FROM {s}.projects WHERE project_id = %s"
    ).format(s=sql.Identifier(schema))
    row = fetch_one(pool, query, [project_id])
    return None if row is None else plain(row)


def page_projects(
    pool: ConnectionPool[Any], schema: str, limit: int, starting_after: UUID | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Projects in the order they were created, a page at a time (the operator API)."""
    after: sql.Composable = sql.SQL("")
    params: list[Any] = []
    if starting_after is not None:
        after = sql.SQL(
            "WHERE (position, project_id) > (SELECT position, project_id FROM {s}.projects "
            "WHERE project_id = %s)"
        ).format(s=sql.Identifier(schema))
        params.append(starting_after)
    query = sql.SQL(
        "SELECT project_id AS id, name, mode, default_currency, "
        "COALESCE(rate_limits, '{{}}'::jsonb) AS rate_limits, created_at "
        "FROM {s}.projects {after} ORDER BY position, project_id LIMIT %s"
    ).format(s=sql.Identifier(schema), after=after)
    rows, has_more = fetch_page(pool, query, params, limit)
    return [plain(r) for r in rows], has_more
