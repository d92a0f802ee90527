"""API-key authentication: ``Authorization: Bearer tly_<key id>_<secret>``.

The key id selects the stored hash; the presented key is hashed and compared in constant
time. Every failure (missing, malformed, unknown, revoked, wrong secret) answers the same
401 ``unauthenticated``, so the answer never tells an attacker which part was right.
The key and the header are never logged.

Every request reads its key when it arrives (no cache to invalidate across server
workers): from the ``api_keys`` read model, and, in the same statement, from the
event log any revocation of the key the read model has not applied yet
(``projections.api_keys``). So a revoked key is refused from the request after the
revocation's commit, even while the projection worker is stopped or stuck (issue 10).
A key issued while the read model is behind is refused until it has caught up. The
read is made from the event loop (``KeyLookups``), not from a threadpool thread, and
lookups that wait at the same time share one query.

A rotated key (issue 14) is refused from its ``expires_at`` on, compared with the app's
clock at each request; then the request is counted against the key's rate-limit bucket
(``api.rate_limits``, the project's policy from the same row) before the route runs.
Operator keys (``api.operator_auth``) and customer tokens (``api.customer_auth``) have
dependencies of their own; none of them parses as a project key.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.rate_limits import admit, failures_counted
from api.tally import Tally
from commands.bus import Context
from commands.projects import hash_key, split_key
from domain.errors import Unauthenticated
from domain.rate_limits import policy_for

# Upper bound on a presented key, so that hashing a huge header costs nothing.
MAX_KEY_CHARS = 200

REFUSAL = "a valid API key is required (Authorization: Bearer <key>)"

# Longest a round of key lookups (connecting included) may take before its requests are
# answered 503.
LOOKUP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Caller:
    """The authenticated project and key. The key id is the actor recorded on events."""

    project_id: UUID
    key_id: str
    mode: str

    def context(self, idempotency_key: str | None = None) -> Context:
        return Context(self.project_id, self.key_id, idempotency_key)


def get_tally(request: Request) -> Tally:
    tally: Tally = request.app.state.tally
    return tally


async def tally_dependency(request: Request) -> Tally:
    """``get_tally`` as a dependency. It is ``async`` so that FastAPI calls it on the event
    loop: a plain function dependency costs a round trip through the threadpool."""
    return get_tally(request)


class KeyLookups:
    """Reads API keys (``projections.api_keys.lookup_keys``) on the event loop, over one
    asynchronous connection of its own, coalescing concurrent lookups.

    A lookup joins the next round; one round is one query for every key id waiting in
    it, and a round starts only when the previous one has answered. So every lookup is
    answered by a query that started after the lookup was asked, which is what keeps a
    revocation immediate: once it is committed, no later request sees the key as
    valid. (An in-process cache of valid keys would save the query, but no server
    worker could then know, without asking Postgres, that another process's projection
    worker has just revoked a key; LISTEN/NOTIFY narrows that window but does not
    close it.)

    It belongs to one event loop: the app's lifespan makes it and closes it."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self._waiting: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self._rounds: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._closed = False
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


def key_lookups(request: Request) -> KeyLookups:
    """The app's ``KeyLookups``; made here if the app runs without its lifespan."""
    lookups: KeyLookups | None = getattr(request.app.state, "key_lookups", None)
    if lookups is None:
        tally = get_tally(request)
        lookups = request.app.state.key_lookups = KeyLookups(tally.target.url, tally.schema)
    return lookups


def check_key(presented: str) -> str:
    """The key id of a presented key, or 401 when it cannot be one of ours."""
    key_id = split_key(presented) if len(presented) <= MAX_KEY_CHARS else None
    if key_id is None:
        raise Unauthenticated(REFUSAL)
    return key_id


def verify(
    presented: str,
    key_id: str,
    row: dict[str, Any] | None,
    now: Callable[[], datetime] | None = None,
) -> Caller:
    """The caller a presented key stands for, given its row (None: unknown key id). A
    rotated key is refused from its ``expires_at`` on, compared with ``now()`` (the
    application's clock, read only for such a key) at each request."""
    if row is None:
        # Hash anyway so an unknown key id takes as long as a wrong secret.
        hmac.compare_digest(hash_key(presented), "0" * 64)
        raise Unauthenticated(REFUSAL)
    if not hmac.compare_digest(hash_key(presented), str(row["key_hash"])) or row["revoked"]:
        raise Unauthenticated(REFUSAL)
    expires_at = row.get("expires_at")  # ISO 8601 (projections.paging.plain), or None
    if expires_at is not None and (now is None or datetime.fromisoformat(expires_at) <= now()):
        raise Unauthenticated(REFUSAL)
    return Caller(project_id=UUID(str(row["project_id"])), key_id=key_id, mode=row["project_mode"])


class ApiKeyAuth(HTTPBearer):
    """The API-key scheme and the FastAPI dependency that authenticates with it, in one.

    An ``HTTPBearer`` for OpenAPI (the ``ApiKey`` scheme every project route names), whose
    call is the whole check: FastAPI solves one dependency per request where a
    ``require_caller`` depending on ``bearer`` was two (about 700 bytecodes of
    dependency solving per request, issue 16)."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        return await require_caller(request, await super().__call__(request))


async def require_caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The authenticated caller of ``credentials`` (the request's bearer, if any), or a
    401 problem."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(REFUSAL)
    presented = credentials.credentials.strip()
    key_id = check_key(presented)
    async with failures_counted(request):  # review finding 7
        row = await key_lookups(request).lookup(key_id)
        caller = verify(presented, key_id, row, get_tally(request).clock.now)
    assert row is not None  # verify refused an unknown key
    # Counted once the key is known to be the caller's (issue 14), before the route runs.
    await admit(request, "api_key", key_id, policy_for("api_key", row["rate_limits"]))
    request.state.caller = caller
    return caller


@dataclass(frozen=True)
class Writer:
    """An authenticated caller with its app's Tally: what a write route run on the event
    loop (``api.routes.common.run``) needs, from one dependency."""

    tally: Tally
    caller: Caller


class ApiKeyWriterAuth(ApiKeyAuth):
    """``ApiKeyAuth`` answering a ``Writer``: a route taking it needs no ``TallyDep``, a
    second dependency FastAPI solved at every request (about 900 bytecodes of a deposit
    on the loop's thread, issue 16). The same ``ApiKey`` scheme in OpenAPI."""

    async def __call__(self, request: Request) -> Writer:  # type: ignore[override]
        caller = await super().__call__(request)
        return Writer(get_tally(request), caller)


# Every project route names this scheme, through one of these two dependencies.
SCHEME: dict[str, Any] = {
    "auto_error": False,  # we raise our own problem document instead of FastAPI's 403
    "scheme_name": "ApiKey",
    "description": "A project API key: `Authorization: Bearer tly_<key_id>_<secret>`.",
}
api_key_auth = ApiKeyAuth(**SCHEME)
api_key_writer = ApiKeyWriterAuth(**SCHEME)

CallerDep = Annotated[Caller, Depends(api_key_auth)]
WriterDep = Annotated[Writer, Depends(api_key_writer)]
TallyDep = Annotated[Tally, Depends(tally_dependency)]
