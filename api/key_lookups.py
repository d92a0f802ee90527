"""How authentication reads API keys (``api.auth``): ``KeyLookups``, rounds of lookups
on the event loop that share one query, and ``KeyCache``, the rows those lookups found
valid, kept ``KEY_CACHE_S`` (``domain/limits/``) for the write routes that run their
command through the bus (``api.auth.ApiKeyWriterAuth``; docs/architecture.md, Tenancy).

What keeps a revocation immediate is not the cache: a write authenticated from it
carries its key to the append (``commands.bus.key_check.KeyCheck``), which confirms it
under the event table's lock, and an answer no append confirmed (a replay, a refusal, a
command that changed nothing) looks the key up again before it is sent. What the cache
bounds is what a row carries besides: the project's rate limits and mode are at most
``KEY_CACHE_S`` old. Only keys that were found and held are kept, so made-up key ids
cost no memory; and at most ``MAX_CACHED_KEYS`` of them, the oldest dropped first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import psycopg

from domain.limits import KEY_CACHE_S, MAX_CACHED_KEYS

# Longest a round of key lookups (connecting included) may take before its requests are
# answered 503.
LOOKUP_TIMEOUT_S = 10.0


class KeyLookups:
    """Reads API keys (``projections.api_keys.lookup_keys``) on the event loop, over one
    asynchronous connection of its own, coalescing concurrent lookups.

    A lookup joins the next round; one round is one query for every key id waiting in
    it, and a round starts only when the previous one has answered. So every lookup is
    answered by a query that started after the lookup was asked, which is what keeps a
    revocation immediate: once it is committed, no later request sees the key as
    valid. (The write routes' cache, ``cache``, does not change that: their append
    confirms the key, see the module's docstring.)

    It belongs to one event loop: the app's lifespan makes it and closes it."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self._waiting: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self._rounds: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._closed = False
        # The rows these lookups found valid, for the write routes (``KeyCache``).
        self.cache = KeyCache()
        # Lookups asked and queries made, to see how much they are shared.
        self.lookups = 0
        self.rounds = 0

    async def lookup(self, key_id: str) -> dict[str, Any] | None:
        """The key's row (see ``projections.api_keys.lookup_keys``), or None."""
        if self._closed:
            raise RuntimeError("key lookups are closed")
        answer: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key_id, []).append(answer)
        self.lookups += 1
        if self._rounds is None:
            self._rounds = asyncio.create_task(self._run_rounds())
        return await answer

    async def close(self) -> None:
        self._closed = True
        if self._rounds is not None:
            await asyncio.wait([self._rounds])
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _run_rounds(self) -> None:
        try:
            while self._waiting:
                current, self._waiting = self._waiting, {}
                self.rounds += 1
                try:
                    rows = await self._query(list(current))
                except Exception as exc:
                    # Its requests get the error (a database error answers 503).
                    for answer in (a for answers in current.values() for a in answers):
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                except BaseException:
                    # The loop is cancelling this task (shutdown): no request is left
                    # waiting for an answer that will not come.
                    for answer in (a for answers in current.values() for a in answers):
                        answer.cancel()
                    raise
                for key_id, answers in current.items():
                    for answer in answers:
                        # A request whose client went away has cancelled its answer.
                        if not answer.done():
                            answer.set_result(rows.get(key_id))
        finally:
            self._rounds = None

    async def _query(self, key_ids: list[str]) -> dict[str, dict[str, Any]]:
        kept = self._conn is not None and not self._conn.closed
        try:
            return await self._query_once(key_ids)
        except LookupTimeout:
            raise  # a second try would make every waiting request wait twice as long
        except psycopg.OperationalError:
            # The connection kept from the last round may have died since (Postgres
            # restarted, or an administrator ended it) while the database is fine: one
            # more try, on a new connection, tells the two apart.
            if not kept:
                raise
            return await self._query_once(key_ids)

    async def _query_once(self, key_ids: list[str]) -> dict[str, dict[str, Any]]:
        from projections.api_keys import lookup_keys

        # Every request of this process waits for the round in flight, so a round must
        # not hang: past the time limit it fails like a lost connection (503).
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                if self._conn is None or self._conn.closed:
                    self._conn = await connect_lookups(self.url)
                return await lookup_keys(self._conn, self.schema, key_ids)
        except BaseException as exc:
            # Whatever went wrong, the next round starts on a new connection rather
            # than on one whose state is unknown (a query cut short, Postgres gone).
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await conn.close()
            if isinstance(exc, TimeoutError):
                raise LookupTimeout("API key lookup timed out") from None
            raise


async def connect_lookups(url: str) -> psycopg.AsyncConnection[Any]:
    """A connection for key lookups, which plans the lookup statement once.

    psycopg prepares a statement run five times, but Postgres kept choosing a custom
    plan for every round (its estimate for one key id beats the generic plan's), so
    each round was planned again: measured with bench/key_lookups.py, about a third of
    a round before issue 10. The generic plan is the right one at any size (index
    lookups by key id, project id and the event table's primary key), and a new ANALYZE
    of the tables makes Postgres build it again."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    return conn


class LookupTimeout(psycopg.OperationalError):
    """A key lookup round took longer than ``LOOKUP_TIMEOUT_S`` (answered 503)."""


class KeyCache:
    """Key rows by key id, each with the time it was read. It belongs to one event loop
    (no lock): ``KeyLookups`` holds it."""

    def __init__(
        self,
        max_age_s: float = KEY_CACHE_S,
        size: int = MAX_CACHED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self.size = size
        self._clock = clock
        self._rows: dict[str, tuple[dict[str, Any], float]] = {}

    def get(self, key_id: str) -> dict[str, Any] | None:
        """The key's row if it was read less than ``max_age_s`` ago, else None."""
        kept = self._rows.get(key_id)
        if kept is None:
            return None
        if self._clock() - kept[1] >= self.max_age_s:
            del self._rows[key_id]
            return None
        return kept[0]

    def keep(self, key_id: str, row: dict[str, Any]) -> None:
        """Keep a row just read and found valid (a dict keeps insertion order, so the
        first key is the oldest one kept)."""
        self._rows.pop(key_id, None)
        if len(self._rows) >= self.size:
            del self._rows[next(iter(self._rows))]
        self._rows[key_id] = (row, self._clock())

    def drop(self, key_id: str) -> None:
        self._rows.pop(key_id, None)

    def __len__(self) -> int:
        return len(self._rows)
