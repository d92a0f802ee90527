"""API-key authentication: ``Authorization: Bearer tly_<key id>_<secret>``.

The key id selects the stored hash; the presented key is hashed and compared in constant
time. Every failure (missing, malformed, unknown, revoked, wrong secret) answers the same
401 ``unauthenticated``, so the answer never tells an attacker which part was right.
The key and the header are never logged.

Every request but a bus write reads its key when it arrives: from the ``api_keys``
read model, and, in the same statement, from the event log any revocation of the key
the read model has not applied yet (``projections.api_keys``). So a revoked key is
refused from the request after the revocation's commit, even while the projection
worker is stopped or stuck (issue 10). A key issued while the read model is behind is
refused until it has caught up. The read is made from the event loop (``KeyLookups``),
not from a threadpool thread, and lookups that wait at the same time share one query.

The write routes that run their command through the bus (``WriterDep``,
``api.routes.common.run``) take the key from the worker's cache instead
(``api.key_lookups.KeyCache``, filled by those lookups) and hand it with their command to the bus,
whose append confirms it under the event table's lock (``KeyCheck``): a batch holding a
command through a revoked key writes nothing, its commands run again one at a time and
that one is answered 401. An answer no append confirmed (a replay, a refusal, a command
that changed nothing) looks the key up before it is sent (``Writer.confirm``). So a
revocation still counts from its commit, for writes too (docs/architecture.md, Tenancy).

A rotated key (issue 14) is refused from its ``expires_at`` on, compared with the app's
clock at each request; then the request is counted against the key's rate-limit bucket
(``api.rate_limits``, the project's policy from the same row) before the route runs.
Operator keys (``api.operator_auth``) and customer tokens (``api.customer_auth``) have
dependencies of their own; none of them parses as a project key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import UNCONFIRMED
from api.key_lookups import KeyLookups
from api.rate_limits import admit, failures_counted
from api.tally import Tally
from commands.bus import Context
from commands.bus.key_check import KEY_REFUSAL, KeyCheck
from commands.projects import hash_key, split_key
from domain.errors import DomainError, Unauthenticated
from domain.rate_limits import policy_for

# Upper bound on a presented key, so that hashing a huge header costs nothing.
MAX_KEY_CHARS = 200

REFUSAL = KEY_REFUSAL


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


def presented_key(credentials: HTTPAuthorizationCredentials | None) -> tuple[str, str]:
    """The presented key and its key id, or 401 when there is none or it cannot be ours."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(REFUSAL)
    presented = credentials.credentials.strip()
    return presented, check_key(presented)


async def require_caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The authenticated caller of ``credentials`` (the request's bearer, if any), or a
    401 problem."""
    presented, key_id = presented_key(credentials)
    lookups = key_lookups(request)
    async with failures_counted(request):  # review finding 7
        row, caller = await looked_up(lookups, presented, key_id, get_tally(request).clock.now)
    return await admitted(request, caller, row)


async def looked_up(
    lookups: KeyLookups, presented: str, key_id: str, now: Callable[[], datetime]
) -> tuple[dict[str, Any], Caller]:
    """The key's row, read now, and its caller (else 401); the row is kept in the cache
    if the key holds, and dropped from it if not."""
    row = await lookups.lookup(key_id)
    try:
        caller = verify(presented, key_id, row, now)
    except Unauthenticated:
        lookups.cache.drop(key_id)
        raise
    assert row is not None  # verify refused an unknown key
    lookups.cache.keep(key_id, row)
    return row, caller


async def admitted(request: Request, caller: Caller, row: dict[str, Any]) -> Caller:
    """The verified caller, once its request is counted against its key's rate limit
    (issue 14), before the route runs."""
    await admit(request, "api_key", caller.key_id, policy_for("api_key", row["rate_limits"]))
    request.state.caller = caller
    return caller


@dataclass(frozen=True)
class Writer:
    """An authenticated caller with its app's Tally: what a write route run on the event
    loop (``api.routes.common.run``) needs, from one dependency. When the key came from
    the cache, ``check`` is what the command's append must confirm, and ``confirm`` looks
    the key up for an answer no append confirmed."""

    tally: Tally
    caller: Caller
    check: KeyCheck | None = None
    lookups: KeyLookups | None = field(default=None, repr=False)
    presented: str = field(default="", repr=False)

    def context(self, idempotency_key: str | None) -> Context:
        caller = self.caller
        return Context(caller.project_id, caller.key_id, idempotency_key, key_check=self.check)

    async def confirm(self) -> None:
        """401 unless the key still holds, read now (nothing to do when it was read for
        this request already)."""
        if self.check is not None and self.lookups is not None:
            now = self.tally.clock.now
            await looked_up(self.lookups, self.presented, self.caller.key_id, now)

    def refused(self) -> None:
        """The append refused the key (401): it leaves the cache, so that the next
        request through it is refused by a lookup rather than by another failed batch."""
        if self.lookups is not None:
            self.lookups.cache.drop(self.caller.key_id)


class ApiKeyWriterAuth(ApiKeyAuth):
    """``ApiKeyAuth`` answering a ``Writer``, with the key from the worker's cache when it
    is there (see the module's docstring): a route taking it needs no ``TallyDep``, a
    second dependency FastAPI solved at every request (about 900 bytecodes of a deposit
    on the loop's thread, issue 16). The same ``ApiKey`` scheme in OpenAPI."""

    async def __call__(self, request: Request) -> Writer:  # type: ignore[override]
        presented, key_id = presented_key(await HTTPBearer.__call__(self, request))
        tally = get_tally(request)
        lookups = key_lookups(request)
        row = lookups.cache.get(key_id)
        check: KeyCheck | None = None
        async with failures_counted(request):  # review finding 7
            if row is None:
                row, caller = await looked_up(lookups, presented, key_id, tally.clock.now)
            else:
                valid_at = tally.clock.now()
                caller = verify(presented, key_id, row, lambda: valid_at)
                check = KeyCheck(key_id, caller.project_id, valid_at)
        writer = Writer(tally, caller, check, lookups, presented)
        if check is None:
            await admitted(request, caller, row)
            return writer
        try:
            await admitted(request, caller, row)
        except DomainError:
            # A 429 tells the caller its key held: only once a lookup says it still does.
            await writer.confirm()
            raise
        # FastAPI checks the body after this dependency: an answer that is not the
        # route's (a 422) confirms the key from here (``api.errors``, ``confirm_key``).
        # In the scope itself: ``request.state`` would build a ``State`` per request.
        request.scope[UNCONFIRMED] = writer
        return writer


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
