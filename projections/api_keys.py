"""Projects and their API keys, as authentication reads them.

Only the SHA-256 hash of a key is stored (the ``KeyIssued`` event never holds the
secret). Authentication looks up the key id parsed from the presented key (the API with
``lookup_keys``, the rest with ``lookup_key``), compares hashes itself, and refuses
revoked keys.

Queries:

- ``lookup_key(pool, schema, key_id) -> {key_id, project_id, key_hash, revoked, project_mode}
  | None`` (``project_id`` as a string)
- ``await lookup_keys(conn, schema, key_ids) -> {key_id: {project_id, key_hash, revoked,
  project_mode}}``: several keys in one query on an asynchronous connection (the API's
  authentication, from its event loop; keys not found are absent)
- ``list_keys(pool, schema, project_id) -> list[{key_id, prefix, label, revoked,
  created_at, updated_at}]``: never the hash
- ``list_projects(pool, schema) -> list[{id, name, mode, created_at}]`` (for the CLI)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, Cursor, sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from projections import events as ev
from projections.base import ReadModel, Tracked
from projections.paging import fetch_all, fetch_one, plain


class ApiKeys(ReadModel):
    name = "api_keys"
    tables = ("projects", "api_keys")
    handles = frozenset({ev.ProjectRegistered, ev.KeyIssued, ev.KeyRevoked})

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        # Projects and keys change rarely, so plain statements in log order are enough.
        for event, position in events:
            kind = type(event)
            if kind is ev.ProjectRegistered:
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


def lookup_key(pool: ConnectionPool[Any], schema: str, key_id: str) -> dict[str, Any] | None:
    row = fetch_one(pool, _lookup_query(schema, "k.key_id = %s"), [key_id])
    return None if row is None else plain(row)


def _lookup_query(schema: str, where: str) -> sql.Composed:
    return sql.SQL(
        "SELECT k.key_id, k.project_id, k.key_hash, k.revoked, p.mode AS project_mode "
        "FROM {s}.api_keys k JOIN {s}.projects p ON p.project_id = k.project_id "
        "WHERE " + where
    ).format(s=sql.Identifier(schema))


@lru_cache(maxsize=64)
def _many_keys_query(schema: str) -> sql.Composed:
    # Composed once per schema: every round of lookups runs the same statement.
    return _lookup_query(schema, "k.key_id = ANY(%s)")


async def lookup_keys(
    conn: AsyncConnection[Any], schema: str, key_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The rows of ``key_ids`` by key id, in one query (see ``api.auth.KeyLookups``)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_many_keys_query(schema), [list(key_ids)])
        rows = await cur.fetchall()
    return {str(row["key_id"]): plain(row) for row in rows}


def list_keys(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT key_id, prefix, label, revoked, created_at, updated_at "
        "FROM {s}.api_keys WHERE project_id = %s ORDER BY position, key_id"
    ).format(s=sql.Identifier(schema))
    return [plain(r) for r in fetch_all(pool, query, [project_id])]


def list_projects(pool: ConnectionPool[Any], schema: str) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT project_id AS id, name, mode, created_at FROM {s}.projects "
        "ORDER BY position, project_id"
    ).format(s=sql.Identifier(schema))
    return [plain(r) for r in fetch_all(pool, query, [])]


def get_project(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> dict[str, Any] | None:
    """One project's name and mode (the seller on its invoice documents)."""
    query = sql.SQL(
        "SELECT project_id AS id, name, mode, created_at FROM {s}.projects WHERE project_id = %s"
    ).format(s=sql.Identifier(schema))
    row = fetch_one(pool, query, [project_id])
    return None if row is None else plain(row)
